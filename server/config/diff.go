package config

import "strings"

// Changes says which parts of the running plugin a settings change invalidates.
type Changes struct {
	// CredentialsChanged: tenant, client id or secret, cloud or custom hosts/CA changed, so the Graph clients (and
	// the delegated OAuth config) must be rebuilt.
	CredentialsChanged bool
	// EncryptionKeyChanged: stored tokens must be re-encrypted from the old key to the new one.
	EncryptionKeyChanged bool
	// SubscriptionNeedsRecreate: the Graph subscription carries something that changed (its clientState, its
	// host, or whether it includes resource data) and must be deleted and created again. The notification URL
	// depends on the Mattermost Site URL, which is not a plugin setting: the caller must also recreate when the
	// Site URL changes.
	SubscriptionNeedsRecreate bool
	// NotificationsToggled: Sync notifications was switched on or off.
	NotificationsToggled bool
	// ChannelNotificationsToggled: Teams channel notifications was switched on or off, so the channel
	// subscription must be created or deleted.
	ChannelNotificationsToggled bool
	// LimitsChanged: seat, invitation, whitelist or account-matching (proxy address) rules changed.
	LimitsChanged bool
}

// Any reports whether anything the plugin reacts to changed.
func (c Changes) Any() bool {
	return c.CredentialsChanged || c.EncryptionKeyChanged || c.SubscriptionNeedsRecreate || c.NotificationsToggled || c.ChannelNotificationsToggled || c.LimitsChanged
}

// Diff classifies the change from old to new settings.
func Diff(old, new Configuration) Changes {
	var ch Changes
	// The custom hosts matter only while the custom cloud is selected; editing them under another cloud changes
	// nothing the plugin uses.
	customMatters := old.cloudName() == CloudCustom || new.cloudName() == CloudCustom
	cloudChanged := old.cloudName() != new.cloudName() ||
		(customMatters && (strings.TrimSpace(old.CustomAuthorityURL) != strings.TrimSpace(new.CustomAuthorityURL) ||
			strings.TrimSpace(old.CustomGraphURL) != strings.TrimSpace(new.CustomGraphURL) ||
			strings.TrimSpace(old.CustomCACertificate) != strings.TrimSpace(new.CustomCACertificate)))

	ch.CredentialsChanged = cloudChanged ||
		strings.TrimSpace(old.TenantID) != strings.TrimSpace(new.TenantID) ||
		strings.TrimSpace(old.ClientID) != strings.TrimSpace(new.ClientID) ||
		old.ClientSecret != new.ClientSecret
	ch.EncryptionKeyChanged = old.EncryptionKey != new.EncryptionKey
	// A new tenant or app also owns a different subscription; a new secret alone does not invalidate it.
	ch.SubscriptionNeedsRecreate = cloudChanged ||
		old.WebhookSecret != new.WebhookSecret ||
		old.RichNotifications != new.RichNotifications ||
		strings.TrimSpace(old.TenantID) != strings.TrimSpace(new.TenantID) ||
		strings.TrimSpace(old.ClientID) != strings.TrimSpace(new.ClientID)
	ch.NotificationsToggled = old.SyncNotifications != new.SyncNotifications
	ch.ChannelNotificationsToggled = old.ChannelNotifications != new.ChannelNotifications
	ch.LimitsChanged = old.ConnectedUsersAllowed != new.ConnectedUsersAllowed ||
		old.ConnectedUsersMaxPendingInvites != new.ConnectedUsersMaxPendingInvites ||
		old.InviteExpiryDays != new.InviteExpiryDays ||
		old.ConnectedUsersRestricted != new.ConnectedUsersRestricted ||
		old.AllowProxyAddresses != new.AllowProxyAddresses
	return ch
}
