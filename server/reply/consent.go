package reply

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/graph"
)

// sendScopes are the delegated permissions that let a user's token post chat messages and react: the plugin
// needs ChatMessage.Send; a tenant may instead have granted the broader Chat.ReadWrite.
var sendScopes = []string{graph.SendScope, "Chat.ReadWrite"}

// TokenScopes returns the delegated permissions of an access token (its scp claim). The token is a JWT read
// without verification, for information only: Graph checks the real token on every call. known is false when
// the token is not a readable JWT (Microsoft issues opaque tokens for some accounts).
func TokenScopes(accessToken string) (scopes []string, known bool) {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims struct {
		Scp *string `json:"scp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Scp == nil {
		return nil, false
	}
	return strings.Fields(*claims.Scp), true
}

// CanSend reports whether a token with these scopes may post chat messages.
func CanSend(scopes []string) bool {
	for _, sc := range scopes {
		for _, want := range sendScopes {
			if strings.EqualFold(sc, want) {
				return true
			}
		}
	}
	return false
}

// registrationAllows reports whether the app registration lists ChatMessage.Send. It is read each time it is
// needed (a user without the permission tries to write, the daily question, the admin status), never cached: an
// admin who just added the permission sees it used at once. known is false when it could not be read (the app
// lacks Application.Read.All, or Graph failed).
func (s *Service) registrationAllows(ctx context.Context) (allows, known bool) {
	app := s.d.App()
	if app == nil {
		return false, false
	}
	ok, err := app.RegistrationAllowsSend(ctx)
	if err != nil {
		s.d.Logger.LogDebug("Could not read the app registration's permissions", "error", err.Error())
		return false, false
	}
	return ok, true
}

// mayWrite decides whether the user's token can write to Teams; when not, msg tells the user why and what to do.
// what is "reply" or "reaction".
func (s *Service) mayWrite(ctx context.Context, userID, what string) (msg string, ok bool) {
	tok, err := s.d.Users.AccessToken(ctx, userID)
	if err != nil {
		if s.d.Users.IsNotConnected(err) {
			return fmt.Sprintf(msgNotConnected, what), false
		}
		s.d.Logger.LogWarn("Could not read a user's Microsoft token before writing to Teams", "user_id", userID, "error", err.Error())
		return fmt.Sprintf(msgTryAgain, what), false
	}
	scopes, known := TokenScopes(tok)
	if !known || CanSend(scopes) {
		return "", true // an unreadable token: Graph decides
	}
	allows, regKnown := s.registrationAllows(ctx)
	switch {
	case !regKnown:
		return fmt.Sprintf(msgPermissionUnknown, what, s.o.ConnectURL()), false
	case allows:
		// Told now, so the once-only question need not come later.
		if _, err := s.d.Store.MarkReplyConsentAsked(ctx, userID, s.d.Now()); err != nil {
			s.d.Logger.LogWarn("Could not record that a user was asked to sign in again", "user_id", userID, "error", err.Error())
		}
		return fmt.Sprintf(msgReconnectNow, what, s.o.ConnectURL()), false
	}
	return fmt.Sprintf(msgNoPermission, what), false
}

// AskToSignInAgain asks, once per user, the connected users whose sign-in lacks ChatMessage.Send to sign in
// again, when the app registration has it (incremental consent). Nobody is disconnected. It returns how many
// users were asked now.
func (s *Service) AskToSignInAgain(ctx context.Context) (int, error) {
	allows, known := s.registrationAllows(ctx)
	if !known || !allows {
		return 0, nil
	}
	asked := 0
	err := s.eachConnected(ctx, func(userID string, scopes []string, known bool) error {
		if !known || CanSend(scopes) {
			return nil
		}
		first, err := s.d.Store.MarkReplyConsentAsked(ctx, userID, s.d.Now())
		if err != nil || !first {
			return err
		}
		if err := s.dm(userID, fmt.Sprintf(msgReconnectAsk, s.o.ConnectURL())); err != nil {
			s.d.Logger.LogWarn("Could not ask a user to sign in again for replies", "user_id", userID, "error", err.Error())
			return nil
		}
		asked++
		return nil
	})
	return asked, err
}

// Status is whether replies are available, for the admin status.
type Status struct {
	// RegistrationKnown is false when the app registration could not be read (Application.Read.All missing).
	RegistrationKnown bool `json:"registration_known"`
	// RegistrationAllows: the app registration lists the delegated ChatMessage.Send permission.
	RegistrationAllows bool `json:"registration_allows"`
	// Connected users, those whose current sign-in carries the permission, and those whose token is not readable.
	Connected int `json:"connected"`
	CanReply  int `json:"can_reply"`
	Unknown   int `json:"unknown"`
}

// Status reads the app registration and every connected user's stored token (only its scp claim).
func (s *Service) Status(ctx context.Context) (Status, error) {
	var st Status
	st.RegistrationAllows, st.RegistrationKnown = s.registrationAllows(ctx)
	err := s.eachConnected(ctx, func(_ string, scopes []string, known bool) error {
		st.Connected++
		switch {
		case !known:
			st.Unknown++
		case CanSend(scopes):
			st.CanReply++
		}
		return nil
	})
	return st, err
}

// eachConnected calls fn with the scopes of every connected user's stored token.
func (s *Service) eachConnected(ctx context.Context, fn func(userID string, scopes []string, known bool) error) error {
	after := ""
	for {
		page, err := s.d.Store.ListConnectedUsers(ctx, after, 500)
		if err != nil {
			return errors.Wrap(err, "list connected users")
		}
		for _, u := range page {
			var scopes []string
			known := false
			if tok, err := s.d.Users.StoredAccessToken(u); err == nil {
				scopes, known = TokenScopes(tok)
			}
			if err := fn(u.MMUserID, scopes, known); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].MMUserID
	}
}

// dm posts a message from the bot in the user's DM channel with it.
func (s *Service) dm(userID, message string) error {
	ch, appErr := s.d.Mattermost.GetDirectChannel(userID, s.o.BotUserID)
	if appErr != nil {
		return errors.Wrap(appErr, "get DM channel")
	}
	if _, appErr := s.d.Mattermost.CreatePost(&model.Post{UserId: s.o.BotUserID, ChannelId: ch.Id, Message: message}); appErr != nil {
		return errors.Wrap(appErr, "post DM")
	}
	return nil
}
