package graph

import (
	"context"
	"strings"
	"time"

	"github.com/pkg/errors"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/teams"
)

// Teams channels, read with the app's token: the message of a channel notification, its thread, and the members
// of a team, channel or tag it mentions (issue 17).

// maxMemberPages bounds one member list: 10,000 members at Graph's page sizes, and no endless loop on a server
// that keeps answering nextLinks.
const maxMemberPages = 200

// Team is a team's name, for DM headers.
type Team struct {
	ID          string
	DisplayName string
}

// Channel is a channel of a team. MembershipType is standard, private or shared: in a standard channel every
// team member can read, in the others only the channel's members.
type Channel struct {
	ID             string
	TeamID         string
	DisplayName    string
	MembershipType string
	WebURL         string
}

func (c *Client) teams() *teams.TeamsRequestBuilder {
	return teams.NewTeamsRequestBuilderInternal(c.pathParams, c.adapter)
}

// GetTeam returns a team's id and name.
func (c *Client) GetTeam(ctx context.Context, teamID string) (Team, error) {
	t, err := c.teams().ByTeamId(teamID).Get(ctx, &teams.TeamItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &teams.TeamItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
	})
	if err != nil {
		return Team{}, wrapErr(err, "get team")
	}
	return Team{ID: deref(t.GetId()), DisplayName: deref(t.GetDisplayName())}, nil
}

// GetChannel returns a channel with its membership type. Graph names "shared" only to clients that ask for
// evolvable enum members.
func (c *Client) GetChannel(ctx context.Context, teamID, channelID string) (Channel, error) {
	h := abstractions.NewRequestHeaders()
	h.Add("Prefer", "include-unknown-enum-members")
	ch, err := c.teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Get(ctx,
		&teams.ItemChannelsChannelItemRequestBuilderGetRequestConfiguration{Headers: h})
	if err != nil {
		return Channel{}, wrapErr(err, "get channel")
	}
	out := Channel{ID: deref(ch.GetId()), TeamID: teamID, DisplayName: deref(ch.GetDisplayName()), WebURL: deref(ch.GetWebUrl())}
	if t := ch.GetMembershipType(); t != nil {
		out.MembershipType = t.String()
	}
	return out, nil
}

// GetChannelMessage returns a channel message, or a reply when replyID is set.
func (c *Client) GetChannelMessage(ctx context.Context, teamID, channelID, messageID, replyID string) (Message, error) {
	msgs := c.teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages().ByChatMessageId(messageID)
	var m models.ChatMessageable
	var err error
	if replyID == "" {
		m, err = msgs.Get(ctx, nil)
	} else {
		m, err = msgs.Replies().ByChatMessageId1(replyID).Get(ctx, nil)
	}
	if err != nil {
		return Message{}, wrapErr(err, "get channel message")
	}
	msg := messageFromModel(m)
	if msg.TeamID == "" {
		msg.TeamID, msg.ChannelID = teamID, channelID
	}
	if replyID != "" && msg.ReplyToID == "" {
		msg.ReplyToID = messageID
	}
	return msg, nil
}

// GetChannelHostedContent downloads an inline image (or code snippet) of a channel message with its content
// type; rootID names the thread's first message when messageID is a reply.
func (c *Client) GetChannelHostedContent(ctx context.Context, teamID, channelID, rootID, messageID, hostedContentID string, maxBytes int64) (HostedContent, error) {
	msgs := c.teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages()
	var info *abstractions.RequestInformation
	var err error
	if rootID == "" || rootID == messageID {
		info, err = msgs.ByChatMessageId(messageID).HostedContents().ByChatMessageHostedContentId(hostedContentID).
			Content().ToGetRequestInformation(ctx, nil)
	} else {
		info, err = msgs.ByChatMessageId(rootID).Replies().ByChatMessageId1(messageID).HostedContents().
			ByChatMessageHostedContentId(hostedContentID).Content().ToGetRequestInformation(ctx, nil)
	}
	if err != nil {
		return HostedContent{}, errors.Wrap(err, "build channel hosted content request")
	}
	data, contentType, err := c.rawGraphGet(ctx, info, maxBytes)
	if err != nil {
		return HostedContent{}, wrapErr(err, "get channel hosted content")
	}
	return HostedContent{Data: data, ContentType: contentType}, nil
}

