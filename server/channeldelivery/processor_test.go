package channeldelivery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// world is a team "Research" with a standard channel "General talk" and a private channel "Secret", both with
// ada (the usual sender), bob and cy; dan is in the team but not the private channel, and in tag "On call"
// with bob.
type world struct {
	*env
	ada, bob, cy, dan           person
	team, channel, private, tag string
}

func newWorld(t *testing.T) *world {
	e := newEnv(t)
	w := &world{env: e, ada: e.addPerson("ada", true), bob: e.addPerson("bob", true), cy: e.addPerson("cy", true), dan: e.addPerson("dan", true)}
	var err error
	w.team, err = e.sim.CreateTeam(graphsim.TeamSpec{TenantID: testTenant, DisplayName: "Research", Members: ids(w.ada, w.bob, w.cy, w.dan)})
	require.NoError(t, err)
	w.channel, err = e.sim.CreateChannel(w.team, graphsim.ChannelSpec{DisplayName: "General talk"})
	require.NoError(t, err)
	w.private, err = e.sim.CreateChannel(w.team, graphsim.ChannelSpec{DisplayName: "Secret", MembershipType: "private", Members: ids(w.ada, w.bob, w.cy)})
	require.NoError(t, err)
	w.tag, err = e.sim.CreateTag(w.team, graphsim.TagSpec{DisplayName: "On call", Members: ids(w.bob, w.dan)})
	require.NoError(t, err)
	return w
}

func mention(p person) graphsim.Mention {
	return graphsim.Mention{ID: 0, MentionText: p.name, UserID: p.teamsID}
}

// send posts a thread's first message in channel and notifies it.
func (w *world) send(channel string, from person, html string, mentions ...graphsim.Mention) string {
	id, err := w.sim.SendChannelMessage(w.team, channel, graphsim.NewMessage{From: from.teamsID, HTML: html, Mentions: mentions})
	require.NoError(w.t, err)
	w.notify("created", w.team, channel, id, "")
	return id
}

func (w *world) reply(channel, root string, from person, html string, mentions ...graphsim.Mention) string {
	id, err := w.sim.ReplyChannelMessage(w.team, channel, root, graphsim.NewMessage{From: from.teamsID, HTML: html, Mentions: mentions})
	require.NoError(w.t, err)
	w.notify("created", w.team, channel, id, root)
	return id
}

func TestPersonalMentionNamesTeamAndChannel(t *testing.T) {
	w := newWorld(t)
	w.send(w.channel, w.ada, `Hello <at id="0">bob</at>, the results are in`, mention(w.bob))

	dms := w.dms(w.bob)
	require.Len(t, dms, 1)
	text := dms[0].Message
	assert.Contains(t, text, "**ada Example** wrote in **Research** › **General talk**")
	assert.Contains(t, text, "[Open in Teams](")
	assert.NotContains(t, text, "Thread:", "a thread's first message is its own title")
	assert.Contains(t, text, "You get this because they mentioned you.")
	assert.Contains(t, text, "the results are in")
	assert.Equal(t, w.team+"/"+w.channel, dms[0].GetProp(PropChannelKey))
	assert.Empty(t, w.dms(w.cy), "not mentioned, no group mention choice")
	assert.Empty(t, w.dms(w.ada), "the sender")
}

func TestTagMentionFollowsTheChoice(t *testing.T) {
	w := newWorld(t)
	tag := graphsim.Mention{ID: 0, MentionText: "On call", TagID: w.tag}
	w.send(w.channel, w.ada, `<at id="0">On call</at> the build is red`, tag)
	assert.Empty(t, w.dms(w.bob), "group mentions are off by default")

	require.NoError(t, w.store.SetChannelGroupMentions(context.Background(), w.bob.mmID, true))
	require.NoError(t, w.store.SetChannelGroupMentions(context.Background(), w.cy.mmID, true))
	w.send(w.channel, w.ada, `<at id="0">On call</at> still red`, tag)
	dms := w.dms(w.bob)
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0].Message, "mentioned a tag you are in")
	assert.Empty(t, w.dms(w.cy), "cy follows group mentions but is not in the tag")
	assert.Empty(t, w.dms(w.dan), "dan is in the tag but did not choose group mentions")
}

