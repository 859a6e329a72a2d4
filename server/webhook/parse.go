package webhook

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

// ResourceKind says what a notification's resource path points at.
type ResourceKind string

const (
	// KindChatMessage is chats('…')/messages('…'): what the plugin forwards.
	KindChatMessage ResourceKind = "chatMessage"
	// KindChannelMessage is teams('…')/channels('…')/messages('…')[/replies('…')]: parsed, but not supported.
	KindChannelMessage ResourceKind = "channelMessage"
	// KindUnknown is any other or unparsable resource.
	KindUnknown ResourceKind = "unknown"
)

// Lifecycle event names Graph sends.
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// Resource identifies the entity a notification is about. Ids are percent-decoded and OData-unquoted.
type Resource struct {
	Kind      ResourceKind
	ChatID    string
	MessageID string // for channel replies: the parent message
	TeamID    string
	ChannelID string
	ReplyID   string
}

// Item is one change notification. ClientState is only set while the webhook checks it: it is always empty in
// items handed to a Sink, so that the secret never reaches storage.
type Item struct {
	SubscriptionID         string
	ChangeType             string // created, updated or deleted
	ClientState            string
	Resource               string // as Graph sent it
	Kind                   ResourceKind
	ChatID                 string
	MessageID              string
	TeamID                 string // channel messages only (unsupported)
	ChannelID              string // channel messages only (unsupported)
	ReplyID                string // channel replies only (unsupported)
	TenantID               string
	SubscriptionExpiration time.Time // zero when absent or unparsable
	EncryptedContent       *richnotify.EncryptedContent

	lifecycleEvent string // set when a lifecycle event was sent to the change URL by mistake
}

// ChangeBatch is one POST to the change notification URL.
type ChangeBatch struct {
	Items            []Item
	ValidationTokens []string
}

// LifecycleEvent is one lifecycle notification. ClientState is cleared before events reach a LifecycleSink.
type LifecycleEvent struct {
	SubscriptionID         string
	LifecycleEvent         string // reauthorizationRequired, subscriptionRemoved, missed
	ClientState            string
	TenantID               string
	Resource               string
	SubscriptionExpiration time.Time
}

type rawItem struct {
	SubscriptionID                 string `json:"subscriptionId"`
	SubscriptionExpirationDateTime string `json:"subscriptionExpirationDateTime"`
	ChangeType                     string `json:"changeType"`
	ClientState                    string `json:"clientState"`
	Resource                       string `json:"resource"`
	ResourceData                   *struct {
		ID      string `json:"id"`
		ODataID string `json:"@odata.id"`
	} `json:"resourceData"`
	TenantID         string                       `json:"tenantId"`
	EncryptedContent *richnotify.EncryptedContent `json:"encryptedContent"`
	LifecycleEvent   string                       `json:"lifecycleEvent"`
}

type rawBatch struct {
	Value            *[]rawItem `json:"value"`
	ValidationTokens []string   `json:"validationTokens"`
}

// ErrMalformed is returned by the parsers for a body that is not a Graph notification payload.
var ErrMalformed = errors.New("malformed notification payload")

func decodeBatch(body []byte) (rawBatch, error) {
	var b rawBatch
	if len(bytes.TrimSpace(body)) == 0 {
		return b, errors.Wrap(ErrMalformed, "empty body")
	}
	if err := json.Unmarshal(body, &b); err != nil {
		// json errors name positions and types, never values, so they are safe to return.
		return b, errors.Wrap(ErrMalformed, err.Error())
	}
	if b.Value == nil {
		return b, errors.Wrap(ErrMalformed, `no "value" array`)
	}
	return b, nil
}

// ParseChanges decodes a change notification body. Items whose resource cannot be parsed are kept with
// Kind == KindUnknown so the caller can count and log them.
func ParseChanges(body []byte) (ChangeBatch, error) {
	raw, err := decodeBatch(body)
	if err != nil {
		return ChangeBatch{}, err
	}
	out := ChangeBatch{Items: make([]Item, 0, len(*raw.Value)), ValidationTokens: raw.ValidationTokens}
	for _, r := range *raw.Value {
		it := Item{
			SubscriptionID:         r.SubscriptionID,
			ChangeType:             r.ChangeType,
			ClientState:            r.ClientState,
			Resource:               r.Resource,
			TenantID:               r.TenantID,
			SubscriptionExpiration: parseTime(r.SubscriptionExpirationDateTime),
			EncryptedContent:       r.EncryptedContent,
			lifecycleEvent:         r.LifecycleEvent,
		}
		res, err := ParseResource(r.Resource)
		if err != nil && r.ResourceData != nil && r.ResourceData.ODataID != "" {
			// resourceData's @odata.id names the same entity; use it when the resource is in a form we miss.
			res, err = ParseResource(r.ResourceData.ODataID)
		}
		if err != nil {
			res = Resource{Kind: KindUnknown}
		}
		it.Kind, it.ChatID, it.MessageID = res.Kind, res.ChatID, res.MessageID
		it.TeamID, it.ChannelID, it.ReplyID = res.TeamID, res.ChannelID, res.ReplyID
		out.Items = append(out.Items, it)
	}
	return out, nil
}

