package delivery

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

func (e *env) hasTombstone(chatID, msgID string) bool {
	rows, err := e.store.GetMessagePosts(context.Background(), chatID, msgID)
	require.NoError(e.t, err)
	for _, r := range rows {
		if r.MMUserID == "" {
			return true
		}
	}
	return false
}

// Only Graph's word deletes: a deleted change for a message Graph still has (a forged, replayed or mistaken
// notification, or content claiming a deletion) leaves the DM as it is.
func TestADeleteIsConfirmedWithGraphBeforeTheDMChanges(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "<p>still here</p>")
	require.NoError(t, e.notify("created", chatID, msgID))
	original := e.dms(bob)[0].Message

	t.Run("plain deleted notification of a live message", func(t *testing.T) {
		e.sim.ResetCalls()
		require.NoError(t, e.notify("deleted", chatID, msgID))
		require.Len(t, e.dms(bob), 1)
		assert.Equal(t, original, e.dms(bob)[0].Message)
		assert.Equal(t, 1, e.sim.CallCount(routeGetMessage), "Graph was asked")
		assert.Equal(t, 1, e.metrics.skips(SkipNotDeleted))
		assert.False(t, e.hasTombstone(chatID, msgID), "a later edit still reaches the DM")
	})
	t.Run("change carrying content that claims a deletion", func(t *testing.T) {
		raw, ok := e.sim.MessageJSON(chatID, msgID)
		require.True(t, ok)
		msg, err := graph.MessageFromJSON(raw)
		require.NoError(t, err)
		msg.DeletedAt = time.Now()
		forged, err := encodeMessage(msg)
		require.NoError(t, err)
		require.NoError(t, e.process(inbox.Change{ChangeType: "updated", ChatID: chatID, MessageID: msgID, Message: forged}))
		require.NoError(t, e.process(inbox.Change{ChangeType: "deleted", ChatID: chatID, MessageID: msgID, Message: forged}))
		assert.Equal(t, original, e.dms(bob)[0].Message)
		assert.Equal(t, 3, e.metrics.skips(SkipNotDeleted))
	})
	t.Run("the message is edited afterwards: the DM follows", func(t *testing.T) {
		require.NoError(t, e.sim.EditMessage(chatID, msgID, "<p>still here, edited</p>"))
		require.NoError(t, e.notify("updated", chatID, msgID))
		assert.Contains(t, e.dms(bob)[0].Message, "still here, edited")
	})
	t.Run("real delete", func(t *testing.T) {
		require.NoError(t, e.sim.DeleteMessage(chatID, msgID))
		require.NoError(t, e.notify("deleted", chatID, msgID))
		require.Len(t, e.dms(bob), 1)
		assert.True(t, strings.HasSuffix(e.dms(bob)[0].Message, "\n\n"+deletedNote), e.dms(bob)[0].Message)
		assert.True(t, e.hasTombstone(chatID, msgID))
	})
	t.Run("message Graph no longer knows", func(t *testing.T) {
		// A DM of a message Graph answers 404 for (delivered from catch-up content, then purged in Teams).
		raw, ok := e.sim.MessageJSON(chatID, e.send(chatID, alice, "<p>gone soon</p>"))
		require.True(t, ok)
		msg, err := graph.MessageFromJSON(raw)
		require.NoError(t, err)
		msg.ID = "1111111111111"
		content, err := encodeMessage(msg)
		require.NoError(t, err)
		require.NoError(t, e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: msg.ID, Message: content, Source: inbox.SourceCatchup}))
		require.Len(t, e.dms(bob), 2)
		require.NoError(t, e.notify("deleted", chatID, msg.ID))
		assert.True(t, strings.HasSuffix(e.dms(bob)[1].Message, "\n\n"+deletedNote), e.dms(bob)[1].Message)
	})
}

