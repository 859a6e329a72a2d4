package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reply sent from Mattermost (package reply) is the replier's own Teams message: the chat's change
// notification brings it here like any other. The replier must not get it back as a DM; the other connected
// members must.
func TestTheRepliersOwnMessageIsNotDMdBackOthersGetIt(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Launch", alice, bob, carol)
	first := e.send(chatID, bob, "<p>Ship it?</p>")
	require.NoError(t, e.notify("created", chatID, first))
	require.Len(t, e.dms(alice), 1)

	// alice answers from Mattermost: Teams records her message as sent by her.
	reply := e.send(chatID, alice, "<p>Yes, <strong>today</strong></p>")
	require.NoError(t, e.notify("created", chatID, reply))

	assert.Len(t, e.dms(alice), 1, "no echo of alice's own reply")
	require.Len(t, e.dms(bob), 1)
	assert.Contains(t, e.dms(bob)[0].Message, "Yes, **today**")
	require.Len(t, e.dms(carol), 2)
	assert.Contains(t, e.dms(carol)[1].Message, "Yes, **today**")
}

func TestLaterDMsContinueTheThreadTheUserAnsweredIn(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Launch", alice, bob, carol)
	first := e.send(chatID, bob, "<p>Ship it?</p>")
	require.NoError(t, e.notify("created", chatID, first))
	root := e.dms(alice)[0]
	// alice replied in the thread of that DM (package reply records it).
	require.NoError(t, e.store.SaveReplyThread(ctx, chatID, alice.mmID, root.Id, time.Now()))

	next := e.send(chatID, bob, "<p>Great, thanks</p>")
	require.NoError(t, e.notify("created", chatID, next))

	dms := e.dms(alice)
	require.Len(t, dms, 2)
	assert.Equal(t, root.Id, dms[1].RootId, "alice's DM continues her thread")
	require.Len(t, e.dms(carol), 2)
	assert.Empty(t, e.dms(carol)[1].RootId, "carol never answered: her DMs stay top-level")

	// alice deleted the thread's root: the next DM goes on its own and the thread is forgotten.
	e.mm.DeletePost(root.Id)
	third := e.send(chatID, bob, "<p>Anyone?</p>")
	require.NoError(t, e.notify("created", chatID, third))
	dms = e.dms(alice)
	require.Len(t, dms, 2, "the root is gone; the reply under it and the new DM remain")
	assert.Empty(t, dms[1].RootId)
	assert.Contains(t, dms[1].Message, "Anyone?")
	threads, err := e.store.ReplyThreads(ctx, chatID, []string{alice.mmID})
	require.NoError(t, err)
	assert.Empty(t, threads)
}
