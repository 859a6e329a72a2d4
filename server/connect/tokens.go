package connect

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"time"

	"github.com/pkg/errors"
	"golang.org/x/oauth2"
)

// ErrNotConnected means the user has no usable connection (never connected, disconnected or revoked).
var ErrNotConnected = errors.New("user is not connected to Microsoft Teams")

// RefreshMargin is how long before expiry a token is refreshed, so a call never starts with a token about to die.
const RefreshMargin = 5 * time.Minute

// revocationCodes are AADSTS codes that mean the refresh token will never work again.
var revocationCodes = map[int]bool{
	50173:  true, // grant revoked, fresh sign-in needed
	700082: true, // refresh token expired from inactivity
	70008:  true, // refresh token expired or revoked
	70000:  true, // invalid grant
}

var aadstsCode = regexp.MustCompile(`AADSTS(\d+)`)

// aadstsCodes extracts the AADSTS codes from a token endpoint error.
func aadstsCodes(re *oauth2.RetrieveError) []int {
	var body struct {
		ErrorCodes []int `json:"error_codes"`
	}
	if json.Unmarshal(re.Body, &body) == nil && len(body.ErrorCodes) > 0 {
		return body.ErrorCodes
	}
	var codes []int
	for _, m := range aadstsCode.FindAllStringSubmatch(re.ErrorDescription, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			codes = append(codes, n)
		}
	}
	return codes
}

// isRevocation tells whether a refresh error means the grant is gone for good. Configuration errors
// (a bad client secret) are not: they must not disconnect everyone.
func isRevocation(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	if re.ErrorCode == "invalid_grant" {
		return true
	}
	for _, c := range aadstsCodes(re) {
		if revocationCodes[c] {
			return true
		}
	}
	return false
}

// oauthErrorSummary describes a token endpoint error without the response body (which may echo request data).
func oauthErrorSummary(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		s := "oauth error " + re.ErrorCode
		for _, c := range aadstsCodes(re) {
			s += " AADSTS" + strconv.Itoa(c)
		}
		return s
	}
	return err.Error()
}

func (s *Service) fresh(t *oauth2.Token) bool {
	return t.AccessToken != "" && s.now().Add(RefreshMargin).Before(t.Expiry)
}

// Token returns a valid access token for the user, refreshing it first when it is about to expire.
// It returns ErrNotConnected when the user has no connection, including after a revocation it detects.
func (s *Service) Token(ctx context.Context, mmUserID string) (*oauth2.Token, error) {
	link, err := s.d.Store.GetUser(ctx, mmUserID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotConnected
	}
	if err != nil {
		return nil, errors.Wrap(err, "get link")
	}
	if !link.Connected() {
		return nil, ErrNotConnected
	}
	tok, err := s.openToken(link)
	if err != nil {
		return nil, err
	}
	if s.fresh(tok) {
		return tok, nil
	}
	return s.refresh(ctx, mmUserID, tok.AccessToken)
}

// refresh renews the user's token unless someone else (another goroutine or node) already replaced the
// token whose access token was stale. It holds the user's cross-node lock, so one refresh runs at a time
// and the rotated refresh token is saved before anyone else reads it.
func (s *Service) refresh(ctx context.Context, mmUserID, stale string) (*oauth2.Token, error) {
	var out *oauth2.Token
	revoked := false
	err := s.d.Store.WithUserTokenLock(ctx, mmUserID, func(ctx context.Context) error {
		link, err := s.d.Store.GetUser(ctx, mmUserID)
		if errors.Is(err, ErrNotFound) {
			return ErrNotConnected
		}
		if err != nil {
			return errors.Wrap(err, "get link")
		}
		if !link.Connected() {
			return ErrNotConnected
		}
		cur, err := s.openToken(link)
		if err != nil {
			return err
		}
		if cur.AccessToken != stale && s.fresh(cur) {
			out = cur
			return nil
		}
		// An expired access token makes x/oauth2 use the refresh token.
		nt, err := s.d.OAuth().TokenSource(s.oauthContext(ctx), &oauth2.Token{RefreshToken: cur.RefreshToken}).Token()
		if err != nil {
			if isRevocation(err) {
				if err := s.d.Store.DisconnectUser(ctx, mmUserID, s.now()); err != nil {
					return errors.Wrap(err, "disconnect revoked user")
				}
				// Returning nil commits the disconnect; an error would roll it back.
				revoked = true
				s.d.Logger.LogWarn("Microsoft revoked a user's connection", "user_id", mmUserID, "error", oauthErrorSummary(err))
				return nil
			}
			return errors.New("refresh token: " + oauthErrorSummary(err))
		}
		if nt.RefreshToken == "" {
			nt.RefreshToken = cur.RefreshToken
		}
		sealed, keyID, err := s.sealToken(mmUserID, nt)
		if err != nil {
			return err
		}
		if err := s.d.Store.UpdateUserToken(ctx, mmUserID, sealed, keyID, nt.Expiry); err != nil {
			return errors.Wrap(err, "save refreshed token")
		}
		out = nt
		return nil
	})
	if err != nil {
		return nil, err
	}
	if revoked {
		s.notifyLost(mmUserID)
		return nil, ErrNotConnected
	}
	return out, nil
}

