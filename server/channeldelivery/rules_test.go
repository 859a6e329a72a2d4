package channeldelivery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// richJSON is a channel message as Graph's rich notification content carries it.
func richJSON(w *world, id string, from person, html string, mentioned person) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"messageType":"message","createdDateTime":%q,
		"from":{"user":{"id":%q,"displayName":"ada Example","userIdentityType":"aadUser","tenantId":%q}},
		"body":{"contentType":"html","content":%q},
		"mentions":[{"id":0,"mentionText":%q,"mentioned":{"user":{"id":%q,"displayName":"x"}}}],
		"channelIdentity":{"teamId":%q,"channelId":%q}}`,
		id, time.Now().UTC().Format(time.RFC3339Nano), from.teamsID, testTenant, html, mentioned.name, mentioned.teamsID, w.team, w.channel))
}

func TestRichContentSparesTheFetch(t *testing.T) {
	w := newWorld(t)
	id, err := w.sim.SendChannelMessage(w.team, w.channel, graphsim.NewMessage{From: w.ada.teamsID, HTML: `<at id="0">bob</at> rich`, Mentions: []graphsim.Mention{mention(w.bob)}})
	require.NoError(t, err)
	w.decrypter.set(richJSON(w, id, w.ada, `<at id="0">bob</at> rich`, w.bob))
	require.NoError(t, w.process(inbox.ChannelChange{ChangeType: "created", TeamID: w.team, ChannelID: w.channel, MessageID: id,
		Encrypted: &richnotify.EncryptedContent{Data: "x"}}))
	require.Len(t, w.dms(w.bob), 1)
	assert.Contains(t, w.dms(w.bob)[0].Message, "rich")
	assert.Zero(t, w.graph.get("GetChannelMessage"), "the content came with the notification")

	// Content that cannot be opened: the message is fetched instead.
	w.decrypter.set(nil)
	id2, err := w.sim.SendChannelMessage(w.team, w.channel, graphsim.NewMessage{From: w.ada.teamsID, HTML: `<at id="0">bob</at> fetched`, Mentions: []graphsim.Mention{mention(w.bob)}})
	require.NoError(t, err)
	require.NoError(t, w.process(inbox.ChannelChange{ChangeType: "created", TeamID: w.team, ChannelID: w.channel, MessageID: id2,
		Encrypted: &richnotify.EncryptedContent{Data: "x"}}))
	require.Len(t, w.dms(w.bob), 2)
	assert.Equal(t, 1, w.graph.get("GetChannelMessage"))
}

func TestChatRulesApply(t *testing.T) {
	w := newWorld(t)
	w.mm.SetPref(w.cy.mmID, "pp_com.mattermost.msteams-sync", "notifications", "off")
	require.NoError(t, w.sim.SetPresence(w.dan.teamsID, graphsim.Presence{Availability: "Available", Activity: "Available"}))
	id := w.send(w.channel, w.ada, `<at id="0">bob</at> <at id="1">cy</at> <at id="2">dan</at> standup`,
		mention(w.bob), graphsim.Mention{ID: 1, MentionText: "cy", UserID: w.cy.teamsID}, graphsim.Mention{ID: 2, MentionText: "dan", UserID: w.dan.teamsID})

	assert.Len(t, w.dms(w.bob), 1)
	assert.Empty(t, w.dms(w.cy), "notifications off")
	assert.Empty(t, w.dms(w.dan), "active in Teams: Teams tells them itself")
	rows, err := w.store.GetMessagePosts(context.Background(), w.team+"/"+w.channel, id)
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, r := range rows {
		if r.State == store.PostSkipped {
			reasons[r.MMUserID] = r.Reason
		}
	}
	assert.Equal(t, map[string]string{w.cy.mmID: delivery.SkipNotificationsOff, w.dan.mmID: delivery.SkipActiveInTeams}, reasons,
		"final for the message, as in chats")
}

func TestReplyEditAndDelete(t *testing.T) {
	w := newWorld(t)
	root := w.send(w.channel, w.bob, "Question")
	id := w.reply(w.channel, root, w.ada, "first answer")
	require.NoError(t, w.sim.EditChannelMessage(w.team, w.channel, id, "better answer"))
	w.notify("updated", w.team, w.channel, id, root)
	dms := w.dms(w.bob)
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0].Message, "better answer")
	assert.Contains(t, dms[0].Message, "Thread: **Question**")

	require.NoError(t, w.sim.DeleteChannelMessage(w.team, w.channel, id))
	w.notify("deleted", w.team, w.channel, id, root)
	assert.Contains(t, w.dms(w.bob)[0].Message, "This message was deleted in Teams.")
}

func TestUpdateOfOldMessageOnlyEditsDMs(t *testing.T) {
	w := newWorld(t)
	id := w.send(w.channel, w.ada, `<at id="0">bob</at> v1`, mention(w.bob))
	w.proc.o.Now = func() time.Time { return time.Now().Add(2 * time.Hour) } // past UpdateWindow
	require.NoError(t, w.sim.EditChannelMessage(w.team, w.channel, id, `<at id="0">bob</at> v2`))
	w.notify("updated", w.team, w.channel, id, "")
	require.Len(t, w.dms(w.bob), 1)
	assert.Contains(t, w.dms(w.bob)[0].Message, "v2")
	assert.Contains(t, w.dms(w.bob)[0].Message, "You get this because they mentioned you.", "the header is kept")
}

func TestReplyDeleteWithoutRootIsConfirmed(t *testing.T) {
	w := newWorld(t)
	root := w.send(w.channel, w.bob, "Question")
	id := w.reply(w.channel, root, w.ada, "answer")
	require.Len(t, w.dms(w.bob), 1)
	// A change naming the reply without its root: the reply is still there, so its DM stays.
	w.notify("deleted", w.team, w.channel, id, "")
	assert.Contains(t, w.dms(w.bob)[0].Message, "answer")
	require.NoError(t, w.sim.DeleteChannelMessage(w.team, w.channel, id))
	w.notify("deleted", w.team, w.channel, id, "")
	assert.Contains(t, w.dms(w.bob)[0].Message, "This message was deleted in Teams.")
}
