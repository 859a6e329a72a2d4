package connect

import "fmt"

// Reason says why a connection attempt was refused.
type Reason string

// Reasons a sign-in or a connect request can be refused.
const (
	ReasonAlreadyConnected Reason = "already_connected"
	ReasonNoSeat           Reason = "no_seat"
	ReasonNotWhitelisted   Reason = "not_whitelisted"
	ReasonStateUnknown     Reason = "state_unknown"
	ReasonStateExpired     Reason = "state_expired"
	ReasonWrongUser        Reason = "wrong_user"
	ReasonSignInDenied     Reason = "sign_in_denied"
	ReasonSignInFailed     Reason = "sign_in_failed"
	ReasonEmailMismatch    Reason = "email_mismatch"
	ReasonAccountTaken     Reason = "account_taken"
)

// Refusal is an expected, user-facing reason not to connect. Its message is safe to show: no tokens, no codes.
type Refusal struct {
	Reason          Reason
	MattermostEmail string
	AccountEmail    string
}

func (r *Refusal) Error() string { return "connection refused: " + string(r.Reason) }

// Message explains the refusal to the user in plain sentences, with what to do next.
func (r *Refusal) Message() string {
	switch r.Reason {
	case ReasonAlreadyConnected:
		return "Your Mattermost account is already connected to Microsoft Teams. To connect a different Microsoft account, run /msteams disconnect first."
	case ReasonNoSeat:
		return "All places for connected users are taken right now. Please try again later or ask your system administrator to raise the limit."
	case ReasonNotWhitelisted:
		return "Connecting to Microsoft Teams is limited to selected users for now, and your account is not on the list. Please ask your system administrator."
	case ReasonStateUnknown:
		return "This sign-in link was already used or is not valid. Start again with /msteams connect."
	case ReasonStateExpired:
		return "This sign-in took too long and expired. Start again with /msteams connect."
	case ReasonWrongUser:
		return "This sign-in was started by a different Mattermost user. Sign in to Mattermost as yourself and start again with /msteams connect."
	case ReasonSignInDenied:
		return "The Microsoft sign-in was cancelled or refused, so nothing was connected. Start again with /msteams connect."
	case ReasonSignInFailed:
		return "Microsoft did not complete the sign-in, so nothing was connected. Please try again with /msteams connect; if it keeps failing, tell your system administrator."
	case ReasonEmailMismatch:
		return fmt.Sprintf("The Microsoft account you signed in with (%s) does not match your Mattermost email address (%s). "+
			"Sign in with the Microsoft account that uses %s, or ask your system administrator to align the two addresses, then start again with /msteams connect.",
			orUnknown(r.AccountEmail), orUnknown(r.MattermostEmail), orUnknown(r.MattermostEmail))
	case ReasonAccountTaken:
		return fmt.Sprintf("The Microsoft account %s is already connected to another Mattermost user. A Microsoft account can be connected to one Mattermost user only; that user must disconnect it first.",
			orUnknown(r.AccountEmail))
	}
	return "The connection was refused."
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown address"
	}
	return s
}