// A reaction or edit on an old message is an "updated" change like any other; it must not deliver a message
// its recipient never had because it predates their connection or the delivery records' retention.
func TestUpdatesOfOldMessagesDoNotDeliverThemAsNew(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	ctx := context.Background()
	connect := func(p person, at time.Time) {
		require.NoError(t, e.store.SaveConnection(ctx, store.Connection{MMUserID: p.mmID, TeamsUserID: p.teamsID,
			Token: []byte("sealed"), TokenKeyID: "k", ConnectedAt: at}))
	}
	connect(bob, time.Now().Add(-60*24*time.Hour))
	connect(carol, time.Now().Add(-30*time.Minute))
	chatID := e.chat("group", "Old", alice, bob, carol)
	// Messages in age order (graphsim's ids only grow), the oldest first.
	sendAged := func(age time.Duration, text string) string {
		e.simShift.Store(int64(-age))
		defer e.simShift.Store(0)
		return e.send(chatID, alice, "<p>"+text+"</p>")
	}
	beyondRetention := sendAged(PostsRetention+24*time.Hour, "31 days old")
	withinRetention := sendAged(PostsRetention-24*time.Hour, "29 days old")
	beforeCarol := sendAged(time.Hour, "an hour old")
	recent := e.send(chatID, alice, "<p>just now</p>")

	tests := []struct {
		name          string
		msgID         string
		edit          bool
		bobDM, carDM  bool
		oldSkipsAdded int
	}{
		{"reaction beyond retention", beyondRetention, false, false, false, 2},
		{"edit beyond retention", beyondRetention, true, false, false, 2},
		{"reaction within retention, before carol connected", withinRetention, false, true, false, 1},
		{"edit before carol connected", beforeCarol, true, true, false, 1},
		{"reaction on a message both could have had", recent, false, true, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bobBefore, carolBefore, skipsBefore := len(e.dms(bob)), len(e.dms(carol)), e.metrics.skips(SkipOldMessage)
			if tt.edit {
				require.NoError(t, e.sim.EditMessage(chatID, tt.msgID, "<p>edited</p>"))
			} else {
				require.NoError(t, e.sim.React(chatID, tt.msgID, bob.teamsID, "like"))
			}
			require.NoError(t, e.notify("updated", chatID, tt.msgID))
			assert.Equal(t, bobBefore+boolInt(tt.bobDM), len(e.dms(bob)), "bob")
			assert.Equal(t, carolBefore+boolInt(tt.carDM), len(e.dms(carol)), "carol")
			assert.Equal(t, skipsBefore+tt.oldSkipsAdded, e.metrics.skips(SkipOldMessage))
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Two nodes share the database; node A sees the removal (its system message), and node B's cached members,
// read before it, must not deliver the chat's next message to the removed member.
func TestARemovedMemberGetsNothingMoreOnAnyNode(t *testing.T) {
	e := newEnv(t)
	nodeB := e.otherNode()
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Team", alice, bob, carol)

	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "<p>one</p>")))
	require.NoError(t, e.processOn(nodeB, inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: e.send(chatID, alice, "<p>two</p>")}))
	require.Len(t, e.dms(carol), 2)
	assert.Equal(t, 2, e.sim.CallCount("GET /chats/{id}"), "each node read and cached the members once")

	sysID, err := e.sim.RemoveMember(chatID, carol.teamsID)
	require.NoError(t, err)
	require.NoError(t, e.notify("created", chatID, sysID)) // node A
	assert.Equal(t, 1, e.metrics.skips(SkipSystemMessage))

	require.NoError(t, e.processOn(nodeB, inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: e.send(chatID, alice, "<p>three</p>")}))
	assert.Len(t, e.dms(carol), 2, "carol was removed: nothing more for her")
	assert.Len(t, e.dms(bob), 3)
	assert.Equal(t, 3, e.sim.CallCount("GET /chats/{id}"), "node B read the members again")

	require.NoError(t, e.processOn(nodeB, inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: e.send(chatID, alice, "<p>four</p>")}))
	assert.Equal(t, 3, e.sim.CallCount("GET /chats/{id}"), "and caches them again until the next change")
	assert.Len(t, e.dms(carol), 2)
}
