package graphsim

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pkg/errors"
)

// Graph's write side of chat messages: POST /chats/{id}/messages and the
// setReaction/unsetReaction actions, both only for a signed-in user (delegated).

var (
	// sendDelegated are the delegated permissions chat-post-messages documents
	// (least privileged first).
	sendDelegated = []string{"ChatMessage.Send", "Chat.ReadWrite", "Group.ReadWrite.All"}
	// reactDelegated are those of chatmessage-setreaction / -unsetreaction for chats.
	reactDelegated = []string{"ChatMessage.Send", "Chat.ReadWrite"}
	// sendApp is the only application permission chat-post-messages lists; it
	// works for chats in migration mode only.
	sendApp = []string{"Teamwork.Migrate.All"}
)

// Graph's generic answer to a body it cannot use (seen for bad hostedContents).
const invalidBody = "Invalid request body was sent."

// postedMessage is the part of a chatMessage a client may POST.
type postedMessage struct {
	Subject    string `json:"subject"`
	Importance string `json:"importance"`
	Body       *struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Mentions []struct {
		ID          *int   `json:"id"`
		MentionText string `json:"mentionText"`
		Mentioned   *struct {
			User *struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"mentioned"`
	} `json:"mentions"`
	HostedContents []struct {
		TemporaryID  string `json:"@microsoft.graph.temporaryId"`
		ContentBytes string `json:"contentBytes"`
		ContentType  string `json:"contentType"`
	} `json:"hostedContents"`
	Attachments []Attachment `json:"attachments"`
}

// badRequest is a 400 answer with Graph's code and a message.
type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

// parsePostedMessage validates a POSTed chatMessage the way Graph does and
// turns it into a NewMessage (without From). Errors are badRequest.
func parsePostedMessage(raw []byte) (NewMessage, error) {
	var pm postedMessage
	if err := json.Unmarshal(raw, &pm); err != nil {
		return NewMessage{}, badRequest{"Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."}
	}
	if pm.Body == nil || (strings.TrimSpace(pm.Body.Content) == "" && len(pm.Attachments) == 0) {
		return NewMessage{}, badRequest{"Message body cannot be empty."}
	}
	// Graph's itemBody defaults to text when contentType is left out.
	ct := strings.ToLower(pm.Body.ContentType)
	switch ct {
	case "":
		ct = "text"
	case "text", "html":
	default:
		return NewMessage{}, badRequest{invalidBody}
	}
	imp := strings.ToLower(pm.Importance)
	switch imp {
	case "", "normal", "high", "urgent":
	default:
		return NewMessage{}, badRequest{invalidBody}
	}
	nm := NewMessage{HTML: pm.Body.Content, ContentType: ct, Subject: pm.Subject, Importance: imp}
	seen := map[int]bool{}
	for _, mn := range pm.Mentions {
		if mn.ID == nil || mn.Mentioned == nil || mn.Mentioned.User == nil || mn.Mentioned.User.ID == "" || seen[*mn.ID] {
			return NewMessage{}, badRequest{invalidBody}
		}
		seen[*mn.ID] = true
		if ct != "html" || !hasMentionMarker(pm.Body.Content, *mn.ID, mn.MentionText) {
			marker := `<at id="` + strconv.Itoa(*mn.ID) + `">` + mn.MentionText + `</at>`
			return NewMessage{}, badRequest{"Neither Body nor adaptive card content contains marker for mention with Id '" + strconv.Itoa(*mn.ID) + "'. Add '" + marker + "' to the body or an adaptive card."}
		}
		nm.Mentions = append(nm.Mentions, Mention{ID: *mn.ID, MentionText: mn.MentionText, UserID: mn.Mentioned.User.ID})
	}
	temp := map[string]bool{}
	for _, h := range pm.HostedContents {
		b, err := base64.StdEncoding.DecodeString(h.ContentBytes)
		ref := "../hostedContents/" + h.TemporaryID + "/$value"
		if h.TemporaryID == "" || temp[h.TemporaryID] || h.ContentType == "" || err != nil || len(b) == 0 ||
			ct != "html" || !strings.Contains(nm.HTML, ref) {
			return NewMessage{}, badRequest{invalidBody}
		}
		temp[h.TemporaryID] = true
		// Teams hosted content ids are opaque base64 blobs, distinct per message.
		id := base64.RawURLEncoding.EncodeToString([]byte("id=x_0-wus-d1-" + randomToken(16) + ",type=1"))
		nm.Hosted = append(nm.Hosted, HostedContent{ID: id, ContentType: h.ContentType, Bytes: b})
		nm.HTML = strings.ReplaceAll(nm.HTML, ref, "{{hosted:"+id+"}}")
	}
	if hostedPostRef.MatchString(nm.HTML) {
		// The body points at a temporaryId no hostedContents item carries.
		return NewMessage{}, badRequest{invalidBody}
	}
	for _, a := range pm.Attachments {
		if a.ID == "" || a.ContentType == "" || !strings.Contains(pm.Body.Content, `<attachment id="`+a.ID+`">`) {
			return NewMessage{}, badRequest{invalidBody}
		}
		nm.Attachments = append(nm.Attachments, a)
	}
	return nm, nil
}

// hasMentionMarker reports whether the body holds <at id="N">mentionText</at>.
func hasMentionMarker(body string, id int, text string) bool {
	re := regexp.MustCompile(`(?is)<at\s+id\s*=\s*["']` + strconv.Itoa(id) + `["']\s*>(.*?)</at>`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		if strings.TrimSpace(html.UnescapeString(stripTags(m[1]))) == strings.TrimSpace(text) {
			return true
		}
	}
	return false
}

// senderMayWrite answers the permission errors of the write routes: app-only
// tokens need the migration role (and graphsim has no migration mode), and
// delegated ones need one of the documented scopes.
func senderMayWrite(w http.ResponseWriter, r *http.Request, ti TokenInfo, app, delegated []string) bool {
	if !requirePerm(w, r, ti, app, delegated) {
		return false
	}
	if ti.AppOnly {
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "Application permissions can only send messages to chats in migration mode.")
		return false
	}
	return true
}

