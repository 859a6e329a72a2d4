package channeldelivery

import (
	"context"
	"fmt"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/channelaudience"
	"github.com/teamsnotify/msteams-sync/server/graph"
)

// lookup answers channelaudience's questions for one message: connected users and their choices from the
// store, member lists from Graph through the processor's cache.
type lookup struct {
	p                 *Processor
	teamID, channelID string
}

var _ channelaudience.Lookup = lookup{}

func (l lookup) People(ctx context.Context, ids []string) (map[string]channelaudience.Person, error) {
	list, err := l.p.d.Store.ChannelListeners(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]channelaudience.Person, len(list))
	for id, u := range list {
		out[id] = channelaudience.Person{TeamsUserID: u.TeamsUserID, MMUserID: u.MMUserID, GroupMentions: u.GroupMentions, ThreadReplies: u.ThreadReplies}
	}
	return out, nil
}

func (l lookup) GroupListeners(ctx context.Context) ([]channelaudience.Person, error) {
	list, err := l.p.d.Store.ChannelGroupListeners(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]channelaudience.Person, 0, len(list))
	for _, u := range list {
		out = append(out, channelaudience.Person{TeamsUserID: u.TeamsUserID, MMUserID: u.MMUserID, GroupMentions: u.GroupMentions, ThreadReplies: u.ThreadReplies})
	}
	return out, nil
}

// Members: a channel mention reaches whoever reads that channel, which for a standard channel is the team.
func (l lookup) Members(ctx context.Context, m channelaudience.Mention) (map[string]bool, error) {
	switch m.Kind {
	case channelaudience.KindTeam:
		set, err := l.p.members(ctx, "team:"+m.ID, func(g Graph) ([]graph.TeamMember, error) { return g.TeamMembers(ctx, m.ID) })
		return set.ids, err
	case channelaudience.KindChannel:
		set, err := l.p.readers(ctx, l.teamID, m.ID)
		return set.ids, err
	case channelaudience.KindTag:
		set, err := l.p.members(ctx, "tag:"+l.teamID+"/"+m.ID, func(g Graph) ([]graph.TeamMember, error) {
			ids, err := g.TagMembers(ctx, l.teamID, m.ID)
			out := make([]graph.TeamMember, len(ids))
			for i, id := range ids {
				out[i] = graph.TeamMember{UserID: id}
			}
			return out, err
		})
		return set.ids, err
	}
	return nil, errors.Errorf("no members for a %s mention", m.Kind)
}

func (l lookup) Readers(ctx context.Context, ids []string) (map[string]bool, error) {
	all, err := l.p.readersWith(ctx, l.teamID, l.channelID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = all.ids[id]
	}
	return out, nil
}

// memberSet is a member list: who is in it, and which of them are the tenant's guests.
type memberSet struct {
	ids, guests map[string]bool
}

// readers are who can read a channel: the team's members for a standard channel, the channel's own members for
// a private or shared one.
func (p *Processor) readers(ctx context.Context, teamID, channelID string) (memberSet, error) {
	return p.readersWith(ctx, teamID, channelID, nil)
}

// readersWith is readers, read again from Graph when one of ids is missing from a list older than
// Options.RecheckAfter: someone just added to the team or channel is then known without waiting for the list
// to expire.
func (p *Processor) readersWith(ctx context.Context, teamID, channelID string, ids []string) (memberSet, error) {
	info, err := p.channel(ctx, teamID, channelID)
	if err != nil {
		return memberSet{}, err
	}
	key, read := "team:"+teamID, func(g Graph) ([]graph.TeamMember, error) { return g.TeamMembers(ctx, teamID) }
	if info.MembershipType != "" && info.MembershipType != "standard" {
		key, read = "channel:"+teamID+"/"+channelID, func(g Graph) ([]graph.TeamMember, error) { return g.ChannelMembers(ctx, teamID, channelID) }
	}
	set, err := p.members(ctx, key, read)
	if err != nil {
		return set, err
	}
	for _, id := range ids {
		if !set.ids[id] {
			if !p.memberLists.readBefore(key, p.o.RecheckAfter, p.o.Now()) {
				return set, nil
			}
			p.memberLists.forget(key)
			return p.members(ctx, key, read)
		}
	}
	return set, nil
}

