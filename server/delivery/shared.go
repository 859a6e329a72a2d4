package delivery

import (
	"context"
	"strings"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
)

// This file exports the pieces of chat delivery that channel delivery (package channeldelivery) applies in the
// same way, so that both paths share one set of rules and one set of caches: a user whose notifications
// preference changes is forgotten once (Forget) for both.

// Account returns why the Mattermost user gets no DM (SkipInactiveUser, SkipNotificationsOff), "" when they do,
// and their username for mentions; cached for Options.RecipientTTL.
func (p *Processor) Account(mmUserID string) (skip, username string, err error) {
	a, err := p.account(mmUserID)
	return a.skip, a.username, err
}

// ActiveInTeams reports which of the Teams users are at their Teams client (Teams notifies them itself), with
// the presence cache, batching and outage rules of chat delivery: users Graph says nothing about count as away.
func (p *Processor) ActiveInTeams(ctx context.Context, teamsUserIDs []string) map[string]bool {
	out := make(map[string]bool, len(teamsUserIDs))
	for id, pr := range p.presences(ctx, teamsUserIDs, nil) {
		out[id] = activeInTeams(pr)
	}
	return out
}

// DirectChannel returns the id of the DM channel between the bot and the user (cached).
func (p *Processor) DirectChannel(mmUserID string) (string, error) { return p.directChannel(mmUserID) }

// FormatMessage maps a Graph message onto package format's input, as chat DMs do.
func FormatMessage(msg graph.Message) format.Message { return formatMessage(msg) }

// InlineText makes Teams-supplied text (names, topics) inert inside "**…**" in the middle of a line.
func InlineText(s string) string { return inlineText(s) }

// MarkdownURL escapes a URL for a Markdown link target.
func MarkdownURL(u string) string { return markdownURL(u) }

// SenderMarker is "(Guest)", "(External)" or "" for the message's sender. guest says that their membership of
// the chat or channel has Teams' "guest" role; memberTenant is the tenant that membership names ("" when
// unknown), used when the message does not name the sender's tenant.
func SenderMarker(msg graph.Message, guest bool, memberTenant, ourTenant string) string {
	switch {
	case msg.From.IsApplication:
		return ""
	case guest:
		return "(Guest)"
	}
	switch strings.ToLower(msg.From.IdentityType) {
	case "", "aaduser", "onpremiseaaduser":
	default:
		return "(External)"
	}
	senderTenant := firstNonEmpty(msg.From.TenantID, memberTenant)
	if senderTenant == "" || ourTenant == "" || strings.EqualFold(senderTenant, ourTenant) {
		return ""
	}
	return "(External)"
}

// DeletedText keeps a DM's first paragraph (its header) and replaces the rest with the deleted-in-Teams note.
func DeletedText(posted string) string { return deletedText(posted) }

// ClassifyGraphError maps a Graph error onto the inbox's retry rules (throttling waits, refusals park, the rest
// backs off), as chat delivery does.
func ClassifyGraphError(err error) error { return classify(err) }