// notifyLost tells the user, once per revocation, that the connection is gone and how to reconnect.
func (s *Service) notifyLost(mmUserID string) {
	if err := s.d.Mattermost.DM(mmUserID, s.revokedMessage()); err != nil {
		s.d.Logger.LogWarn("Could not tell a user that their connection was lost", "user_id", mmUserID, "error", err.Error())
	}
	s.d.Mattermost.PublishToUser(mmUserID, EventConnectionChanged, map[string]any{"connected": false})
}

// revokeIfCurrent disconnects the user when the stored token is still the one Graph rejected after a
// refresh. Under the lock only one caller sees that transition, so the user is told exactly once.
func (s *Service) revokeIfCurrent(ctx context.Context, mmUserID, rejected string) error {
	revoked := false
	err := s.d.Store.WithUserTokenLock(ctx, mmUserID, func(ctx context.Context) error {
		link, err := s.d.Store.GetUser(ctx, mmUserID)
		if errors.Is(err, ErrNotFound) || (err == nil && !link.Connected()) {
			return nil
		}
		if err != nil {
			return errors.Wrap(err, "get link")
		}
		cur, err := s.openToken(link)
		if err != nil {
			return err
		}
		if cur.AccessToken != rejected {
			// Someone replaced the token meanwhile; it deserves its own chance.
			return nil
		}
		if err := s.d.Store.DisconnectUser(ctx, mmUserID, s.now()); err != nil {
			return errors.Wrap(err, "disconnect revoked user")
		}
		revoked = true
		return nil
	})
	if revoked {
		s.d.Logger.LogWarn("Microsoft Graph kept refusing a user's refreshed token; the user is disconnected", "user_id", mmUserID)
		s.notifyLost(mmUserID)
	}
	return err
}

// TokenSource returns an oauth2.TokenSource for calling Graph as the user. Each Token call reads the stored
// token, so a disconnect or a refresh on another node is seen at once.
func (s *Service) TokenSource(ctx context.Context, mmUserID string) oauth2.TokenSource {
	return &userTokenSource{ctx: ctx, s: s, mmUserID: mmUserID}
}

type userTokenSource struct {
	ctx      context.Context
	s        *Service
	mmUserID string
	last     string
}

func (u *userTokenSource) Token() (*oauth2.Token, error) {
	t, err := u.s.Token(u.ctx, u.mmUserID)
	if err != nil {
		return nil, err
	}
	u.last = t.AccessToken
	return t, nil
}

// Call runs fn, which calls Graph as the user with ts. When fn fails with an error isUnauthorized accepts
// (a Graph 401), the token is refreshed and fn runs once more; a second 401 means a refresh cannot cure it,
// so the user is disconnected and told once. fn must not be retried by the caller on ErrNotConnected.
func (s *Service) Call(ctx context.Context, mmUserID string, isUnauthorized func(error) bool, fn func(ctx context.Context, ts oauth2.TokenSource) error) error {
	ts := &userTokenSource{ctx: ctx, s: s, mmUserID: mmUserID}
	err := fn(ctx, ts)
	if err == nil || !isUnauthorized(err) || ts.last == "" {
		return err
	}
	if _, rerr := s.refresh(ctx, mmUserID, ts.last); rerr != nil {
		return rerr
	}
	first := ts.last
	err = fn(ctx, ts)
	if err == nil || !isUnauthorized(err) {
		return err
	}
	if ts.last == first {
		// The identity platform handed back the same token; a second refusal of it proves nothing new.
		return err
	}
	if rerr := s.revokeIfCurrent(ctx, mmUserID, ts.last); rerr != nil {
		return rerr
	}
	return ErrNotConnected
}