func TestThreadReplyReachesParticipantsOnce(t *testing.T) {
	w := newWorld(t)
	root := w.send(w.channel, w.bob, `Plan for <b>Friday</b>`)
	w.reply(w.channel, root, w.cy, "I can do the morning")
	// ada replies mentioning bob: bob has two reasons, one DM; cy is a participant; ada, the replier, nothing.
	w.reply(w.channel, root, w.ada, `<at id="0">bob</at> and I take the afternoon`, mention(w.bob))

	bob := w.dms(w.bob)
	require.Len(t, bob, 2, "cy's reply and ada's")
	assert.Contains(t, bob[1].Message, "You get this because they mentioned you and replied in a thread you are in.")
	assert.Contains(t, bob[1].Message, "Thread: **Plan for Friday**")
	assert.Equal(t, bob[0].Id, bob[1].RootId, "replies continue one Mattermost thread")
	cy := w.dms(w.cy)
	require.Len(t, cy, 1, "ada's reply; cy's own is not sent to cy")
	assert.Contains(t, cy[0].Message, "replied in a thread you are in")
	assert.Empty(t, w.dms(w.ada))
	assert.Empty(t, w.dms(w.dan), "not in the thread")

	// Thread replies turned off: only the mention counts.
	require.NoError(t, w.store.SetChannelThreadReplies(context.Background(), w.cy.mmID, false))
	w.reply(w.channel, root, w.bob, "Thanks both")
	assert.Len(t, w.dms(w.cy), 1)
	assert.Len(t, w.dms(w.ada), 1, "ada replied, so she is a participant now")
}

func TestPrivateChannelNonMemberGetsNothing(t *testing.T) {
	w := newWorld(t)
	w.send(w.private, w.ada, `<at id="0">dan</at> look at this`, mention(w.dan))
	assert.Empty(t, w.dms(w.dan), "dan cannot read the private channel")
	w.send(w.private, w.ada, `<at id="0">bob</at> look at this`, mention(w.bob))
	assert.Len(t, w.dms(w.bob), 1)
}

func TestEditUpdatesAndDeleteMarksTheDM(t *testing.T) {
	w := newWorld(t)
	id := w.send(w.channel, w.ada, `<at id="0">bob</at> draft one`, mention(w.bob))
	require.NoError(t, w.sim.EditChannelMessage(w.team, w.channel, id, `<at id="0">bob</at> draft two`))
	w.notify("updated", w.team, w.channel, id, "")
	dms := w.dms(w.bob)
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0].Message, "draft two")
	assert.Contains(t, dms[0].Message, "*(edited)*")
	assert.Contains(t, dms[0].Message, "You get this because they mentioned you.", "the header stays")

	// A delete the message's Graph copy does not confirm leaves the DM alone.
	w.notify("deleted", w.team, w.channel, id, "")
	assert.Contains(t, w.dms(w.bob)[0].Message, "draft two")
	require.NoError(t, w.sim.DeleteChannelMessage(w.team, w.channel, id))
	w.notify("deleted", w.team, w.channel, id, "")
	dms = w.dms(w.bob)
	require.Len(t, dms, 1)
	assert.Contains(t, dms[0].Message, "This message was deleted in Teams.")
	assert.NotContains(t, dms[0].Message, "draft two")
	assert.Contains(t, dms[0].Message, "**Research** › **General talk**")

	// A late "created" never delivers it again.
	w.notify("created", w.team, w.channel, id, "")
	assert.Len(t, w.dms(w.bob), 1)
}

func TestSameJobTwiceOneDM(t *testing.T) {
	w := newWorld(t)
	id := w.send(w.channel, w.ada, `<at id="0">bob</at> hi`, mention(w.bob))
	w.notify("created", w.team, w.channel, id, "")
	w.notify("updated", w.team, w.channel, id, "")
	assert.Len(t, w.dms(w.bob), 1)
	rows, err := w.store.GetMessagePosts(context.Background(), w.team+"/"+w.channel, id)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, store.PostPosted, rows[0].State)
}

func TestTeamMentionOfLargeTeamReadsMembersOnce(t *testing.T) {
	e := newEnv(t)
	sender, listener := e.addPerson("ada", true), e.addPerson("bob", true)
	members := []string{sender.teamsID, listener.teamsID}
	for i := 0; i < 998; i++ {
		p := person{teamsID: fmt.Sprintf("00009999-2222-4222-8222-%012d", i)}
		require.NoError(t, e.sim.AddUser(graphsim.User{ID: p.teamsID, TenantID: testTenant, DisplayName: fmt.Sprintf("User %d", i)}))
		members = append(members, p.teamsID)
	}
	team, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: testTenant, DisplayName: "Everyone", Members: members})
	require.NoError(t, err)
	channel, err := e.sim.CreateChannel(team, graphsim.ChannelSpec{DisplayName: "Announcements"})
	require.NoError(t, err)
	require.NoError(t, e.store.SetChannelGroupMentions(context.Background(), listener.mmID, true))

	for i := 0; i < 3; i++ {
		id, err := e.sim.SendChannelMessage(team, channel, graphsim.NewMessage{From: sender.teamsID,
			HTML: fmt.Sprintf(`<at id="0">Everyone</at> news %d`, i), Mentions: []graphsim.Mention{{ID: 0, MentionText: "Everyone", TeamID: team}}})
		require.NoError(t, err)
		e.notify("created", team, channel, id, "")
	}
	dms := e.dms(listener)
	require.Len(t, dms, 3)
	assert.Contains(t, dms[0].Message, "mentioned the team")
	assert.Equal(t, 1, e.graph.get("TeamMembers"), "one listing of the team, cached for the next messages and for who reads the channel")
}