// ParseLifecycle decodes a lifecycle notification body.
func ParseLifecycle(body []byte) ([]LifecycleEvent, error) {
	raw, err := decodeBatch(body)
	if err != nil {
		return nil, err
	}
	out := make([]LifecycleEvent, 0, len(*raw.Value))
	for _, r := range *raw.Value {
		out = append(out, LifecycleEvent{
			SubscriptionID:         r.SubscriptionID,
			LifecycleEvent:         r.LifecycleEvent,
			ClientState:            r.ClientState,
			TenantID:               r.TenantID,
			Resource:               r.Resource,
			SubscriptionExpiration: parseTime(r.SubscriptionExpirationDateTime),
		})
	}
	return out, nil
}

// parseTime accepts RFC 3339 with up to 9 fractional digits and any offset (Graph sends 7 digits).
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

type segment struct {
	name, key string
	hasKey    bool
}

// ParseResource reads a notification resource path. It accepts the OData key form chats('id')/messages('id') that
// Graph sends, the slash form chats/id/messages/id, an optional leading slash and a users('id')/ or me/ prefix.
// Quoted keys may escape a quote as ”; keys are percent-decoded.
func ParseResource(resource string) (Resource, error) {
	segs, err := splitResource(resource)
	if err != nil {
		return Resource{Kind: KindUnknown}, err
	}
	if len(segs) > 0 && strings.EqualFold(segs[0].name, "users") && segs[0].hasKey {
		segs = segs[1:]
	} else if len(segs) > 0 && strings.EqualFold(segs[0].name, "me") && !segs[0].hasKey {
		segs = segs[1:]
	}
	is := func(i int, name string) bool {
		return i < len(segs) && segs[i].hasKey && segs[i].key != "" && strings.EqualFold(segs[i].name, name)
	}
	switch {
	case len(segs) == 2 && is(0, "chats") && is(1, "messages"):
		return Resource{Kind: KindChatMessage, ChatID: segs[0].key, MessageID: segs[1].key}, nil
	case (len(segs) == 3 || len(segs) == 4 && is(3, "replies")) && is(0, "teams") && is(1, "channels") && is(2, "messages"):
		r := Resource{Kind: KindChannelMessage, TeamID: segs[0].key, ChannelID: segs[1].key, MessageID: segs[2].key}
		if len(segs) == 4 {
			r.ReplyID = segs[3].key
		}
		return r, nil
	}
	return Resource{Kind: KindUnknown}, errors.New("resource is not a chat or channel message")
}

func splitResource(s string) ([]segment, error) {
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return nil, errors.New("empty resource")
	}
	var segs []segment
	for s != "" {
		i := strings.IndexAny(s, "(/")
		if i < 0 {
			return append(segs, segment{name: s}), nil
		}
		name := s[:i]
		if name == "" {
			return nil, errors.New("empty path segment")
		}
		if s[i] == '/' {
			// Slash form: name/key/... for every collection; "me" stands alone.
			s = s[i+1:]
			if strings.EqualFold(name, "me") {
				segs = append(segs, segment{name: name})
				continue
			}
			j := strings.IndexByte(s, '/')
			raw := s
			if j >= 0 {
				raw, s = s[:j], s[j+1:]
			} else {
				s = ""
			}
			key, err := url.PathUnescape(raw)
			if err != nil {
				return nil, errors.Wrap(err, "decode key")
			}
			segs = append(segs, segment{name: name, key: key, hasKey: true})
			continue
		}
		key, rest, err := readKey(s[i+1:])
		if err != nil {
			return nil, err
		}
		segs = append(segs, segment{name: name, key: key, hasKey: true})
		s = rest
		if s != "" {
			if s[0] != '/' {
				return nil, errors.New("expected / after key")
			}
			s = s[1:]
			if s == "" {
				return nil, errors.New("trailing slash")
			}
		}
	}
	return segs, nil
}

// readKey reads "'id')rest" or "id)rest" after an opening parenthesis.
func readKey(s string) (key, rest string, err error) {
	if strings.HasPrefix(s, "'") {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '\'' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			if i+1 >= len(s) || s[i+1] != ')' {
				return "", "", errors.New("expected ) after quoted key")
			}
			key, err := url.PathUnescape(b.String())
			if err != nil {
				return "", "", errors.Wrap(err, "decode key")
			}
			return key, s[i+2:], nil
		}
		return "", "", errors.New("unterminated quoted key")
	}
	j := strings.IndexByte(s, ')')
	if j < 0 {
		return "", "", errors.New("unterminated key")
	}
	key, err = url.PathUnescape(s[:j])
	if err != nil {
		return "", "", errors.Wrap(err, "decode key")
	}
	return key, s[j+1:], nil
}
