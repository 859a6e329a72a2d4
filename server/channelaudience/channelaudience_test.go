package channelaudience

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tenant is an in-memory directory: who is connected with which choices, who belongs to which team, channel
// and tag, and who can read the message's channel. It counts member reads, the expensive lookup.
type tenant struct {
	connected   map[string]Person
	members     map[Mention][]string
	readers     []string
	memberReads int
}

func (d *tenant) People(_ context.Context, ids []string) (map[string]Person, error) {
	out := map[string]Person{}
	for _, id := range ids {
		if p, ok := d.connected[id]; ok {
			out[id] = p
		}
	}
	return out, nil
}

func (d *tenant) GroupListeners(context.Context) ([]Person, error) {
	var out []Person
	for _, p := range d.connected {
		if p.GroupMentions {
			out = append(out, p)
		}
	}
	return out, nil
}

func (d *tenant) Members(_ context.Context, m Mention) (map[string]bool, error) {
	d.memberReads++
	return set(d.members[m]), nil
}

func (d *tenant) Readers(_ context.Context, ids []string) (map[string]bool, error) {
	all := set(d.readers)
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = all[id]
	}
	return out, nil
}

func set(ids []string) map[string]bool {
	s := map[string]bool{}
	for _, id := range ids {
		s[id] = true
	}
	return s
}

var (
	team    = Mention{Kind: KindTeam, ID: "team-1"}
	channel = Mention{Kind: KindChannel, ID: "chan-1"}
	tag     = Mention{Kind: KindTag, ID: "tag-oncall"}
)

func user(id string) Mention { return Mention{Kind: KindUser, ID: id} }

// people: alice personal mentions only (the default), bob follows group mentions, carol turned thread replies
// off, dave is not connected, erin follows group mentions but cannot read the channel (a private channel she is
// not in).
func newTenant() *tenant {
	bob := defaultPerson("bob", "mm-bob")
	bob.GroupMentions = true
	carol := defaultPerson("carol", "mm-carol")
	carol.ThreadReplies = false
	erin := defaultPerson("erin", "mm-erin")
	erin.GroupMentions = true
	return &tenant{
		connected: map[string]Person{
			"alice": defaultPerson("alice", "mm-alice"), "bob": bob, "carol": carol, "erin": erin,
		},
		members: map[Mention][]string{
			team:    {"alice", "bob", "carol", "dave", "erin"},
			channel: {"alice", "bob"},
			tag:     {"bob", "carol", "erin"},
		},
		readers: []string{"alice", "bob", "carol", "dave"},
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want map[string][]Reason
	}{
		{"personal mention", Message{SenderID: "dave", Mentions: []Mention{user("alice")}},
			map[string][]Reason{"alice": {ReasonMentioned}}},
		{"the sender is never told, even when mentioning themself",
			Message{SenderID: "alice", Mentions: []Mention{user("alice"), user("bob")}},
			map[string][]Reason{"bob": {ReasonMentioned}}},
		{"a mentioned user who is not connected gets nothing", Message{SenderID: "alice", Mentions: []Mention{user("dave")}},
			map[string][]Reason{}},
		{"a personal mention in a channel the user cannot read tells them nothing",
			Message{SenderID: "alice", Mentions: []Mention{user("erin")}}, map[string][]Reason{}},
		{"team mention: only those who chose group mentions",
			Message{SenderID: "dave", Mentions: []Mention{team}}, map[string][]Reason{"bob": {ReasonTeamMentioned}}},
		{"channel mention", Message{SenderID: "dave", Mentions: []Mention{channel}},
			map[string][]Reason{"bob": {ReasonChannelMentioned}}},
		{"tag mention: members of the tag who follow group mentions and can read the channel",
			Message{SenderID: "dave", Mentions: []Mention{tag}}, map[string][]Reason{"bob": {ReasonTagMentioned}}},
		{"personal and tag mention of the same person: one recipient, both reasons",
			Message{SenderID: "dave", Mentions: []Mention{user("bob"), tag, user("bob")}},
			map[string][]Reason{"bob": {ReasonMentioned, ReasonTagMentioned}}},
		{"reply: the thread's author and repliers, unless they opted out",
			Message{SenderID: "dave", IsReply: true, ThreadParticipants: []string{"alice", "carol", "bob"}},
			map[string][]Reason{"alice": {ReasonThreadReply}, "bob": {ReasonThreadReply}}},
		{"reply by a participant does not tell the replier",
			Message{SenderID: "alice", IsReply: true, ThreadParticipants: []string{"alice", "bob"}},
			map[string][]Reason{"bob": {ReasonThreadReply}}},
		{"thread participants are ignored on a new post",
			Message{SenderID: "dave", ThreadParticipants: []string{"alice"}}, map[string][]Reason{}},
		{"reply that also mentions: every reason, one recipient",
			Message{SenderID: "dave", IsReply: true, ThreadParticipants: []string{"bob", "alice"}, Mentions: []Mention{user("alice"), channel}},
			map[string][]Reason{"alice": {ReasonMentioned, ReasonThreadReply}, "bob": {ReasonThreadReply, ReasonChannelMentioned}}},
		{"carol opted out of replies but a mention still reaches her",
			Message{SenderID: "dave", IsReply: true, ThreadParticipants: []string{"carol"}, Mentions: []Mention{user("carol")}},
			map[string][]Reason{"carol": {ReasonMentioned}}},
		{"no mentions, not a reply: nobody", Message{SenderID: "dave"}, map[string][]Reason{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decide(context.Background(), tt.msg, newTenant())
			require.NoError(t, err)
			have := map[string][]Reason{}
			for _, r := range got {
				have[r.TeamsUserID] = r.Reasons
				assert.Equal(t, "mm-"+r.TeamsUserID, r.MMUserID, "the recipient's Mattermost account comes along")
			}
			assert.Equal(t, tt.want, have)
		})
	}
}

// A team mention is resolved only when someone connected could receive it: with nobody following group
// mentions, a 10,000-member team costs no member read at all.
func TestGroupMentionsAreResolvedOnlyForListeners(t *testing.T) {
	d := newTenant()
	for id, p := range d.connected {
		p.GroupMentions = false
		d.connected[id] = p
	}
	got, err := Decide(context.Background(), Message{SenderID: "dave", Mentions: []Mention{team, channel, tag}}, d)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Zero(t, d.memberReads, "no member list read when nobody listens")

	d = newTenant()
	_, err = Decide(context.Background(), Message{SenderID: "dave", Mentions: []Mention{team, team, tag}}, d)
	require.NoError(t, err)
	assert.Equal(t, 2, d.memberReads, "each mentioned group read once")

	// The only listener is the sender: nothing to resolve either.
	d = newTenant()
	bob := d.connected["bob"]
	d.connected = map[string]Person{"bob": bob}
	_, err = Decide(context.Background(), Message{SenderID: "bob", Mentions: []Mention{team}}, d)
	require.NoError(t, err)
	assert.Zero(t, d.memberReads)
}

// defaultPerson is a connected user with the choices of one who never changed them (store.DefaultChannelChoice):
// personal mentions and thread replies.
func defaultPerson(teamsUserID, mmUserID string) Person {
	return Person{TeamsUserID: teamsUserID, MMUserID: mmUserID, ThreadReplies: true}
}
