package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/pkg/errors"
)

// graphMessage is the subset of Graph's chatMessage (as POSTed to
// /chats/{id}/messages or as read back) that graphsim can replay.
type graphMessage struct {
	MessageType string `json:"messageType"`
	Subject     string `json:"subject"`
	Importance  string `json:"importance"`
	Body        struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	From *struct {
		User *struct {
			ID string `json:"id"`
		} `json:"user"`
		Application *struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"application"`
	} `json:"from"`
	Mentions []struct {
		ID          int    `json:"id"`
		MentionText string `json:"mentionText"`
		Mentioned   struct {
			User *struct {
				ID string `json:"id"`
			} `json:"user"`
			Conversation *struct {
				ID                       string `json:"id"`
				ConversationIdentityType string `json:"conversationIdentityType"`
			} `json:"conversation"`
			Tag *struct {
				ID string `json:"id"`
			} `json:"tag"`
		} `json:"mentioned"`
	} `json:"mentions"`
	Attachments    []Attachment `json:"attachments"`
	HostedContents []struct {
		TemporaryID  string `json:"@microsoft.graph.temporaryId"`
		ID           string `json:"id"`
		ContentBytes []byte `json:"contentBytes"`
		ContentType  string `json:"contentType"`
	} `json:"hostedContents"`
	EventDetail map[string]any `json:"eventDetail"`
}

// hostedPostRef is how a Graph POST body points at one of its own hostedContents.
var hostedPostRef = regexp.MustCompile(`\.\./hostedContents/([^/"']+)/\$value`)

// ParseGraphMessage turns a Graph chatMessage JSON document into a NewMessage, so
// a message captured from real Teams (or written from Microsoft's examples) can
// be replayed. Inline images use Graph's POST convention: hostedContents items
// with "@microsoft.graph.temporaryId" and contentBytes, referenced from the body
// as "../hostedContents/{temporaryId}/$value".
func ParseGraphMessage(b []byte) (NewMessage, error) {
	var g graphMessage
	if err := json.Unmarshal(b, &g); err != nil {
		return NewMessage{}, errors.Wrap(err, "parse chatMessage JSON")
	}
	m := NewMessage{
		HTML: g.Body.Content, ContentType: strings.ToLower(g.Body.ContentType), Subject: g.Subject,
		Importance: g.Importance, MessageType: g.MessageType, Attachments: g.Attachments, EventDetail: g.EventDetail,
	}
	if m.MessageType == "unknownFutureValue" {
		m.MessageType = "systemEventMessage"
	}
	if g.From != nil {
		switch {
		case g.From.Application != nil:
			m.FromBot = &Bot{ID: g.From.Application.ID, DisplayName: g.From.Application.DisplayName}
		case g.From.User != nil:
			m.From = g.From.User.ID
		}
	}
	for _, mn := range g.Mentions {
		out := Mention{ID: mn.ID, MentionText: mn.MentionText}
		conv := mn.Mentioned.Conversation
		switch {
		case mn.Mentioned.User != nil:
			out.UserID = mn.Mentioned.User.ID
		case conv != nil && conv.ConversationIdentityType == "team":
			out.TeamID = conv.ID
		case conv != nil && conv.ConversationIdentityType == "channel":
			out.ChannelID = conv.ID
		case mn.Mentioned.Tag != nil:
			out.TagID = mn.Mentioned.Tag.ID
		default:
			return NewMessage{}, errors.Errorf("mention %d: only user, team, channel and tag mentions are supported", mn.ID)
		}
		m.Mentions = append(m.Mentions, out)
	}
	for _, h := range g.HostedContents {
		ref := h.TemporaryID
		if ref == "" {
			ref = h.ID
		}
		if ref == "" || len(h.ContentBytes) == 0 {
			return NewMessage{}, errors.New("hostedContents items need @microsoft.graph.temporaryId and contentBytes")
		}
		// Teams hosted content ids are base64 blobs; derive one from the temporary id.
		id := base64.RawURLEncoding.EncodeToString([]byte("id=x_" + ref + ",type=1"))
		m.Hosted = append(m.Hosted, HostedContent{ID: id, ContentType: h.ContentType, Bytes: h.ContentBytes})
		m.HTML = strings.ReplaceAll(m.HTML, "../hostedContents/"+ref+"/$value", "{{hosted:"+id+"}}")
	}
	if rest := hostedPostRef.FindStringSubmatch(m.HTML); rest != nil {
		return NewMessage{}, errors.Errorf("body refers to hostedContents/%s, which the message does not carry", rest[1])
	}
	return m, nil
}