// servePostMessage serves POST /chats/{id}/messages: the signed-in user sends
// a message, which is stored and notified like any other.
func (s *Sim) servePostMessage(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID string) {
	if !senderMayWrite(w, r, ti, sendApp, sendDelegated) {
		return
	}
	s.mu.Lock()
	_, ok := s.chatFor(w, r, ti, chatID)
	s.mu.Unlock()
	if !ok {
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", invalidBody)
		return
	}
	nm, err := parsePostedMessage(raw)
	if err != nil {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	nm.From = ti.UserID
	id, err := s.SendMessage(chatID, nm)
	if err != nil {
		// The user left the chat between the check and the send.
		writeODataError(w, r, http.StatusForbidden, "Forbidden", "Forbidden: the signed-in user is not a member of this chat.")
		return
	}
	s.mu.Lock()
	c := s.chats[chatID]
	out := s.renderMessage(c, c.byID[id], s.graphBase(r), includeUnknownEnums(r))
	s.mu.Unlock()
	out["@odata.context"] = s.graphBase(r) + "/$metadata#chats('" + url.PathEscape(chatID) + "')/messages/$entity"
	writeJSON(w, http.StatusCreated, out)
}

// legacyReactions are the named reaction types the chatMessageReaction
// resource still lists beside Unicode emoji.
var legacyReactions = map[string]bool{"like": true, "angry": true, "sad": true, "laugh": true, "heart": true, "surprised": true}

// validReactionType accepts what the reaction resource documents: Unicode
// emoji (any text without ASCII, which covers skin tones, ZWJ sequences and
// variation selectors) and the legacy names.
func validReactionType(t string) bool {
	if legacyReactions[t] {
		return true
	}
	if t == "" || !utf8.ValidString(t) || utf8.RuneCountInString(t) > 16 {
		return false
	}
	for _, r := range t {
		if r < utf8.RuneSelf {
			return false
		}
	}
	return true
}

// serveReaction serves POST /chats/{c}/messages/{m}/setReaction|unsetReaction.
func (s *Sim) serveReaction(w http.ResponseWriter, r *http.Request, ti TokenInfo, chatID, msgID string, set bool) {
	if !senderMayWrite(w, r, ti, nil, reactDelegated) {
		return
	}
	s.mu.Lock()
	c, ok := s.chatFor(w, r, ti, chatID)
	var m *message
	if ok {
		m = c.byID[msgID]
	}
	s.mu.Unlock()
	if !ok {
		return
	}
	if m == nil {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "Message not found.")
		return
	}
	var body struct {
		ReactionType string `json:"reactionType"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
		return
	}
	if !validReactionType(body.ReactionType) {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid reactionType '"+body.ReactionType+"'. Supply the reaction as a Unicode emoji.")
		return
	}
	var err error
	if set {
		err = s.setReaction(chatID, msgID, ti.UserID, body.ReactionType)
	} else {
		err = s.unsetReaction(chatID, msgID, ti.UserID, body.ReactionType)
	}
	if errors.Is(err, errMessageDeleted) {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Cannot react to a deleted message.")
		return
	}
	if err != nil {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "Message not found.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var errMessageDeleted = errors.New("message is deleted")

// setReaction gives userID's reaction on the message the type reactionType.
// Graph's setReaction keeps one reaction per user: a new type replaces the
// user's earlier one, and the same type again changes nothing.
func (s *Sim) setReaction(chatID, msgID, userID, reactionType string) error {
	return s.mutate(chatID, msgID, "updated", func(now time.Time, m *message) error {
		if !m.deleted.IsZero() {
			return errMessageDeleted
		}
		kept := m.reactions[:0:0]
		for _, rc := range m.reactions {
			if rc.userID == userID {
				if rc.reactionType == reactionType {
					return errUnchanged
				}
				continue
			}
			kept = append(kept, rc)
		}
		m.reactions = append(kept, reaction{reactionType: reactionType, displayName: reactionDisplayName(reactionType), userID: userID, created: now})
		m.modified = now
		return nil
	})
}

// unsetReaction removes userID's reaction of that type; removing one the user
// does not have changes nothing.
func (s *Sim) unsetReaction(chatID, msgID, userID, reactionType string) error {
	return s.mutate(chatID, msgID, "updated", func(now time.Time, m *message) error {
		if !m.deleted.IsZero() {
			return errMessageDeleted
		}
		kept := m.reactions[:0:0]
		for _, rc := range m.reactions {
			if rc.userID != userID || rc.reactionType != reactionType {
				kept = append(kept, rc)
			}
		}
		if len(kept) == len(m.reactions) {
			return errUnchanged
		}
		m.reactions = kept
		m.modified = now
		return nil
	})
}
