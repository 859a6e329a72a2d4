package diagnostics

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/teamsnotify/msteams-sync/server/command"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/graph"
)

// Markdown renders the report for a Mattermost post.
func (r Report) Markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	ts := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 MST")
	}

	w("#### MS Teams integration status\n")
	if len(r.Problems) == 0 {
		w("**All checks passed.**\n")
	} else {
		w("**Needs attention:**\n")
		for _, p := range r.Problems {
			w("- %s\n", oneLine(p))
		}
	}

	w("\n##### Configuration\n| | |\n|---|---|\n")
	w("| Cloud | %s |\n| Tenant ID | `%s` |\n| Client ID | `%s` |\n", cell(r.Settings.Cloud), cell(r.Settings.TenantID), cell(r.Settings.ClientID))
	w("| Client secret | %s |\n", setOrNot(r.Settings.ClientSecretSet))
	if r.SecretExpiry != nil {
		w("| Client secret expires | %s |\n", ts(r.SecretExpiry))
	} else if r.SecretError != "" {
		w("| Client secret expires | %s |\n", cell(r.SecretError))
	}
	w("| Notifications sync | %s |\n| Rich notifications | %s |\n", onOff(r.Settings.SyncNotifications), onOff(r.Settings.RichNotifications))
	if r.Settings.ChannelNotifications {
		channel := "on"
		switch {
		case r.ChannelPermissionMissing:
			channel = "on, but **" + channelPermission + " is missing**"
		case r.ChannelSubscription != nil && r.ChannelSubscription.Active:
			channel = "on, subscribed until " + ts(r.ChannelSubscription.ExpiresAt)
		}
		w("| Teams channel notifications (preview) | %s |\n", channel)
	}
	switch {
	case !r.AppToken.Checked:
		w("| App sign-in | not checked |\n")
	case r.AppToken.OK:
		w("| App sign-in | OK |\n| Permissions granted | %s |\n", cell(strings.Join(r.AppToken.Roles, ", ")))
		if len(r.AppToken.MissingRequired) > 0 {
			w("| Missing (required) | %s |\n", cell(strings.Join(r.AppToken.MissingRequired, ", ")))
		}
		if len(r.AppToken.MissingOptional) > 0 {
			w("| Missing (optional) | %s |\n", cell(strings.Join(r.AppToken.MissingOptional, ", ")))
		}
	default:
		w("| App sign-in | **failed**: %s |\n", cell(r.AppToken.Error))
	}

	w("\n##### Subscription\n")
	switch {
	case r.SubscriptionE != "":
		w("Could not read the subscription state: %s\n", oneLine(r.SubscriptionE))
	case r.Subscription == nil:
		w("Not available on this node.\n")
	default:
		s := r.Subscription
		w("| | |\n|---|---|\n")
		id := s.ID
		if id == "" {
			id = "none"
		}
		w("| ID | `%s` |\n| Active | %s |\n| Expires | %s |\n| Last renewed | %s |\n", cell(id), yesNo(s.Active), ts(s.ExpiresAt), ts(s.LastRenewedAt))
		w("| Last notification received | %s |\n", ts(s.LastNotificationAt))
		if s.LastError != "" {
			w("| Last error | %s (%s) |\n", cell(s.LastError), ts(s.LastErrorAt))
		}
		if s.Leader != "" {
			w("| Managed by node | `%s` (this node: `%s`) |\n", cell(s.Leader), cell(s.ThisNode))
		}
	}

	w("\n##### Inbox\n")
	if r.InboxError != "" {
		w("Could not read the inbox: %s\n", oneLine(r.InboxError))
	}
	if len(r.Inbox) == 0 && r.InboxError == "" {
		w("Empty.\n")
	} else if len(r.Inbox) > 0 {
		w("| Queue | Waiting | Oldest | Parked |\n|---|---|---|---|\n")
		for _, q := range r.Inbox {
			w("| %s | %d | %s | %d |\n", cell(q.Queue), q.Depth, (time.Duration(q.OldestAgeSeconds) * time.Second).String(), q.Parked)
		}
	}
	if len(r.Parked) > 0 {
		w("\n**Parked items** (most recent first; `/msteams admin retry-parked [queue]` requeues them; " +
			"unless requeued, each is deleted undelivered at its expiry):\n\n")
		w("| ID | Queue | Attempts | Parked at | Expires | Last error |\n|---|---|---|---|---|---|\n")
		for _, p := range r.Parked {
			parked, expires := p.ParkedAt, p.ExpiresAt
			w("| %d | %s | %d | %s | %s | %s |\n", p.ID, cell(p.Queue), p.Attempts, ts(&parked), ts(&expires), cell(p.LastError))
		}
	}

	w("\n##### Users\n")
	if r.Users.Error != "" {
		w("Could not count users: %s\n", oneLine(r.Users.Error))
	} else {
		w("Connected: %d · pending invitations: %d · whitelisted: %d", r.Users.Connected, r.Users.PendingInvites, r.Users.Whitelisted)
		if r.Settings.ConnectedUsersAllowed > 0 {
			w(" · seat limit: %d", r.Settings.ConnectedUsersAllowed)
		}
		w("\n")
	}

	if r.Replies != nil || r.RepliesError != "" {
		w("\n##### Replies to Teams\n")
		w("%s\n", repliesLine(r.Replies, r.RepliesError))
	}

	if imp := r.OfficialImport; imp != nil {
		w("\n##### Switch from the official plugin\n")
		if imp.ImportedAt != nil {
			w("Taken over on %s: %d connected users (no sign-in needed), %d disconnected users, %d whitelist entries, %d invitations.\n",
				ts(imp.ImportedAt), imp.Connected, imp.Disconnected, imp.Whitelist, imp.Invites)
		}
		if imp.Error != "" {
			w("Not taken over yet: %s\n", oneLine(imp.Error))
		}
		if len(imp.NotImported) > 0 {
			w("\n| User | Why not taken over as is |\n|---|---|\n")
			for _, n := range imp.NotImported {
				w("| `%s` | %s |\n", cell(n.MMUserID), cell(n.Reason))
			}
		}
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// cell makes text safe inside a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(oneLine(s), "|", "\\|") }

func setOrNot(b bool) string {
	if b {
		return "set"
	}
	return "**not set**"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

// SupportPacketFile is the name of the file contributed to Mattermost's support packet.
const SupportPacketFile = "msteams-sync-diagnostics.json"

// SupportPacket returns the report as the plugin's file for the GenerateSupportData hook.
func (d *Diagnostics) SupportPacket(ctx context.Context) (*model.FileData, error) {
	body, err := json.MarshalIndent(d.Report(ctx), "", "  ")
	if err != nil {
		return nil, errors.Wrap(err, "encode diagnostics")
	}
	return &model.FileData{Filename: SupportPacketFile, Body: body}, nil
}

// AdminSubcommand is `/msteams admin status|retry-parked [queue]`, answered only to users isAdmin approves
// (system admins: HasPermissionTo(userID, model.PermissionManageSystem)).
func (d *Diagnostics) AdminSubcommand(isAdmin func(userID string) bool) command.Subcommand {
	ac := model.NewAutocompleteData("admin", "status|retry-parked", "Administrator tools (system admins only)")
	ac.RoleID = model.SystemAdminRoleId // Mattermost then offers it only to system admins
	ac.AddCommand(model.NewAutocompleteData("status", "", "Check the configuration, subscription, inbox and connected users"))
	retry := model.NewAutocompleteData("retry-parked", "[queue]", "Requeue parked items (all queues, or one)")
	ac.AddCommand(retry)
	return command.Subcommand{
		Name:         "admin",
		Usage:        "admin status|retry-parked [queue]",
		Description:  "check the integration's health, or put parked items back in the queue (system admins)",
		Autocomplete: ac,
		VisibleTo: func(userID string) bool {
			return isAdmin != nil && isAdmin(userID)
		},
		Run: func(ctx context.Context, c command.Call) (string, error) {
			if isAdmin == nil || !isAdmin(c.UserID) {
				return "Only system administrators can use `/msteams admin`.", nil
			}
			sub := "status"
			if len(c.Args) > 0 {
				sub = strings.ToLower(c.Args[0])
			}
			switch sub {
			case "status":
				return d.Report(ctx).Markdown(), nil
			case "retry-parked":
				queue := ""
				if len(c.Args) > 1 {
					queue = c.Args[1]
				}
				n, err := d.RetryParked(ctx, queue)
				if err != nil {
					return "", err
				}
				if n == 0 {
					return "There were no parked items to requeue.", nil
				}
				return fmt.Sprintf("Requeued %d parked item(s); the workers will process them now. Run `/msteams admin status` to follow up.", n), nil
			default:
				return "Usage: `/msteams admin status` or `/msteams admin retry-parked [queue]`.", nil
			}
		},
	}
}

// AppTokenFunc obtains an app-only token for cfg's Graph with client credentials, through the factory's HTTP
// client (so a custom CA is trusted). Each call asks the identity platform afresh: it is a check, not a cache.
func AppTokenFunc(f *graph.Factory, cfg config.Configuration) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		ep := f.Endpoints()
		cc := clientcredentials.Config{
			ClientID:     strings.TrimSpace(cfg.ClientID),
			ClientSecret: cfg.ClientSecret,
			TokenURL:     ep.TokenURL(strings.TrimSpace(cfg.TenantID)),
			Scopes:       []string{ep.GraphScope},
			AuthStyle:    oauth2.AuthStyleInParams,
		}
		tok, err := cc.Token(f.OAuth2Context(ctx))
		if err != nil {
			return "", errors.Wrap(err, "get app token")
		}
		return tok.AccessToken, nil
	}
}

// repliesLine says whether users can answer Teams from Mattermost, and what would make it possible.
func repliesLine(ri *RepliesInfo, errText string) string {
	switch {
	case ri == nil:
		return "Could not check: " + oneLine(errText)
	case !ri.RegistrationKnown:
		return fmt.Sprintf("Whether the app registration has the optional ChatMessage.Send permission is unknown (reading it needs "+
			"Application.Read.All). Connected users who can reply: %d of %d.", ri.CanReply, ri.Connected)
	case !ri.RegistrationAllows:
		return "Off: the app registration lacks the optional delegated ChatMessage.Send permission. Add it (with admin " +
			"consent) in Microsoft Entra to let users answer Teams messages and react from Mattermost; see the README, \"Replying, reacting\"."
	}
	s := fmt.Sprintf("Available: the app registration has ChatMessage.Send. Connected users who can reply: %d of %d", ri.CanReply, ri.Connected)
	if ri.Unknown > 0 {
		s += fmt.Sprintf(" (%d unknown)", ri.Unknown)
	}
	if waiting := ri.Connected - ri.CanReply - ri.Unknown; waiting > 0 {
		s += fmt.Sprintf("; %d signed in before the permission was granted and are asked once to sign in again", waiting)
	}
	return s + "."
}
