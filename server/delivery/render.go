package delivery

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
)

// Post props set on every DM. The Teams ids let edits, deletes, attachments and crash recovery find the DM.
const (
	PropChatID    = "msteams_chat_id"
	PropMessageID = "msteams_message_id"
	PropSenderID  = "msteams_sender_id"
	PropFromBot   = "from_bot"
)

const (
	editedMarker = "*(edited)*"
	deletedNote  = "*This message was deleted in Teams.*"
	emptyNote    = "*(This message has no text. Open it in Teams to see it.)*"
)

// teamsLink opens the message in Teams: the message's own webUrl when Graph gave one.
func teamsLink(msg graph.Message) string {
	if strings.HasPrefix(msg.WebURL, "https://") {
		return msg.WebURL
	}
	return "https://teams.microsoft.com/l/message/" + msg.ChatID + "/" + msg.ID + "?context=%7B%22contextType%22%3A%22chat%22%7D"
}

// header is the first paragraph of every DM: who wrote, where, and a link to the message in Teams. It is a
// single line, so the deleted-message edit can find it again in the posted text. ourTenant is the configured
// tenant id, against which senders are marked External.
func header(msg graph.Message, chat graph.Chat, senderName, ourTenant string) string {
	who := "**" + inlineText(firstNonEmpty(senderName, msg.From.DisplayName, "Someone")) + "**"
	if marker := senderMarker(msg, chat, ourTenant); marker != "" {
		who += " " + marker
	}
	var where string
	switch chat.Type {
	case "oneOnOne":
		where = "sent you a message in a Teams chat"
	case "meeting":
		where = "wrote in the Teams meeting chat " + chatName(chat)
	default:
		where = "wrote in the Teams group chat " + chatName(chat)
	}
	return who + " " + where + " · [Open in Teams](" + markdownURL(teamsLink(msg)) + ")"
}

// senderMarker marks senders from outside the organisation the way Teams does: "(Guest)" for a guest account in
// our tenant (its chat membership has the "guest" role), "(External)" for anyone else from outside: a
// non-Entra identity type (federated, personal Microsoft account, Skype, phone, e-mail, anonymous) or an Entra
// user whose tenant (from the message, else from the chat membership) is not ours. A sender whose tenant Graph
// does not give, or any sender while no tenant is configured, is not marked: better no marker than a wrong one.
func senderMarker(msg graph.Message, chat graph.Chat, ourTenant string) string {
	guest, memberTenant := false, ""
	for _, m := range chat.Members {
		if m.UserID != msg.From.UserID {
			continue
		}
		for _, r := range m.Roles {
			guest = guest || strings.EqualFold(r, "guest")
		}
		memberTenant = m.TenantID
	}
	return SenderMarker(msg, guest, memberTenant, ourTenant)
}

func chatName(chat graph.Chat) string {
	members := fmt.Sprintf("%d members", len(chat.Members))
	if topic := strings.TrimSpace(chat.Topic); topic != "" {
		return "**" + inlineText(topic) + "** (" + members + ")"
	}
	return "(" + members + ")"
}

// messageText is the whole DM text for the current version of a message.
func messageText(head string, res format.Result, edited bool) string {
	body := res.Markdown
	if body == "" {
		body = emptyNote
		if len(res.Files) > 0 {
			body = "*(Attachments follow.)*"
		}
	}
	text := head + "\n\n" + body
	if edited {
		text += "\n\n" + editedMarker
	}
	out, _ := format.Truncate(text, format.MaxMessageRunes)
	return out
}

// deletedText keeps the DM's header and replaces the rest with a note.
func deletedText(posted string) string {
	head, _, _ := strings.Cut(posted, "\n\n")
	if head == "" || head == deletedNote {
		return deletedNote
	}
	return head + "\n\n" + deletedNote
}

// postProps are the props of a DM. Link previews are always off: the header links to Teams (a preview of the
// Teams sign-in page helps nobody), and Teams showed no preview of the links in the message either.
func postProps(msg graph.Message) model.StringInterface {
	return model.StringInterface{
		PropChatID:                   msg.ChatID,
		PropMessageID:                msg.ID,
		PropSenderID:                 msg.From.UserID,
		PropFromBot:                  "true",
		format.PropRemoveLinkPreview: "true",
	}
}

// inlineText makes Teams-supplied text (display names, topics) inert in Markdown: no formatting, links or
// mentions of its own. It always sits inside "**…**" in the middle of a line, never at a line start, so only
// what Markdown reads there is escaped: emphasis, code, strikethrough, link brackets and a "<" that would open
// an autolink. ". ! - ( ) #" and the like mean nothing there, and each backslash would show as is in push
// notifications and e-mail.
func inlineText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune("\\`*_~[]", r):
			b.WriteByte('\\')
		case r == '<' && autolinkStartRe.MatchString(s[i+1:]):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return format.EscapeMentions(b.String())
}

// autolinkStartRe matches what makes "<" open a CommonMark autolink: a URI scheme or an e-mail address up to
// the closing ">".
var autolinkStartRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]{1,31}:|[^\s<>@]+@[^\s<>@]+>)`)

func markdownURL(u string) string {
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E").Replace(u)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// formatMessage maps a Graph message onto format's input.
func formatMessage(msg graph.Message) format.Message {
	out := format.Message{
		Body: msg.BodyHTML, BodyType: msg.BodyType, Subject: msg.Subject, Importance: msg.Importance,
		Deleted: !msg.DeletedAt.IsZero(),
	}
	for _, m := range msg.Mentions {
		fm := format.Mention{ID: m.ID, Text: m.Text}
		switch {
		case m.UserID != "":
			fm.Kind, fm.UserID = format.MentionUser, m.UserID
		case m.ConversationID != "":
			fm.Kind, fm.UserID = format.MentionConversation, m.ConversationID
		case m.ApplicationID != "":
			fm.Kind, fm.UserID = format.MentionApplication, m.ApplicationID
		default:
			fm.Kind = format.MentionTag
		}
		out.Mentions = append(out.Mentions, fm)
	}
	for _, a := range msg.Attachments {
		out.Attachments = append(out.Attachments, format.Attachment{
			ID: a.ID, ContentType: a.ContentType, ContentURL: a.ContentURL, Content: a.Content, Name: a.Name,
			ThumbnailURL: a.ThumbnailURL,
		})
	}
	return out
}