func TestCrashAfterCreateRecoversOneDM(t *testing.T) {
	w := newWorld(t)
	id, err := w.sim.SendChannelMessage(w.team, w.channel, graphsim.NewMessage{From: w.ada.teamsID, HTML: `<at id="0">bob</at> hi`, Mentions: []graphsim.Mention{mention(w.bob)}})
	require.NoError(t, err)
	w.mm.FailNextCreates(1) // the post is created, the answer is lost: the row stays reserved
	require.Error(t, w.process(inboxChange("created", w.team, w.channel, id, "")))
	before := w.mm.TotalPosts()
	w.notify("created", w.team, w.channel, id, "")
	assert.Len(t, w.dms(w.bob), 1)
	assert.Equal(t, before, w.mm.TotalPosts(), "the retry found the DM instead of posting again")
	rows, err := w.store.GetMessagePosts(context.Background(), w.team+"/"+w.channel, id)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, store.PostPosted, rows[0].State)
}

func TestDeletedThreadRootStartsANewThread(t *testing.T) {
	w := newWorld(t)
	root := w.send(w.channel, w.bob, "Lunch?")
	w.reply(w.channel, root, w.ada, "Yes")
	first := w.dms(w.bob)
	require.Len(t, first, 1)
	w.mm.DeletePost(first[0].Id) // bob deleted the thread's first DM

	w.reply(w.channel, root, w.cy, "Me too")
	w.reply(w.channel, root, w.ada, "12:30")
	dms := w.dms(w.bob)
	require.Len(t, dms, 2)
	assert.Empty(t, dms[0].RootId, "the DM after the lost root starts a thread")
	assert.Equal(t, dms[0].Id, dms[1].RootId, "and the next reply continues it")
}

// The images and files of a channel message follow its DMs as for chats: one attachment job names the message
// where Graph keeps it (team, channel, thread), its link in Teams and every new DM; package attach then gives
// each recipient what their own account may read. A retried change queues nothing twice.
func TestFilesOfAChannelMessageAreQueuedForItsDMs(t *testing.T) {
	w := newWorld(t)
	two := graphsim.Mention{ID: 1, MentionText: "cy", UserID: w.cy.teamsID}
	id, err := w.sim.SendChannelMessage(w.team, w.channel, graphsim.NewMessage{From: w.ada.teamsID,
		HTML:     `<p><at id="0">bob</at> <at id="1">cy</at> the plan</p>`,
		Mentions: []graphsim.Mention{mention(w.bob), two},
		Hosted:   []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: []byte("\x89PNG\r\n\x1a\n")}},
		Files:    []graphsim.FileRef{{Name: "plan.pdf", ContentType: "application/pdf", Bytes: []byte("%PDF")}}})
	require.NoError(t, err)
	w.notify("created", w.team, w.channel, id, "")

	bob, cy := w.dms(w.bob), w.dms(w.cy)
	require.Len(t, bob, 1)
	require.Len(t, cy, 1)
	assert.NotContains(t, bob[0].Message, "open it in Teams to see them", "the files follow; no note sends the user away")
	jobs := w.attacher.queued()
	require.Len(t, jobs, 1)
	job := jobs[0]
	assert.Equal(t, w.team+"/"+w.channel, job.ChatID)
	assert.Equal(t, id, job.MessageID)
	assert.Equal(t, &attach.ChannelMessage{TeamID: w.team, ChannelID: w.channel}, job.Channel)
	assert.Contains(t, job.Link, "https://")
	kinds := map[format.FileKind]int{}
	for _, f := range job.Files {
		kinds[f.Kind]++
	}
	assert.Equal(t, map[format.FileKind]int{format.FileHostedContent: 1, format.FileReference: 1}, kinds)
	assert.ElementsMatch(t, []attach.Target{
		{MMUserID: w.bob.mmID, ChannelID: bob[0].ChannelId, PostID: bob[0].Id},
		{MMUserID: w.cy.mmID, ChannelID: cy[0].ChannelId, PostID: cy[0].Id},
	}, job.Targets)

	w.notify("updated", w.team, w.channel, id, "")
	assert.Len(t, w.attacher.queued(), 1, "files are queued once per DM")
}

