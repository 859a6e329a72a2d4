package delivery

import (
	"net/http"

	"github.com/pkg/errors"
)

// account is the Mattermost side of a recipient, as delivery last read it. Reading it costs two plugin API
// calls (the user, then the notifications preference, which the server does not cache), so a busy chat would
// otherwise pay them for every message; it is kept for Options.RecipientTTL and dropped earlier by Forget.
type account struct {
	skip     string // SkipInactiveUser, SkipNotificationsOff, or "" when the user gets DMs
	username string // for mentions; "" when the account is inactive
}

// Forget drops what delivery remembers about a Mattermost user, so that the next message reads their account
// and notifications preference afresh. The plugin calls it when either changes (the notifications command,
// the preferences and deactivation hooks); RecipientTTL bounds the staleness of changes it is not told about.
func (p *Processor) Forget(mmUserID string) {
	p.accounts.remove(mmUserID)
}

// account returns the user's delivery-relevant state, from the cache when fresh.
func (p *Processor) account(mmUserID string) (account, error) {
	now := p.o.Now()
	if v, ok := p.accounts.get(mmUserID, now); ok {
		return v, nil
	}
	v, err := p.readPerson(mmUserID)
	if err != nil {
		return account{}, err
	}
	p.accounts.put(mmUserID, v, now)
	return v, nil
}

// readPerson checks the account (an active human) and the notifications preference.
func (p *Processor) readPerson(mmUserID string) (account, error) {
	u, appErr := p.d.Mattermost.GetUser(mmUserID)
	if appErr != nil {
		if appErr.StatusCode == http.StatusNotFound {
			return account{skip: SkipInactiveUser}, nil
		}
		return account{}, errors.Wrap(appErr, "get Mattermost user")
	}
	if u.DeleteAt != 0 || u.IsBot {
		return account{skip: SkipInactiveUser}, nil
	}
	v := account{username: u.Username}
	value, err := p.notificationsPreference(mmUserID)
	if err != nil {
		return account{}, err
	}
	if value != preferenceOn {
		v.skip = SkipNotificationsOff // never set counts as off, as in the official plugin (connecting sets it on)
	}
	return v, nil
}

// notificationsPreference returns the user's notifications preference, "" when never set. The server answers a
// preference that was never set with the same error (400) as a failed read, so only then are all the user's
// preferences listed to tell the two apart.
func (p *Processor) notificationsPreference(mmUserID string) (string, error) {
	pref, appErr := p.d.Mattermost.GetPreferenceForUser(mmUserID, preferenceCategory, preferenceNotifications)
	if appErr == nil {
		return pref.Value, nil
	}
	all, listErr := p.d.Mattermost.GetPreferencesForUser(mmUserID)
	if listErr != nil {
		return "", errors.Wrap(listErr, "get notifications preference")
	}
	for _, pr := range all {
		if pr.Category == preferenceCategory && pr.Name == preferenceNotifications {
			return pr.Value, nil
		}
	}
	return "", nil
}

// directChannel returns the id of the DM channel between the bot and the user. That channel never changes once
// it exists, so its id is cached for long.
func (p *Processor) directChannel(mmUserID string) (string, error) {
	now := p.o.Now()
	if id, ok := p.channels.get(mmUserID, now); ok {
		return id, nil
	}
	channel, appErr := p.d.Mattermost.GetDirectChannel(mmUserID, p.o.BotUserID)
	if appErr != nil {
		return "", errors.Wrap(appErr, "get direct channel with the bot")
	}
	p.channels.put(mmUserID, channel.Id, now)
	return channel.Id, nil
}
