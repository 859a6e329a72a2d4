// Package channelaudience decides who is told of a Teams channel message: the people it mentions personally,
// the members of a team, channel or tag it mentions (for those who chose to hear of such mentions), and the
// people in the thread it replies to. The rules are one function over a small lookup interface, so every
// reason, combination and opt-out is a row of a table test, and so that the expensive lookups (members of a
// whole team) happen only when somebody could receive the result.
//
// Delivery of the DM itself (exactly once per message and person, the presence and notifications checks that
// chats use) is not decided here: Decide returns who qualifies and why; the caller applies the rest.
package channelaudience

import (
	"context"
	"sort"

	"github.com/pkg/errors"
)

// Kind is what a mention names.
type Kind string

// The kinds of mention Teams puts in a channel message's mentions list.
const (
	KindUser    Kind = "user"
	KindTeam    Kind = "team"
	KindChannel Kind = "channel"
	KindTag     Kind = "tag"
)

// Mention is one entry of the message's mentions: ID is the user's Entra object id, the team id, the channel id
// or the tag id, according to Kind.
type Mention struct {
	Kind Kind
	ID   string
}

// Reason says why someone is told of a message. A person may have several; they still get one DM.
type Reason string

// The reasons, in the order a DM would name them.
const (
	ReasonMentioned        Reason = "mentioned"
	ReasonTeamMentioned    Reason = "team_mentioned"
	ReasonChannelMentioned Reason = "channel_mentioned"
	ReasonTagMentioned     Reason = "tag_mentioned"
	ReasonThreadReply      Reason = "reply_in_thread"
)

var groupReason = map[Kind]Reason{KindTeam: ReasonTeamMentioned, KindChannel: ReasonChannelMentioned, KindTag: ReasonTagMentioned}

// Message is what the rules need of a channel message.
type Message struct {
	SenderID string
	Mentions []Mention
	// IsReply is set for a reply (the message has a replyToId). ThreadParticipants are then the thread's
	// author and everyone who replied before this message, as Entra object ids.
	IsReply            bool
	ThreadParticipants []string
}

// Person is a connected user as the rules see them.
type Person struct {
	TeamsUserID string
	MMUserID    string
	// GroupMentions: the user chose to hear of team, channel and tag mentions (off by default: personal
	// mentions only).
	GroupMentions bool
	// ThreadReplies: the user chose to hear of replies in threads they started or replied in (on by default,
	// as in Teams' own activity feed).
	ThreadReplies bool
}

// Lookup is what Decide reads. Every method is asked only when its answer can change the outcome.
type Lookup interface {
	// People returns the connected users among ids (Entra object ids); others are absent from the map.
	People(ctx context.Context, ids []string) (map[string]Person, error)
	// GroupListeners returns the connected users who chose to hear of team, channel and tag mentions.
	GroupListeners(ctx context.Context) ([]Person, error)
	// Members returns the members of the mentioned team, channel or tag (Kind is never KindUser).
	Members(ctx context.Context, m Mention) (map[string]bool, error)
	// Readers returns which of ids can read the message's channel: members of the team for a standard
	// channel, members of the channel for a private or shared one.
	Readers(ctx context.Context, ids []string) (map[string]bool, error)
}

// Recipient is a person told of the message, with every reason that applies.
type Recipient struct {
	Person
	Reasons []Reason
}

// Decide returns who should be told of msg, at most once each, sorted by Entra object id. The sender is never
// told; nobody who cannot read the channel is told, whatever mentioned them (a personal mention in a private
// channel one is not a member of tells them nothing in Teams either).
func Decide(ctx context.Context, msg Message, l Lookup) ([]Recipient, error) {
	reasons := map[string][]Reason{}
	people := map[string]Person{}
	add := func(p Person, r Reason) {
		if p.TeamsUserID == "" || p.TeamsUserID == msg.SenderID {
			return
		}
		for _, have := range reasons[p.TeamsUserID] {
			if have == r {
				return
			}
		}
		people[p.TeamsUserID] = p
		reasons[p.TeamsUserID] = append(reasons[p.TeamsUserID], r)
	}

	// Personal mentions and thread participants are named in the message: one read of who is connected.
	var named []string
	var groups []Mention
	for _, m := range msg.Mentions {
		switch m.Kind {
		case KindUser:
			named = append(named, m.ID)
		case KindTeam, KindChannel, KindTag:
			groups = append(groups, m)
		}
	}
	if msg.IsReply {
		named = append(named, msg.ThreadParticipants...)
	}
	if len(named) > 0 {
		connected, err := l.People(ctx, dedupe(named))
		if err != nil {
			return nil, errors.Wrap(err, "read connected users")
		}
		for _, m := range msg.Mentions {
			if p, ok := connected[m.ID]; ok && m.Kind == KindUser {
				add(p, ReasonMentioned)
			}
		}
		if msg.IsReply {
			for _, id := range msg.ThreadParticipants {
				if p, ok := connected[id]; ok && p.ThreadReplies {
					add(p, ReasonThreadReply)
				}
			}
		}
	}

	// A team, channel or tag mention is resolved only when some connected user chose to hear of them: a
	// 10,000-member team costs nothing when nobody listens.
	if len(groups) > 0 {
		listeners, err := l.GroupListeners(ctx)
		if err != nil {
			return nil, errors.Wrap(err, "read users who follow team and channel mentions")
		}
		var wanting []Person
		for _, p := range listeners {
			if p.GroupMentions && p.TeamsUserID != msg.SenderID {
				wanting = append(wanting, p)
			}
		}
		if len(wanting) > 0 {
			for _, g := range dedupeMentions(groups) {
				members, err := l.Members(ctx, g)
				if err != nil {
					return nil, errors.Wrapf(err, "read members of the mentioned %s", g.Kind)
				}
				for _, p := range wanting {
					if members[p.TeamsUserID] {
						add(p, groupReason[g.Kind])
					}
				}
			}
		}
	}

	if len(people) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(people))
	for id := range people {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	readers, err := l.Readers(ctx, ids)
	if err != nil {
		return nil, errors.Wrap(err, "read who can see the channel")
	}
	var out []Recipient
	for _, id := range ids {
		if readers[id] {
			out = append(out, Recipient{Person: people[id], Reasons: reasons[id]})
		}
	}
	return out, nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func dedupeMentions(ms []Mention) []Mention {
	seen := map[Mention]bool{}
	var out []Mention
	for _, m := range ms {
		if m.ID != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