// ThreadParticipants returns the Entra ids of a thread's author and of everyone who replied in it.
func (c *Client) ThreadParticipants(ctx context.Context, teamID, channelID, messageID string) ([]string, error) {
	root, err := c.GetChannelMessage(ctx, teamID, channelID, messageID, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if !root.From.IsApplication {
		add(root.From.UserID)
	}
	replies := c.teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Messages().ByChatMessageId(messageID).Replies()
	_, err = eachPage(maxListPages, func(next string) (models.ChatMessageCollectionResponseable, error) {
		if next == "" {
			return replies.Get(ctx, nil)
		}
		return replies.WithUrl(next).Get(ctx, nil)
	}, func(m models.ChatMessageable) {
		if r := messageFromModel(m); !r.From.IsApplication && r.DeletedAt.IsZero() {
			add(r.From.UserID)
		}
	})
	if err != nil {
		return nil, wrapErr(err, "list thread replies")
	}
	return out, nil
}

// TeamMember is a member of a team or channel. Guest is Teams' "guest" role: a B2B guest of the tenant.
type TeamMember struct {
	UserID string
	Guest  bool
}

// TeamMembers returns a team's members.
func (c *Client) TeamMembers(ctx context.Context, teamID string) ([]TeamMember, error) {
	members := c.teams().ByTeamId(teamID).Members()
	out, err := listMembers(func(next string) (models.ConversationMemberCollectionResponseable, error) {
		if next == "" {
			return members.Get(ctx, nil)
		}
		return members.WithUrl(next).Get(ctx, nil)
	})
	return out, wrapErr(err, "list team members")
}

// ChannelMembers returns a channel's members (for a standard channel Graph lists the team's).
func (c *Client) ChannelMembers(ctx context.Context, teamID, channelID string) ([]TeamMember, error) {
	members := c.teams().ByTeamId(teamID).Channels().ByChannelId(channelID).Members()
	out, err := listMembers(func(next string) (models.ConversationMemberCollectionResponseable, error) {
		if next == "" {
			return members.Get(ctx, nil)
		}
		return members.WithUrl(next).Get(ctx, nil)
	})
	return out, wrapErr(err, "list channel members")
}

// TagMembers returns the Entra ids of a tag's members.
func (c *Client) TagMembers(ctx context.Context, teamID, tagID string) ([]string, error) {
	members := c.teams().ByTeamId(teamID).Tags().ByTeamworkTagId(tagID).Members()
	var out []string
	_, err := eachPage(maxMemberPages, func(next string) (models.TeamworkTagMemberCollectionResponseable, error) {
		if next == "" {
			return members.Get(ctx, nil)
		}
		return members.WithUrl(next).Get(ctx, nil)
	}, func(m models.TeamworkTagMemberable) {
		if id := deref(m.GetUserId()); id != "" {
			out = append(out, id)
		}
	})
	if err != nil {
		return nil, wrapErr(err, "list tag members")
	}
	return out, nil
}

// graphPage is one page of a Graph collection.
type graphPage[T any] interface {
	GetValue() []T
	GetOdataNextLink() *string
}

// eachPage reads a collection page by page: the page get("") answers, then those its nextLinks name, at most
// maxPages (no endless loop on a server that keeps answering nextLinks). Each item goes to keep; more reports
// that pages were left at the limit.
func eachPage[T any, P graphPage[T]](maxPages int, get func(nextLink string) (P, error), keep func(T)) (more bool, err error) {
	next := ""
	for n := 1; ; n++ {
		page, err := get(next)
		if err != nil {
			return false, err
		}
		for _, v := range page.GetValue() {
			keep(v)
		}
		if next = deref(page.GetOdataNextLink()); next == "" {
			return false, nil
		}
		if n >= maxPages {
			return true, nil
		}
	}
}

// listMembers reads a team's or channel's member list (see memberOf).
func listMembers(get func(nextLink string) (models.ConversationMemberCollectionResponseable, error)) ([]TeamMember, error) {
	var out []TeamMember
	_, err := eachPage(maxMemberPages, get, func(m models.ConversationMemberable) {
		if member, ok := memberOf(m); ok {
			out = append(out, member)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// memberOf reads an Entra user among conversation members; members of other kinds (none today) are skipped. A
// member parsed without its @odata.type keeps userId in additional data.
func memberOf(m models.ConversationMemberable) (TeamMember, bool) {
	if m == nil {
		return TeamMember{}, false
	}
	id := ""
	if u, ok := m.(models.AadUserConversationMemberable); ok {
		id = deref(u.GetUserId())
	}
	if id == "" {
		if v, ok := m.GetAdditionalData()["userId"].(*string); ok && v != nil {
			id = *v
		}
	}
	member := TeamMember{UserID: id}
	for _, r := range m.GetRoles() {
		member.Guest = member.Guest || strings.EqualFold(r, "guest")
	}
	return member, id != ""
}

// channelMessagesPageSize is Graph's largest page for channels/getAllMessages.
const channelMessagesPageSize = 50

// ChannelMessagesSince returns the roots and replies of a team's standard and private channels last modified
// after since: GET /teams/{id}/channels/getAllMessages with a lastModifiedDateTime filter (app-only,
// ChannelMessage.Read.All), following nextLinks for at most maxPages pages. more is true when pages were left,
// so that the caller can say the catch-up is incomplete instead of silently dropping the rest.
func (c *Client) ChannelMessagesSince(ctx context.Context, teamID string, since time.Time, maxPages int) (msgs []Message, more bool, err error) {
	filter := "lastModifiedDateTime gt " + since.UTC().Format("2006-01-02T15:04:05.000Z")
	top := int32(channelMessagesPageSize)
	all := c.teams().ByTeamId(teamID).Channels().GetAllMessages()
	more, err = eachPage(maxPages, func(next string) (teams.ItemChannelsGetAllMessagesGetResponseable, error) {
		if next == "" {
			return all.GetAsGetAllMessagesGetResponse(ctx, &teams.ItemChannelsGetAllMessagesRequestBuilderGetRequestConfiguration{
				QueryParameters: &teams.ItemChannelsGetAllMessagesRequestBuilderGetQueryParameters{Filter: &filter, Top: &top},
			})
		}
		return all.WithUrl(next).GetAsGetAllMessagesGetResponse(ctx, nil)
	}, func(m models.ChatMessageable) {
		msg := messageFromModel(m)
		if msg.TeamID == "" {
			msg.TeamID = teamID
		}
		// Graph may ignore a filter it cannot apply; enforce it.
		if msg.LastModifiedAt.IsZero() || msg.LastModifiedAt.After(since) {
			msgs = append(msgs, msg)
		}
	})
	if err != nil {
		return nil, false, wrapErr(err, "list channel messages since")
	}
	return msgs, more, nil
}