// members returns a cached member list, reading it once (singleflight) when missing or expired.
func (p *Processor) members(ctx context.Context, key string, read func(Graph) ([]graph.TeamMember, error)) (memberSet, error) {
	if m, ok := p.memberLists.get(key, p.o.Now()); ok {
		return m, nil
	}
	v, err, _ := p.fetches.Do(key, func() (any, error) {
		g := p.d.Graph()
		if g == nil {
			return nil, errors.New("Graph is not configured")
		}
		list, err := read(g)
		if err != nil {
			return nil, err
		}
		set := memberSet{ids: make(map[string]bool, len(list)), guests: map[string]bool{}}
		for _, m := range list {
			set.ids[m.UserID] = true
			if m.Guest {
				set.guests[m.UserID] = true
			}
		}
		p.memberLists.put(key, set, len(set.ids), p.o.Now())
		return set, nil
	})
	if err != nil {
		return memberSet{}, classify(errors.Wrapf(err, "read members (%s)", kindOf(key)))
	}
	return v.(memberSet), nil
}

func kindOf(key string) string {
	for i := range key {
		if key[i] == ':' {
			return key[:i]
		}
	}
	return key
}

// channelInfo is what a DM names and what decides who reads the channel.
type channelInfo struct {
	TeamName, ChannelName, MembershipType string
}

func (p *Processor) channel(ctx context.Context, teamID, channelID string) (channelInfo, error) {
	key := teamID + "/" + channelID
	if c, ok := p.channels.get(key, p.o.Now()); ok {
		return c, nil
	}
	v, err, _ := p.fetches.Do("info:"+key, func() (any, error) {
		g := p.d.Graph()
		if g == nil {
			return nil, errors.New("Graph is not configured")
		}
		ch, err := g.GetChannel(ctx, teamID, channelID)
		if err != nil {
			return nil, errors.Wrap(err, "get channel")
		}
		team, err := g.GetTeam(ctx, teamID)
		if err != nil {
			return nil, errors.Wrap(err, "get team")
		}
		info := channelInfo{TeamName: team.DisplayName, ChannelName: ch.DisplayName, MembershipType: ch.MembershipType}
		p.channels.put(key, info, 1, p.o.Now())
		return info, nil
	})
	if err != nil {
		return channelInfo{}, classify(err)
	}
	return v.(channelInfo), nil
}

// mentions maps the message's mentions onto channelaudience's kinds.
func mentions(msg graph.Message) []channelaudience.Mention {
	var out []channelaudience.Mention
	for _, m := range msg.Mentions {
		switch {
		case m.UserID != "":
			out = append(out, channelaudience.Mention{Kind: channelaudience.KindUser, ID: m.UserID})
		case m.TagID != "":
			out = append(out, channelaudience.Mention{Kind: channelaudience.KindTag, ID: m.TagID})
		case m.ConversationID != "" && m.ConversationType == "team":
			out = append(out, channelaudience.Mention{Kind: channelaudience.KindTeam, ID: m.ConversationID})
		case m.ConversationID != "" && m.ConversationType == "channel":
			out = append(out, channelaudience.Mention{Kind: channelaudience.KindChannel, ID: m.ConversationID})
		}
	}
	return out
}

// threadKey names a Teams thread in the reply threads table, which chats key by chat id: the shape
// "teamID/channelID/rootID" can never be a chat id.
func threadKey(teamID, channelID, rootID string) string {
	return fmt.Sprintf("%s/%s/%s", teamID, channelID, rootID)
}

// chatKey is the chat id column of the posts map for a channel's messages: "teamID/channelID".
func chatKey(teamID, channelID string) string { return teamID + "/" + channelID }
