package delivery

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/store"
)

func TestChoiceRule(t *testing.T) {
	all, mentionsOnly := store.ChatChoice{Mode: store.ModeAll}, store.ChatChoice{Mode: store.ModeMentions}
	tests := []struct {
		name      string
		choice    store.ChatChoice
		chatType  string
		mentioned bool
		want      string
	}{
		{"no choice delivers", store.ChatChoice{}, "group", false, ""},
		{"all messages in a group chat", all, "group", false, ""},
		{"muted 1:1 chat", store.ChatChoice{Muted: true, Mode: store.ModeAll}, "oneOnOne", true, SkipMuted},
		{"muted wins over a mention", store.ChatChoice{Muted: true, Mode: store.ModeMentions}, "group", true, SkipMuted},
		{"mentions only, group chat, not mentioned", mentionsOnly, "group", false, SkipNotMentioned},
		{"mentions only, group chat, mentioned", mentionsOnly, "group", true, ""},
		{"mentions only, meeting chat, not mentioned", mentionsOnly, "meeting", false, SkipNotMentioned},
		{"mentions only, 1:1 chat always delivers", mentionsOnly, "oneOnOne", false, ""},
		{"mentions only, chat of unknown type counts as a group", mentionsOnly, "", false, SkipNotMentioned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, choiceSkip(tt.choice, tt.chatType, tt.mentioned))
		})
	}
}

func TestMentionsOfARecipient(t *testing.T) {
	msg := graph.Message{ChatID: "19:chat@thread.v2", Mentions: []graph.Mention{{UserID: "AAAA-1"}}}
	assert.True(t, mentions(msg, "aaaa-1"), "ids compare without case")
	assert.False(t, mentions(msg, "bbbb-2"))
	msg.Mentions = append(msg.Mentions, graph.Mention{ConversationID: "19:chat@thread.v2"})
	assert.True(t, mentions(msg, "bbbb-2"), "a mention of the whole chat mentions everyone in it")
	msg.Mentions = []graph.Mention{{ConversationID: "19:other@thread.v2"}}
	assert.False(t, mentions(msg, "bbbb-2"), "another conversation is not this chat")
}

// countingChoices counts the queries delivery makes for recipients' choices.
type countingChoices struct {
	Choices
	calls atomic.Int64
}

func (c *countingChoices) ChatChoices(ctx context.Context, chatID string, ids []string) (map[string]store.ChatChoice, error) {
	c.calls.Add(1)
	return c.Choices.ChatChoices(ctx, chatID, ids)
}

func TestMutedChatDeliversNothingUntilUnmuted(t *testing.T) {
	e := newEnv(t)
	counter := &countingChoices{Choices: e.store}
	e.proc.d.Choices = counter
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Launch", alice, bob, carol)
	ctx := context.Background()

	first := e.send(chatID, alice, "<p>before muting</p>")
	require.NoError(t, e.notify("created", chatID, first))
	require.Len(t, e.dms(bob), 1)

	require.NoError(t, e.store.MuteChat(ctx, store.MutedChat{MMUserID: bob.mmID, ChatID: chatID, Title: "Launch", MutedAt: time.Now()}))
	muted := e.send(chatID, alice, "<p>while muted</p>")
	require.NoError(t, e.notify("created", chatID, muted))
	assert.Len(t, e.dms(bob), 1, "bob muted the chat")
	assert.Len(t, e.dms(carol), 2, "carol did not")
	assert.Equal(t, 1, e.metrics.skips(SkipMuted))
	rows, err := e.store.GetMessagePosts(ctx, chatID, muted)
	require.NoError(t, err)
	reasons := map[string]string{}
	for _, r := range rows {
		reasons[r.MMUserID] = r.Reason
	}
	assert.Equal(t, SkipMuted, reasons[bob.mmID], "recorded as final, like notifications off")

	// An edit of a message bob already has still reaches his DM.
	require.NoError(t, e.sim.EditMessage(chatID, first, "<p>before muting, edited</p>"))
	require.NoError(t, e.notify("updated", chatID, first))
	assert.Contains(t, e.dms(bob)[0].Message, "before muting, edited")

	ok, err := e.store.UnmuteChat(ctx, bob.mmID, chatID)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, e.notify("created", chatID, muted))
	assert.Len(t, e.dms(bob), 1, "a message skipped while muted stays skipped")
	after := e.send(chatID, alice, "<p>after unmuting</p>")
	require.NoError(t, e.notify("created", chatID, after))
	require.Len(t, e.dms(bob), 2)
	assert.Contains(t, e.dms(bob)[1].Message, "after unmuting")

	// Five changes: the four "created" ones asked once each (two recipients every time); the edit, whose
	// recipients all had the message already, asked nothing.
	assert.Equal(t, int64(4), counter.calls.Load(), "one query per change, not per recipient")
}

func TestMentionsOnlyMode(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	ctx := context.Background()
	require.NoError(t, e.store.SetMessageMode(ctx, bob.mmID, store.ModeMentions))
	group := e.chat("group", "Launch", alice, bob, carol)
	direct := e.chat("oneOnOne", "", alice, bob)

	plain := e.send(group, alice, "<p>status update</p>")
	require.NoError(t, e.notify("created", group, plain))
	assert.Empty(t, e.dms(bob), "not mentioned in a group chat")
	assert.Len(t, e.dms(carol), 1, "carol wants everything")
	assert.Equal(t, 1, e.metrics.skips(SkipNotMentioned))

	mention, err := e.sim.SendMessage(group, graphsim.NewMessage{
		From: alice.teamsID, HTML: `<p><at id="0">Bob</at> can you look?</p>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Bob", UserID: bob.teamsID}},
	})
	require.NoError(t, err)
	require.NoError(t, e.notify("created", group, mention))
	require.Len(t, e.dms(bob), 1)
	assert.Contains(t, e.dms(bob)[0].Message, "can you look?")

	oneOnOne := e.send(direct, alice, "<p>just us</p>")
	require.NoError(t, e.notify("created", direct, oneOnOne))
	require.Len(t, e.dms(bob), 2, "1:1 chats deliver in full")
	assert.Contains(t, e.dms(bob)[1].Message, "just us")

	require.NoError(t, e.store.SetMessageMode(ctx, bob.mmID, store.ModeAll))
	again := e.send(group, alice, "<p>another update</p>")
	require.NoError(t, e.notify("created", group, again))
	assert.Len(t, e.dms(bob), 3, "back to all messages")
}

func TestCatchUpSummariesLeaveOutMutedChats(t *testing.T) {
	e := newEnv(t)
	alice := e.addPerson("alice", notConnected())
	bob, carol := e.addPerson("bob"), e.addPerson("carol")
	direct := e.chat("oneOnOne", "", alice, bob)
	group := e.chat("group", "Ops", alice, bob, carol)
	require.NoError(t, e.store.MuteChat(context.Background(), store.MutedChat{MMUserID: bob.mmID, ChatID: group, MutedAt: time.Now()}))

	e.simShift.Store(int64(-30 * time.Hour))
	e.send(direct, alice, "old direct")
	e.send(group, alice, "old group")
	e.simShift.Store(0)

	require.NoError(t, e.proc.CatchUp(context.Background(), time.Now().Add(-48*time.Hour)))
	bobDMs := e.dms(bob)
	require.Len(t, bobDMs, 1)
	assert.True(t, strings.HasPrefix(bobDMs[0].Message, "1 older Teams message from **alice Example**"), "only the 1:1 message: %s", bobDMs[0].Message)
	carolDMs := e.dms(carol)
	require.Len(t, carolDMs, 1, "carol did not mute the group chat")
}
