package connect

import (
	"fmt"
	"math"
)

func (s *Service) connectLink() string {
	return fmt.Sprintf("[Connect your Microsoft Teams account](%s)", s.ConnectURL())
}

func (s *Service) inviteMessage(st Settings) string {
	days := int(math.Ceil(st.EffectiveInviteExpiry().Hours() / 24))
	return fmt.Sprintf("You are invited to receive your Microsoft Teams chat messages here in Mattermost while you are away from Teams.\n\n"+
		"%s to start. The invitation holds a place for you for %d days.", s.connectLink(), days)
}

func (s *Service) welcomeMessage(accountEmail string) string {
	return fmt.Sprintf("Your Mattermost account is now connected to the Microsoft Teams account %s.\n\n"+
		"What happens next: when someone writes to you in a Teams chat while you are away or offline in Teams, "+
		"I will forward the message to you here as a direct message.\n\n"+
		"- To stop these messages, run `/msteams notifications off` (and `/msteams notifications on` to start again).\n"+
		"- To disconnect your Microsoft account, run `/msteams disconnect`.", accountEmail)
}

func (s *Service) revokedMessage() string {
	return "Your connection to Microsoft Teams was lost: Microsoft no longer accepts the sign-in " +
		"(for example after a password change, or because an administrator revoked it). " +
		"Until you reconnect, your Teams chat messages will not be forwarded here.\n\n" + s.connectLink() + " again."
}

// NotifyConnectionLost tells a user that their connection no longer works and how to reconnect, as for a
// token Microsoft revoked; used when a connection taken over from the official plugin could not be read.
func (s *Service) NotifyConnectionLost(mmUserID string) { s.notifyLost(mmUserID) }
