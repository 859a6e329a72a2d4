package inbox

import (
	"encoding/json"
	"time"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

// QueueChannelChanges carries changes of Teams channel messages and replies (issue 17): the webhook and the
// channel catch-up enqueue ChannelChange payloads, channel delivery consumes them.
const QueueChannelChanges = "channel_changes"

// ChannelChange is the JSON payload of queue "channel_changes": one channel message or reply was created,
// updated or deleted. For a reply, MessageID is the reply's id and RootID the id of the thread's first message;
// for a thread's first message RootID is empty.
type ChannelChange struct {
	ChangeType     string // created|updated|deleted
	TeamID         string
	ChannelID      string
	MessageID      string
	RootID         string `json:",omitempty"`
	TenantID       string
	SubscriptionID string
	// Encrypted is the rich notification content, still encrypted to our RSA key.
	Encrypted *richnotify.EncryptedContent `json:",omitempty"`
	// Message is the full chatMessage JSON when it is already known (catch-up).
	Message    json.RawMessage `json:",omitempty"`
	Source     string          // SourceWebhook | SourceCatchup
	ReceivedAt time.Time
}

// DedupeKey collapses repeats of one change of one message while they wait. It has the shape of
// Change.DedupeKey, with "teamID/channelID" in the chat's place, so ChatOrder keeps a channel's changes in order.
func (c ChannelChange) DedupeKey() string {
	return c.ChangeType + "|" + c.TeamID + "/" + c.ChannelID + "|" + c.MessageID
}
