package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
)

const routeGetMessage = "GET /chats/{id}/messages/{id}"

func TestOneOnOneMessageReachesTheOtherMember(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "<p>Lunch at <b>noon</b>?</p>")

	require.NoError(t, e.notify("created", chatID, msgID))

	dms := e.dms(bob)
	require.Len(t, dms, 1)
	post := dms[0]
	head, body, _ := strings.Cut(post.Message, "\n\n")
	raw, ok := e.sim.MessageJSON(chatID, msgID)
	require.True(t, ok)
	msg, err := graph.MessageFromJSON(raw)
	require.NoError(t, err)
	require.NotEmpty(t, msg.WebURL)
	assert.Equal(t, "**alice Example** sent you a message in a Teams chat · [Open in Teams]("+msg.WebURL+")", head)
	assert.Equal(t, "Lunch at **noon**?", body)
	assert.Equal(t, botID, post.UserId)
	assert.Equal(t, chatID, post.GetProp(PropChatID))
	assert.Equal(t, msgID, post.GetProp(PropMessageID))
	assert.Equal(t, "true", post.GetProp(PropFromBot))
	assert.Equal(t, "true", post.GetProp(format.PropRemoveLinkPreview))
	assert.Empty(t, e.dms(alice), "the sender is never notified of their own message")
	assert.Equal(t, 1, e.metrics.delivered)

	u, err := e.store.GetUser(context.Background(), bob.mmID)
	require.NoError(t, err)
	assert.False(t, u.LastDeliveredAt.IsZero(), "the per-user cursor moves")
}

func TestGroupMessageReachesOnlyEligibleMembers(t *testing.T) {
	e := newEnv(t)
	alice := e.addPerson("alice")
	bob, carol := e.addPerson("bob"), e.addPerson("carol")
	dave := e.addPerson("dave", notConnected())
	erin := e.addPerson("erin", notificationsOff())
	frank := e.addPerson("frank", deactivated())
	grace, heidi := e.addPerson("grace"), e.addPerson("heidi")
	require.NoError(t, e.sim.SetPresence(grace.teamsID, graphsim.Presence{Availability: "Busy", Activity: "InACall"}))
	require.NoError(t, e.sim.SetPresence(heidi.teamsID, graphsim.Presence{Availability: "Away", Activity: "Away"}))
	require.NoError(t, e.sim.SetPresence(carol.teamsID, graphsim.Presence{Availability: "Available", Activity: "OffWork"}))
	chatID := e.chat("group", "Launch <plan>", alice, bob, carol, dave, erin, frank, grace, heidi)
	msgID := e.send(chatID, alice, "<p>Ship it</p>")

	require.NoError(t, e.notify("created", chatID, msgID))

	for _, p := range []person{bob, carol, heidi} {
		dms := e.dms(p)
		require.Len(t, dms, 1, p.name)
		assert.True(t, strings.HasPrefix(dms[0].Message, `**alice Example** wrote in the Teams group chat **Launch <plan>** (8 members) · [Open in Teams](`), dms[0].Message)
		assert.True(t, strings.HasSuffix(dms[0].Message, "\n\nShip it"), dms[0].Message)
	}
	for _, p := range []person{alice, erin, frank, grace} {
		assert.Empty(t, e.dms(p), p.name)
	}
	assert.Equal(t, 0, e.mm.TotalPosts()-3, "nobody else got anything (dave is not connected)")
	assert.Equal(t, 1, e.metrics.skips(SkipNotificationsOff))
	assert.Equal(t, 1, e.metrics.skips(SkipActiveInTeams))
	assert.Equal(t, 1, e.metrics.skips(SkipInactiveUser))

	// The decisions are final: a repeat does not notify grace now that she is away.
	require.NoError(t, e.sim.SetPresence(grace.teamsID, graphsim.Presence{Availability: "Away", Activity: "Away"}))
	require.NoError(t, e.notify("created", chatID, msgID))
	assert.Empty(t, e.dms(grace))
	assert.Equal(t, 3, e.mm.TotalPosts())
}

