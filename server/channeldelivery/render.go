package channeldelivery

import (
	"net/url"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/teamsnotify/msteams-sync/server/channelaudience"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
)

// Post props of a channel DM. They differ from the chat DMs' props on purpose: chat features (mute, replies to
// Teams, reactions) read msteams_chat_id and must not mistake a channel for a chat.
const (
	PropChannelKey = "msteams_channel_key" // "teamID/channelID", the posts map's chat id
	PropMessageID  = "msteams_channel_message_id"
	PropRootID     = "msteams_channel_root_id"
)

const (
	editedMarker = "*(edited)*"
	filesNote    = "*This message has files or images: open it in Teams to see them.*"
	followNote   = "*(Attachments follow.)*"
	emptyNote    = "*(This message has no text. Open it in Teams to see it.)*"
	titleWords   = 8
)

var reasonText = map[channelaudience.Reason]string{
	channelaudience.ReasonMentioned:        "mentioned you",
	channelaudience.ReasonTeamMentioned:    "mentioned the team",
	channelaudience.ReasonChannelMentioned: "mentioned the channel",
	channelaudience.ReasonTagMentioned:     "mentioned a tag you are in",
	channelaudience.ReasonThreadReply:      "replied in a thread you are in",
}

// header is the DM's first paragraph: who wrote where (marker is "(Guest)", "(External)" or ""), a link to
// Teams, the thread, and why this user is told. It holds no blank line, so edits and the deleted note keep it
// and replace only what follows.
func header(msg graph.Message, marker string, info channelInfo, thread string, reasons []channelaudience.Reason) string {
	who := "**" + delivery.InlineText(firstNonEmpty(msg.From.DisplayName, "Someone")) + "**"
	if marker != "" {
		who += " " + marker
	}
	verb := "wrote"
	if msg.ReplyToID != "" {
		verb = "replied"
	}
	line := who + " " + verb + " in **" + delivery.InlineText(firstNonEmpty(info.TeamName, "a team")) + "** › **" +
		delivery.InlineText(firstNonEmpty(info.ChannelName, "a channel")) + "** · [Open in Teams](" + delivery.MarkdownURL(teamsLink(msg)) + ")"
	var second []string
	if thread != "" {
		second = append(second, "Thread: **"+delivery.InlineText(thread)+"**")
	}
	var why []string
	for _, r := range reasons {
		if t := reasonText[r]; t != "" {
			why = append(why, t)
		}
	}
	if len(why) > 0 {
		second = append(second, "You get this because they "+strings.Join(why, " and ")+".")
	}
	if len(second) > 0 {
		line += "\n" + strings.Join(second, " · ")
	}
	return line
}

// body is the DM below the header: the converted message and the edited marker. Files and images follow in a
// reply to the DM (package attach, with each recipient's own rights) when attaching is on; otherwise a note
// sends the user to Teams for them.
func body(msg graph.Message, res format.Result, attaching bool) string {
	b := res.Markdown
	hasFiles := len(res.Files) > 0
	switch {
	case b == "" && hasFiles && attaching:
		b = followNote
	case b == "" && hasFiles:
		b = filesNote
	case b == "":
		b = emptyNote
	case hasFiles && !attaching:
		b += "\n\n" + filesNote
	}
	if !msg.LastEditedAt.IsZero() {
		b += "\n\n" + editedMarker
	}
	return b
}

// compose joins a header and a body within Mattermost's post size.
func compose(head, body string) string {
	out, _ := format.Truncate(head+"\n\n"+body, format.MaxMessageRunes)
	return out
}

// rehead keeps the header of a posted DM (its reasons are the recipient's own) and puts in the new body.
func rehead(posted, body string) string {
	head, _, _ := strings.Cut(posted, "\n\n")
	return compose(head, body)
}

// teamsLink is the message's webUrl, else a deep link built from its ids.
func teamsLink(msg graph.Message) string {
	if strings.HasPrefix(msg.WebURL, "https://") {
		return msg.WebURL
	}
	q := url.Values{"groupId": {msg.TeamID}}
	if msg.ReplyToID != "" {
		q.Set("parentMessageId", msg.ReplyToID)
	}
	return "https://teams.microsoft.com/l/message/" + url.PathEscape(msg.ChannelID) + "/" + url.PathEscape(msg.ID) + "?" + q.Encode()
}

// threadTitle is the thread's subject, else the first words of its first message.
func threadTitle(root graph.Message) string {
	if s := strings.TrimSpace(root.Subject); s != "" {
		return s
	}
	res, err := format.Convert(delivery.FormatMessage(root), format.Options{})
	if err != nil {
		return ""
	}
	words := strings.Fields(strings.NewReplacer("*", "", "_", "", "`", "", "#", "", ">", "").Replace(res.Markdown))
	if len(words) > titleWords {
		return strings.Join(words[:titleWords], " ") + "…"
	}
	return strings.Join(words, " ")
}

func postProps(msg graph.Message, key string) model.StringInterface {
	return model.StringInterface{
		PropChannelKey:               key,
		PropMessageID:                msg.ID,
		PropRootID:                   firstNonEmpty(msg.ReplyToID, msg.ID),
		delivery.PropSenderID:        msg.From.UserID,
		delivery.PropFromBot:         "true",
		format.PropRemoveLinkPreview: "true",
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
