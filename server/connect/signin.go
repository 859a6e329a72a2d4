package connect

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"time"

	"github.com/pkg/errors"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// seatLockID names the cluster-wide lock that serializes seat and invitation accounting. It borrows the
// store's per-user lock with an id no Mattermost user can have.
const seatLockID = "#seats"

// StateTTL is how long a started sign-in may take. The state is created when the user clicks a connect link,
// not when the link is posted, so old links keep working.
const StateTTL = 15 * time.Minute

// randomString returns n random bytes, base64url-encoded without padding.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", errors.Wrap(err, "read random bytes")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newVerifier returns a PKCE code verifier: 64 random bytes give 86 characters from the unreserved set,
// inside RFC 7636's 43–128.
func newVerifier() (string, error) { return randomString(64) }

// Begin starts a sign-in for the Mattermost user: it checks the rollout rules, stores a fresh single-use state
// bound to the user and returns the Microsoft authorize URL to redirect the browser to.
func (s *Service) Begin(ctx context.Context, mmUserID string) (string, error) {
	if err := s.CanConnect(ctx, mmUserID); err != nil {
		return "", err
	}
	return s.authorizeURL(ctx, mmUserID)
}

// BeginRenewal starts a new Microsoft sign-in for a user who is already connected, so that the token picks up
// permissions granted since (incremental consent: ChatMessage.Send for replies). The connection stays as it is
// until the sign-in completes (Complete then reports Reconnected). A user who is not connected gets Begin.
func (s *Service) BeginRenewal(ctx context.Context, mmUserID string) (string, error) {
	link, err := s.d.Store.GetUser(ctx, mmUserID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", errors.Wrap(err, "get link")
	}
	if err != nil || !link.Connected() {
		return s.Begin(ctx, mmUserID)
	}
	return s.authorizeURL(ctx, mmUserID)
}

// authorizeURL records a fresh OAuth state for the user and returns Microsoft's sign-in URL.
func (s *Service) authorizeURL(ctx context.Context, mmUserID string) (string, error) {
	state, err := randomString(32)
	if err != nil {
		return "", err
	}
	verifier, err := newVerifier()
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.d.Store.CreateOAuthState(ctx, store.OAuthState{State: state, MMUserID: mmUserID, CodeVerifier: verifier, CreatedAt: now, ExpiresAt: now.Add(StateTTL)})
	if err != nil {
		return "", errors.Wrap(err, "store oauth state")
	}
	return s.d.OAuth().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "select_account")), nil
}

// Connected is the outcome of a completed sign-in.
type Connected struct {
	MattermostEmail string
	AccountEmail    string
	// Reconnected is true when the user was already connected and only renewed the connection.
	Reconnected bool
}