// When the job cannot be stored, the DMs stay marked and the change's retry queues their files; nobody is
// posted to twice.
func TestFilesQueuedAfterAFailedAttempt(t *testing.T) {
	w := newWorld(t)
	w.attacher.fail = 1
	root := w.send(w.channel, w.bob, `first`)
	id, err := w.sim.ReplyChannelMessage(w.team, w.channel, root, graphsim.NewMessage{From: w.ada.teamsID,
		HTML: `<p><at id="0">bob</at> see this</p>`, Mentions: []graphsim.Mention{mention(w.bob)},
		Hosted: []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: []byte("\x89PNG\r\n\x1a\n")}}})
	require.NoError(t, err)
	change := inboxChange("created", w.team, w.channel, id, root)
	require.Error(t, w.process(change))
	assert.Empty(t, w.attacher.queued())
	require.NoError(t, w.process(change))

	jobs := w.attacher.queued()
	require.Len(t, jobs, 1)
	assert.Equal(t, &attach.ChannelMessage{TeamID: w.team, ChannelID: w.channel, RootID: root}, jobs[0].Channel, "a reply is found under its thread")
	assert.Len(t, w.dms(w.bob), 1)
}

// A guest of the tenant is marked in the DM as Teams marks them; members are not.
func TestGuestSenderIsMarked(t *testing.T) {
	w := newWorld(t)
	gus := w.addUser(graphsim.User{DisplayName: "Gus Guest", Guest: true, Mail: "gus@fabrikam.test", UserPrincipalName: "gus_fabrikam.test#EXT#@contoso.test"}, "gus", false)
	require.NoError(t, w.sim.AddTeamMember(w.team, gus.teamsID, false))
	w.send(w.channel, gus, `<at id="0">bob</at> hello from outside`, mention(w.bob))
	w.send(w.channel, w.ada, `<at id="0">bob</at> hello from inside`, mention(w.bob))

	dms := w.dms(w.bob)
	require.Len(t, dms, 2)
	assert.Contains(t, dms[0].Message, "**Gus Guest** (Guest) wrote in **Research**")
	assert.Contains(t, dms[1].Message, "**ada Example** wrote in")
	assert.NotContains(t, dms[1].Message, "(Guest)")
}

// Member lists are cached, but someone who joins the team is known within Options.RecheckAfter (a minute): a
// list lacking the person a message concerns is read again once it is that old, and no sooner.
func TestNewTeamMembersAreKnownWithinAMinute(t *testing.T) {
	w := newWorld(t)
	w.send(w.channel, w.ada, `<at id="0">bob</at> first`, mention(w.bob))
	require.Len(t, w.dms(w.bob), 1)
	require.Equal(t, 1, w.graph.get("TeamMembers"))

	eve := w.addPerson("eve", true)
	require.NoError(t, w.sim.AddTeamMember(w.team, eve.teamsID, false))
	gus := w.addUser(graphsim.User{DisplayName: "Gus Guest", Guest: true, Mail: "gus@fabrikam.test", UserPrincipalName: "gus_fabrikam.test#EXT#@contoso.test"}, "gus", false)
	require.NoError(t, w.sim.AddTeamMember(w.team, gus.teamsID, false))
	w.send(w.channel, w.ada, `<at id="0">eve</at> welcome`, mention(eve))
	assert.Empty(t, w.dms(eve), "a list read seconds ago is trusted")
	assert.Equal(t, 1, w.graph.get("TeamMembers"))

	w.advance(61 * time.Second)
	w.send(w.channel, w.ada, `<at id="0">eve</at> welcome again`, mention(eve))
	require.Len(t, w.dms(eve), 1, "a minute later the list is read again")
	assert.Equal(t, 2, w.graph.get("TeamMembers"))

	w.send(w.channel, gus, `<at id="0">bob</at> hi from a guest`, mention(w.bob))
	dms := w.dms(w.bob)
	require.Len(t, dms, 2)
	assert.Contains(t, dms[1].Message, "**Gus Guest** (Guest) wrote in", "the new guest is known from the list just read")
	assert.Equal(t, 2, w.graph.get("TeamMembers"), "no extra read for a sender already in the list")
}