func TestMentionsResolveToUsernamesAndNeverNotifyEveryone(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("group", "Team", alice, bob, e.addPerson("carol"))
	msgID, err := e.sim.SendMessage(chatID, graphsim.NewMessage{
		From: alice.teamsID, HTML: `<p><at id="0">Bob</at> see this @all @channel (@here)</p>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Bob", UserID: bob.teamsID}},
	})
	require.NoError(t, err)

	require.NoError(t, e.notify("created", chatID, msgID))

	dms := e.dms(bob)
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0].Message, "@bob see this")
	for _, word := range []string{"@all", "@channel", "@here"} {
		assert.NotContains(t, dms[0].Message, word)
	}
	assert.Contains(t, dms[0].Message, "@\u2060all")
}

func TestSenderNamesCannotInjectMarkdownOrMentions(t *testing.T) {
	e := newEnv(t)
	bob := e.addPerson("bob")
	require.NoError(t, e.sim.AddUser(graphsim.User{ID: "evil0000-1111-4111-8111-000000000000", TenantID: testTenant, DisplayName: "@all [click](http://x)"}))
	evil := person{name: "evil", teamsID: "evil0000-1111-4111-8111-000000000000"}
	chatID := e.chat("oneOnOne", "", evil, bob)
	require.NoError(t, e.notify("created", chatID, e.send(chatID, evil, "hi")))

	dms := e.dms(bob)
	require.Len(t, dms, 1)
	assert.True(t, strings.HasPrefix(dms[0].Message, "**@\u2060all \\[click\\](http://x)** sent you"), dms[0].Message)
}

func TestSyncNotificationsOffConsumesChangesWithoutPosting(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "hello")
	e.setSync(false)
	e.sim.ResetCalls()

	require.NoError(t, e.notify("created", chatID, msgID))

	assert.Empty(t, e.dms(bob))
	assert.Zero(t, e.sim.GraphCalls(""), "no Graph call for a change that will not be delivered")
	assert.Equal(t, 1, e.metrics.skips(SkipSyncDisabled))
}

func TestBotAndSystemMessagesAreSkipped(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("group", "Team", alice, bob, e.addPerson("carol"))

	sysID, err := e.sim.SendMessage(chatID, graphsim.NewMessage{MessageType: "systemEventMessage",
		EventDetail: map[string]any{"@odata.type": "#microsoft.graph.membersAddedEventMessageDetail"}})
	require.NoError(t, err)
	require.NoError(t, e.notify("created", chatID, sysID))
	assert.Equal(t, 1, e.metrics.skips(SkipSystemMessage))

	botJSON := `{"id":"1700000000001","chatId":"` + chatID + `","messageType":"message","createdDateTime":"2026-01-01T00:00:00Z",
		"from":{"application":{"@odata.type":"#microsoft.graph.teamworkApplicationIdentity","id":"app1","displayName":"Build bot","applicationIdentityType":"bot"}},
		"body":{"contentType":"html","content":"build green"}}`
	require.NoError(t, e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: "1700000000001",
		Message: []byte(botJSON), Source: inbox.SourceCatchup}))
	assert.Equal(t, 1, e.metrics.skips(SkipBotSender))
	assert.Zero(t, e.mm.TotalPosts())
}

func TestDuplicateAndReorderedNotificationsGiveOneDMEach(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Team", alice, bob, carol)
	first := e.send(chatID, alice, "first")
	second := e.send(chatID, alice, "second")
	require.NoError(t, e.sim.React(chatID, second, bob.teamsID, "like"))

	require.NoError(t, e.notify("created", chatID, first))
	require.NoError(t, e.notify("created", chatID, first))
	// The reaction's update arrives before the message's creation.
	require.NoError(t, e.notify("updated", chatID, second))
	require.NoError(t, e.notify("created", chatID, second))
	require.NoError(t, e.notify("created", chatID, second))

	for _, p := range []person{bob, carol} {
		dms := e.dms(p)
		require.Len(t, dms, 2, p.name)
		assert.True(t, strings.HasSuffix(dms[0].Message, "\n\nfirst"))
		assert.True(t, strings.HasSuffix(dms[1].Message, "\n\nsecond"))
	}
	assert.Zero(t, e.mm.Calls("UpdatePost"))
}

func TestEditsReactionsAndDeletesReachTheDM(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "<p>meet at 3</p>")
	require.NoError(t, e.notify("created", chatID, msgID))
	original := e.dms(bob)[0].Message

	// A reaction bumps lastModifiedDateTime only: the DM stays as it is.
	require.NoError(t, e.sim.React(chatID, msgID, bob.teamsID, "like"))
	require.NoError(t, e.notify("updated", chatID, msgID))
	assert.Equal(t, original, e.dms(bob)[0].Message)
	assert.Zero(t, e.mm.Calls("UpdatePost"))
	assert.Equal(t, 1, e.metrics.skips(SkipUnchanged))

	require.NoError(t, e.sim.EditMessage(chatID, msgID, "<p>meet at 4</p>"))
	require.NoError(t, e.notify("updated", chatID, msgID))
	dms := e.dms(bob)
	require.Len(t, dms, 1)
	head, _, _ := strings.Cut(original, "\n\n")
	assert.Equal(t, head+"\n\nmeet at 4\n\n*(edited)*", dms[0].Message)
	assert.Equal(t, 1, e.mm.Calls("UpdatePost"))

	// The same edit notified again changes nothing.
	require.NoError(t, e.notify("updated", chatID, msgID))
	assert.Equal(t, 1, e.mm.Calls("UpdatePost"))

	require.NoError(t, e.sim.DeleteMessage(chatID, msgID))
	e.sim.ResetCalls()
	require.NoError(t, e.notify("deleted", chatID, msgID))
	dms = e.dms(bob)
	require.Len(t, dms, 1)
	assert.Equal(t, head+"\n\n"+deletedNote, dms[0].Message)
	assert.Equal(t, 1, e.sim.CallCount(routeGetMessage), "a delete is confirmed with Graph")

	// A late creation notification (with the content as it was) must not bring it back.
	raw, ok := e.sim.MessageJSON(chatID, msgID)
	require.True(t, ok)
	require.NoError(t, e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: msgID, Message: raw}))
	require.Len(t, e.dms(bob), 1)
	assert.Equal(t, head+"\n\n"+deletedNote, e.dms(bob)[0].Message)
}

func TestUpdateOfAnUndeliveredMessageDeliversItsCurrentState(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "draft")
	require.NoError(t, e.sim.EditMessage(chatID, msgID, "final"))

	require.NoError(t, e.notify("updated", chatID, msgID))
	require.NoError(t, e.notify("created", chatID, msgID))

	dms := e.dms(bob)
	require.Len(t, dms, 1)
	assert.True(t, strings.HasSuffix(dms[0].Message, "\n\nfinal\n\n*(edited)*"), dms[0].Message)
}

func TestDeletedBeforeDeliveryIsNeverDelivered(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "oops")
	require.NoError(t, e.sim.DeleteMessage(chatID, msgID))

	require.NoError(t, e.notify("created", chatID, msgID)) // the fetch shows it deleted
	require.NoError(t, e.notify("deleted", chatID, msgID))
	assert.Empty(t, e.dms(bob))
	assert.Equal(t, 2, e.metrics.skips(SkipDeletedBefore))
}

func TestRichContentIsUsedWithoutFetchingTheMessage(t *testing.T) {
	e := newEnv(t)
	feed := e.subscribeRich()
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	e.sim.ResetCalls()
	e.send(chatID, alice, "<p>rich hello</p>")

	changes := feed.wait(t, 1)
	require.NotNil(t, changes[0].Encrypted, "the subscription delivers encrypted content")
	require.NoError(t, e.process(changes[0]))

	dms := e.dms(bob)
	require.Len(t, dms, 1)
	assert.True(t, strings.HasSuffix(dms[0].Message, "\n\nrich hello"))
	assert.Zero(t, e.sim.CallCount(routeGetMessage), "the message came from the notification")
	assert.Empty(t, e.metrics.fallback)
}

func TestMessageIsFetchedWhenContentIsMissingOrUndecryptable(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	plain := e.send(chatID, alice, "plain")
	garbled := e.send(chatID, alice, "garbled")
	e.sim.ResetCalls()

	require.NoError(t, e.notify("created", chatID, plain))
	require.NoError(t, e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: garbled,
		Encrypted: &richnotify.EncryptedContent{Data: "AAAA", DataKey: "AAAA", DataSignature: "AAAA", EncryptionCertificateID: "unknown"}}))

	assert.Len(t, e.dms(bob), 2)
	assert.Equal(t, 2, e.sim.CallCount(routeGetMessage))
	assert.Equal(t, map[string]int{"no_rich_content": 1, "decrypt_failed": 1}, e.metrics.fallback)
}

func TestGraphErrorsMapToInboxRetries(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "hello")

	t.Run("throttled: retry after Graph's Retry-After", func(t *testing.T) {
		e.sim.InjectFault(graphsim.Fault{Route: routeGetMessage, Status: 429, RetryAfter: 7, Count: 1})
		err := e.notify("created", chatID, msgID)
		d, ok := inbox.RetryAfterOf(err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, 7*time.Second, d)
		assert.Empty(t, e.dms(bob))
	})
	t.Run("server error: ordinary retry", func(t *testing.T) {
		e.sim.InjectFault(graphsim.Fault{Route: routeGetMessage, Status: 503, Count: 1})
		err := e.notify("created", chatID, msgID)
		require.Error(t, err)
		_, retryAfter := inbox.RetryAfterOf(err)
		assert.False(t, retryAfter)
		assert.False(t, inbox.IsPark(err))
	})
	t.Run("undecryptable and unfetchable: parked", func(t *testing.T) {
		e.sim.InjectFault(graphsim.Fault{Route: routeGetMessage, Status: 403, Count: 1})
		err := e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: msgID,
			Encrypted: &richnotify.EncryptedContent{Data: "AAAA", DataKey: "AAAA", DataSignature: "AAAA"}})
		assert.True(t, inbox.IsPark(err), "%v", err)
	})
	t.Run("message gone: done", func(t *testing.T) {
		require.NoError(t, e.notify("created", chatID, "1111111111111"))
		assert.Equal(t, 1, e.metrics.skips(SkipMessageNotFound))
	})
	t.Run("then it goes through", func(t *testing.T) {
		require.NoError(t, e.notify("created", chatID, msgID))
		assert.Len(t, e.dms(bob), 1)
	})
}

func TestCrashBetweenCreatePostAndRecordingDoesNotPostTwice(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "once")
	e.mm.FailNextCreates(1)

	require.Error(t, e.notify("created", chatID, msgID), "the post exists but was never recorded")
	require.Len(t, e.dms(bob), 1)
	rows, err := e.store.GetMessagePosts(context.Background(), chatID, msgID)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, store.PostReserved, rows[0].State)

	require.NoError(t, e.notify("created", chatID, msgID))
	dms := e.dms(bob)
	require.Len(t, dms, 1, "the retry finds the earlier DM instead of posting again")
	rows, err = e.store.GetMessagePosts(context.Background(), chatID, msgID)
	require.NoError(t, err)
	assert.Equal(t, store.PostPosted, rows[0].State)
	assert.Equal(t, dms[0].Id, rows[0].PostID)
	assert.Equal(t, 1, e.metrics.delivered, "counted once, when recorded")

	// And edits reach the recovered DM.
	require.NoError(t, e.sim.EditMessage(chatID, msgID, "once more"))
	require.NoError(t, e.notify("updated", chatID, msgID))
	assert.Contains(t, e.dms(bob)[0].Message, "once more")
}

func TestFilesAreHandedToTheAttacherAfterTheText(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Files", alice, bob, carol)
	msgID, err := e.sim.SendMessage(chatID, graphsim.NewMessage{From: alice.teamsID, HTML: "<p>report attached</p>",
		Files: []graphsim.FileRef{{Name: "report.pdf", ContentType: "application/pdf", Bytes: []byte("%PDF")}}})
	require.NoError(t, err)
	e.attacher.fail = assert.AnError

	require.Error(t, e.notify("created", chatID, msgID), "queueing files failed: the job is retried")
	assert.Len(t, e.dms(bob), 1, "the text did not wait for the files")
	assert.Len(t, e.dms(carol), 1)

	e.attacher.fail = nil
	require.NoError(t, e.notify("created", chatID, msgID))
	require.NoError(t, e.notify("created", chatID, msgID))
	jobs := e.attacher.all()
	require.Len(t, jobs, 1, "files are queued once, on the retry")
	assert.Equal(t, chatID, jobs[0].ChatID)
	assert.Equal(t, alice.teamsID, jobs[0].SenderTeamsID)
	require.Len(t, jobs[0].Files, 1)
	assert.Equal(t, format.FileReference, jobs[0].Files[0].Kind)
	assert.ElementsMatch(t, []AttachTarget{
		{MMUserID: bob.mmID, ChannelID: e.dms(bob)[0].ChannelId, PostID: e.dms(bob)[0].Id},
		{MMUserID: carol.mmID, ChannelID: e.dms(carol)[0].ChannelId, PostID: e.dms(carol)[0].Id},
	}, jobs[0].Targets)
	assert.Len(t, e.dms(bob), 1)
}

// A pasted image lives on the configured cloud's Graph host; it reaches the attacher as hosted content to
// download with the app's token (not as a link the user cannot open).
func TestInlineImagesOnTheConfiguredGraphHostAreAttached(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID, err := e.sim.SendMessage(chatID, graphsim.NewMessage{From: alice.teamsID, HTML: `<p>look</p><img src="{{hosted:img1}}">`,
		Hosted: []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: []byte("\x89PNG")}}})
	require.NoError(t, err)
	require.NoError(t, e.notify("created", chatID, msgID))

	jobs := e.attacher.all()
	require.Len(t, jobs, 1)
	require.Len(t, jobs[0].Files, 1)
	assert.Equal(t, format.FileHostedContent, jobs[0].Files[0].Kind)
	assert.Contains(t, jobs[0].Files[0].URL, "/hostedContents/")
}

// With rich notifications, a busy chat costs Graph one chat lookup and a presence call per PresenceTTL, not
// calls per message.
func TestBurstInOneChatCostsFewGraphCallsPerDM(t *testing.T) {
	e := newEnv(t)
	feed := e.subscribeRich()
	alice := e.addPerson("alice")
	recipients := []person{e.addPerson("bob"), e.addPerson("carol"), e.addPerson("dave")}
	chatID := e.chat("group", "Busy", append([]person{alice}, recipients...)...)
	e.sim.ResetCalls()

	const messages = 30
	for i := 0; i < messages; i++ {
		e.send(chatID, alice, "<p>update</p>")
	}
	for _, ch := range feed.wait(t, messages) {
		require.NoError(t, e.process(ch))
	}

	dms := 0
	for _, p := range recipients {
		dms += len(e.dms(p))
	}
	require.Equal(t, messages*len(recipients), dms)
	calls := e.sim.GraphCalls("")
	perDM := float64(calls) / float64(dms)
	t.Logf("%d Graph calls for %d DMs: %.3f per DM (%v)", calls, dms, perDM, e.sim.Calls())
	assert.Less(t, perDM, 0.3)
	assert.Zero(t, e.sim.CallCount(routeGetMessage))
}

// A busy chat asks Mattermost about each recipient (account, notifications preference, DM channel) once, not
// once per message: the preference read is a database query the server does not cache.
func TestBusyChatReadsEachRecipientOnce(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Busy", alice, bob, carol)

	for i := 0; i < 10; i++ {
		require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "<p>update</p>")))
	}

	require.Len(t, e.dms(bob), 10)
	require.Len(t, e.dms(carol), 10)
	assert.Equal(t, 2, e.mm.Calls("GetUser"), "one account read per recipient")
	assert.Equal(t, 2, e.mm.Calls("GetPreferenceForUser"), "one preference read per recipient")
	assert.Equal(t, 2, e.mm.Calls("GetDirectChannel"), "one DM channel lookup per recipient")
}

// Turning notifications off holds for the very next message: the plugin tells delivery to forget what it knew.
func TestForgetMakesAPreferenceChangeHoldAtOnce(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "<p>one</p>")))
	require.Len(t, e.dms(bob), 1)

	e.mm.SetPref(bob.mmID, preferenceCategory, preferenceNotifications, "off")
	e.proc.Forget(bob.mmID)
	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "<p>two</p>")))
	assert.Len(t, e.dms(bob), 1, "no DM once notifications are off")

	e.mm.SetPref(bob.mmID, preferenceCategory, preferenceNotifications, "on")
	e.proc.Forget(bob.mmID)
	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "<p>three</p>")))
	assert.Len(t, e.dms(bob), 2, "DMs again once they are back on")
}

// The users' last delivery times (where a catch-up starts) are written in batches, and Flush writes what is
// still held.
func TestDeliveryTimesAreWrittenInBatchesAndOnFlush(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	e := newEnv(t, func(o *Options, _ *graphsim.Options) { o.Now = func() time.Time { return time.Unix(0, now.Load()) } })
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	ctx := context.Background()
	lastDelivered := func() time.Time {
		u, err := e.store.GetUser(ctx, bob.mmID)
		require.NoError(t, err)
		return u.LastDeliveredAt
	}

	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "<p>one</p>")))
	first := lastDelivered()
	require.False(t, first.IsZero(), "the first delivery is written at once")

	now.Add(int64(time.Second)) // within the batching interval
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "<p>two</p>")))
	assert.Equal(t, first, lastDelivered(), "the second waits for the batch")

	require.NoError(t, e.proc.Flush(ctx))
	assert.True(t, lastDelivered().After(first), "Flush writes it")
}

func TestMembershipEventsAndUnknownSendersRefreshTheChat(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Team", alice, bob, carol)
	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "one")))
	require.NoError(t, e.notify("created", chatID, e.send(chatID, bob, "two")))
	assert.Equal(t, 1, e.sim.CallCount("GET /chats/{id}"), "members are cached")

	sysID, err := e.sim.SendMessage(chatID, graphsim.NewMessage{MessageType: "systemEventMessage",
		EventDetail: map[string]any{"@odata.type": "#microsoft.graph.membersDeletedEventMessageDetail"}})
	require.NoError(t, err)
	require.NoError(t, e.notify("created", chatID, sysID))
	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "three")))
	assert.Equal(t, 2, e.sim.CallCount("GET /chats/{id}"), "a membership event drops the cached members")

	// A sender the cached members do not include (someone added since) makes the members be read again.
	raw, ok := e.sim.MessageJSON(chatID, e.send(chatID, alice, "four"))
	require.True(t, ok)
	msg, err := graph.MessageFromJSON(raw)
	require.NoError(t, err)
	msg.From = graph.Identity{UserID: "0000dead-1111-4111-8111-000000000000", DisplayName: "Newcomer"}
	newcomer, err := encodeMessage(msg)
	require.NoError(t, err)
	require.NoError(t, e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: msg.ID, Message: newcomer}))
	assert.Equal(t, 3, e.sim.CallCount("GET /chats/{id}"))
	assert.Len(t, e.dms(carol), 4, "carol got one, two, three and the newcomer's message")
}

func TestChangesWithoutAChatAreDoneAndGarbageIsParked(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.process(inbox.Change{ChangeType: "created", MessageID: "1700000000000"}))
	assert.Equal(t, 1, e.metrics.skips(SkipNotChat))
	assert.Zero(t, e.sim.GraphCalls(""))

	err := e.proc.Process(context.Background(), inbox.Job{ID: 1, Queue: inbox.QueueChanges, Payload: []byte("{not json")})
	assert.True(t, inbox.IsPark(err), "a payload no retry can decode is parked: %v", err)
}

// Workers on several nodes may handle notifications of the same message at the same time (a created and an
// updated arriving together, redeliveries): still one DM per recipient.
func TestConcurrentWorkersOnOneMessageGiveOneDMEach(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	chatID := e.chat("group", "Team", alice, bob, carol)
	msgID := e.send(chatID, alice, "<p>hello</p>")
	require.NoError(t, e.sim.EditMessage(chatID, msgID, "<p>hello again</p>"))
	raw, ok := e.sim.MessageJSON(chatID, msgID)
	require.True(t, ok)

	const workers = 8
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		changeType := "created"
		if i%2 == 1 {
			changeType = "updated"
		}
		payload, err := json.Marshal(inbox.Change{ChangeType: changeType, ChatID: chatID, MessageID: msgID, Message: raw, Source: inbox.SourceWebhook})
		require.NoError(t, err)
		go func(id int64) {
			errs <- e.proc.Process(context.Background(), inbox.Job{ID: id, Queue: inbox.QueueChanges, Payload: payload, Attempts: 1})
		}(int64(i))
	}
	for i := 0; i < workers; i++ {
		require.NoError(t, <-errs)
	}
	for _, p := range []person{bob, carol} {
		dms := e.dms(p)
		require.Len(t, dms, 1, p.name)
		assert.True(t, strings.HasSuffix(dms[0].Message, "\n\nhello again\n\n*(edited)*"))
	}
	assert.Zero(t, e.mm.Calls("UpdatePost"), "the first DM already showed the edited text")
}

func TestPresenceFailureStillNotifiesAndChatNotFoundIsDone(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	require.NoError(t, e.sim.SetPresence(bob.teamsID, graphsim.Presence{Availability: "Available", Activity: "Available"}))
	chatID := e.chat("oneOnOne", "", alice, bob)
	e.sim.InjectFault(graphsim.Fault{Route: "POST /communications/getPresencesByUserId", Status: 500, Count: 1})

	require.NoError(t, e.notify("created", chatID, e.send(chatID, alice, "hello")))
	assert.Len(t, e.dms(bob), 1, "without presence bob counts as away: better an extra DM than a missed one")

	e.sim.InjectFault(graphsim.Fault{Route: "GET /chats/{id}", Status: 404, Count: 1})
	raw, ok := e.sim.MessageJSON(chatID, e.send(chatID, alice, "again"))
	require.True(t, ok)
	msg, err := graph.MessageFromJSON(raw)
	require.NoError(t, err)
	msg.ChatID = "19:gone@thread.v2"
	// A message of a chat Graph no longer knows (the cache does not know it either).
	gone, err := encodeMessage(msg)
	require.NoError(t, err)
	require.NoError(t, e.process(inbox.Change{ChangeType: "created", ChatID: "19:gone@thread.v2", MessageID: msg.ID, Message: gone}))
	assert.Equal(t, 1, e.metrics.skips(SkipChatNotFound))
}

type recordingLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLogger) log(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprint(append([]any{msg}, kv...)...))
}
func (l *recordingLogger) LogDebug(msg string, kv ...any) { l.log(msg, kv...) }
func (l *recordingLogger) LogInfo(msg string, kv ...any)  { l.log(msg, kv...) }
func (l *recordingLogger) LogWarn(msg string, kv ...any)  { l.log(msg, kv...) }
func (l *recordingLogger) LogError(msg string, kv ...any) { l.log(msg, kv...) }

func TestLogsNameIDsButNeverMessageText(t *testing.T) {
	e := newEnv(t)
	logs := &recordingLogger{}
	e.proc.d.Logger = logs
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "<p>the launch code is 0000</p>")
	raw, ok := e.sim.MessageJSON(chatID, msgID)
	require.True(t, ok)
	e.mm.FailNextCreates(1)

	require.Error(t, e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: msgID, Message: raw}))
	require.NoError(t, e.process(inbox.Change{ChangeType: "created", ChatID: chatID, MessageID: msgID,
		Encrypted: &richnotify.EncryptedContent{Data: "AAAA", DataKey: "AAAA", DataSignature: "AAAA"}}))

	require.NotEmpty(t, logs.lines)
	all := strings.Join(logs.lines, "\n")
	assert.Contains(t, all, chatID)
	assert.Contains(t, all, msgID)
	assert.NotContains(t, all, "launch code")
}

// Rich notifications carry the message as it was at the event: a creation snapshot processed after the edit's
// snapshot must not roll the DM back.
func TestReorderedRichSnapshotsNeverRollBackAnEdit(t *testing.T) {
	e := newEnv(t)
	feed := e.subscribeRich()
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "<p>v1</p>")
	require.NoError(t, e.sim.EditMessage(chatID, msgID, "<p>v2</p>"))
	byType := map[string]inbox.Change{}
	for _, ch := range feed.wait(t, 2) {
		byType[ch.ChangeType] = ch
	}
	require.Contains(t, byType, "created")
	require.Contains(t, byType, "updated")

	require.NoError(t, e.process(byType["updated"]))
	require.NoError(t, e.process(byType["created"]))

	dms := e.dms(bob)
	require.Len(t, dms, 1)
	assert.True(t, strings.HasSuffix(dms[0].Message, "\n\nv2\n\n*(edited)*"), dms[0].Message)
	assert.Zero(t, e.mm.Calls("UpdatePost"))
	assert.Zero(t, e.sim.CallCount(routeGetMessage))
}

func TestAPresenceOutageCostsExtraDMsNotDelays(t *testing.T) {
	var shift atomic.Int64 // delivery's clock, moved past the backoff below
	e := newEnv(t, func(o *Options, _ *graphsim.Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
		o.PresenceWait = 300 * time.Millisecond
	})
	alice, bob, carol := e.addPerson("alice"), e.addPerson("bob"), e.addPerson("carol")
	for _, p := range []person{bob, carol} {
		require.NoError(t, e.sim.SetPresence(p.teamsID, graphsim.Presence{Availability: "Available", Activity: "Available"}))
	}
	withBob, withCarol := e.chat("oneOnOne", "", alice, bob), e.chat("oneOnOne", "", alice, carol)
	const presenceRoute = "POST /communications/getPresencesByUserId"

	// Graph hangs on presence (10 s per answer, then 503) for the whole outage.
	fault := e.sim.InjectFault(graphsim.Fault{Route: presenceRoute, Status: 503, Delay: 10 * time.Second})
	start := time.Now()
	require.NoError(t, e.notify("created", withBob, e.send(withBob, alice, "one")))
	assert.Len(t, e.dms(bob), 1, "presence unknown: bob is notified as if away")
	assert.Less(t, time.Since(start), 10*time.Second, "the DM did not wait for Graph's slow answer")

	require.NoError(t, e.notify("created", withCarol, e.send(withCarol, alice, "two")))
	assert.Len(t, e.dms(carol), 1, "still in the outage: carol is notified too")
	assert.Equal(t, 1, e.sim.CallCount(presenceRoute), "presence is not asked again while Graph was just refusing it")

	e.sim.RemoveFault(fault)
	shift.Store(int64(31 * time.Second))
	require.NoError(t, e.notify("created", withCarol, e.send(withCarol, alice, "three")))
	assert.Len(t, e.dms(carol), 1, "presence readable again: carol is active in Teams, so Teams tells her itself")
	assert.Equal(t, 2, e.sim.CallCount(presenceRoute))
	assert.Equal(t, 1, e.metrics.skips(SkipActiveInTeams))
}

func TestANotificationsPreferenceNeverSetCountsAsOffWithoutFailing(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob", preferenceNeverSet())
	chatID := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(chatID, alice, "<p>hello</p>")

	// The server answers an unset preference with a 400, like a failed read: the job must not fail and retry.
	require.NoError(t, e.notify("created", chatID, msgID))
	assert.Empty(t, e.dms(bob))
	assert.Equal(t, 1, e.metrics.skips(SkipNotificationsOff))
}