// Complete finishes a sign-in from the redirect's query. mmUserID is the Mattermost user of the browser
// session that followed the redirect (empty if none). Expected refusals are returned as *Refusal.
func (s *Service) Complete(ctx context.Context, mmUserID string, q url.Values) (Connected, error) {
	if q.Get("state") == "" {
		return Connected{}, &Refusal{Reason: ReasonStateUnknown}
	}
	st, err := s.d.Store.ConsumeOAuthState(ctx, q.Get("state"), s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Connected{}, &Refusal{Reason: ReasonStateUnknown}
	case errors.Is(err, store.ErrExpired):
		return Connected{}, &Refusal{Reason: ReasonStateExpired}
	case err != nil:
		return Connected{}, errors.Wrap(err, "consume oauth state")
	}
	if mmUserID == "" || mmUserID != st.MMUserID {
		return Connected{}, &Refusal{Reason: ReasonWrongUser}
	}
	if e := q.Get("error"); e != "" {
		s.d.Logger.LogWarn("Microsoft sign-in returned an error", "user_id", mmUserID, "error", e)
		return Connected{}, &Refusal{Reason: ReasonSignInDenied}
	}

	tok, err := s.d.OAuth().Exchange(s.oauthContext(ctx), q.Get("code"), oauth2.VerifierOption(st.CodeVerifier))
	if err != nil {
		s.d.Logger.LogWarn("Microsoft sign-in code exchange failed", "user_id", mmUserID, "error", oauthErrorSummary(err))
		return Connected{}, &Refusal{Reason: ReasonSignInFailed}
	}
	account, err := s.d.Accounts.GetMe(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return Connected{}, errors.Wrap(err, "read the signed-in Microsoft account")
	}
	user, err := s.d.Mattermost.GetUser(mmUserID)
	if err != nil {
		return Connected{}, errors.Wrap(err, "get user")
	}
	out := Connected{MattermostEmail: user.Email, AccountEmail: accountEmail(account)}
	if !accountMatches(account, user.Email, s.d.Settings().AllowProxyAddresses) {
		linked, err := s.linkAllows(ctx, mmUserID, account)
		if err != nil {
			return out, err
		}
		if !linked {
			return out, &Refusal{Reason: ReasonEmailMismatch, MattermostEmail: out.MattermostEmail, AccountEmail: out.AccountEmail}
		}
	}
	sealed, keyID, err := s.sealToken(mmUserID, tok)
	if err != nil {
		return out, err
	}
	firstEver := false
	// The seat check and the write happen under one cluster-wide lock, so two users completing at once
	// on different nodes cannot both take the last seat.
	err = s.d.Store.WithUserTokenLock(ctx, seatLockID, func(ctx context.Context) error {
		if err := s.releaseAccount(ctx, mmUserID, account.ID); err != nil {
			return err
		}
		prev, err := s.d.Store.GetUser(ctx, mmUserID)
		firstEver = errors.Is(err, ErrNotFound)
		if err != nil && !firstEver {
			return errors.Wrap(err, "get link")
		}
		out.Reconnected = !firstEver && prev.Connected()
		if !out.Reconnected {
			if err := s.checkSeat(ctx, user); err != nil {
				return err
			}
		}
		conn := store.Connection{MMUserID: mmUserID, TeamsUserID: account.ID, TeamsEmail: out.AccountEmail,
			Token: sealed, TokenKeyID: keyID, TokenExpiry: tok.Expiry, ConnectedAt: s.now()}
		err = s.d.Store.SaveConnection(ctx, conn)
		if errors.Is(err, store.ErrTeamsUserLinked) {
			return &Refusal{Reason: ReasonAccountTaken}
		}
		if err != nil {
			return errors.Wrap(err, "save connection")
		}
		return errors.Wrap(s.d.Store.DeleteInvite(ctx, mmUserID), "remove the used invitation")
	})
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			r.MattermostEmail, r.AccountEmail = out.MattermostEmail, out.AccountEmail
		}
		return out, err
	}
	if out.Reconnected {
		return out, nil
	}

	if _, found, err := s.d.Mattermost.GetPreference(mmUserID, PreferenceCategory, PreferenceNotifications); err != nil {
		s.d.Logger.LogWarn("Could not read the notifications preference", "user_id", mmUserID, "error", err.Error())
	} else if firstEver || !found {
		if err := SetNotifications(s.d.Mattermost, mmUserID, true); err != nil {
			s.d.Logger.LogWarn("Could not turn notifications on", "user_id", mmUserID, "error", err.Error())
		}
	}
	if err := s.d.Mattermost.DM(mmUserID, s.welcomeMessage(out.AccountEmail)); err != nil {
		s.d.Logger.LogWarn("Could not send the welcome message", "user_id", mmUserID, "error", err.Error())
	}
	s.d.Mattermost.PublishToUser(mmUserID, EventConnectionChanged, map[string]any{"connected": true})
	return out, nil
}

// storedToken is the sealed form of a token; only what refresh and calls need.
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
}

// sealToken binds the sealed token to mmUserID, so a ciphertext copied into another user's row does not open.
func (s *Service) sealToken(mmUserID string, t *oauth2.Token) ([]byte, string, error) {
	b, err := json.Marshal(storedToken{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry.UTC()})
	if err != nil {
		return nil, "", errors.Wrap(err, "encode token")
	}
	sealed, keyID, err := s.d.Cipher.SealFor(secrets.PurposeUserToken, mmUserID, b)
	if err != nil {
		return nil, "", errors.Wrap(err, "encrypt token")
	}
	return sealed, keyID, nil
}

// releaseAccount makes sure the Microsoft account can be linked to mmUserID: an account connected to
// another user is refused; one left behind by a user who disconnected is released, since that user no
// longer uses it and a disconnected mapping must not lock the account forever.
func (s *Service) releaseAccount(ctx context.Context, mmUserID, teamsUserID string) error {
	other, err := s.d.Store.GetUserByTeamsID(ctx, teamsUserID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return errors.Wrap(err, "look up the Microsoft account's link")
	case other.MMUserID == mmUserID:
		return nil
	case other.Connected():
		return &Refusal{Reason: ReasonAccountTaken}
	}
	return errors.Wrap(s.d.Store.DeleteUser(ctx, other.MMUserID), "release the Microsoft account from a disconnected user")
}

func (s *Service) openToken(l store.User) (*oauth2.Token, error) {
	// A row of the old, unbound format still opens; the next refresh re-seals it bound to the user.
	b, _, err := s.d.Cipher.OpenFor(secrets.PurposeUserToken, l.MMUserID, l.Token, l.TokenKeyID)
	if err != nil {
		return nil, errors.Wrap(err, "decrypt token")
	}
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, errors.Wrap(err, "decode token")
	}
	return &oauth2.Token{AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, Expiry: st.Expiry, TokenType: "Bearer"}, nil
}

// linkAllows reports whether an administrator linked this user to the signed-in account although the e-mails
// differ. The sign-in itself proved that the user owns the account.
func (s *Service) linkAllows(ctx context.Context, mmUserID string, a Account) (bool, error) {
	if s.d.AccountLinks == nil {
		return false, nil
	}
	ok, err := s.d.AccountLinks.Allows(ctx, mmUserID, a.ID, a.UserPrincipalName)
	return ok, errors.Wrap(err, "check the user's Microsoft account link")
}
