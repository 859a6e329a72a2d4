package graphsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pkg/errors"
)

// graphAudience is the aud of every access token graphsim issues: the Graph
// resource, as in real v1 Graph tokens.
const graphAudience = "https://graph.microsoft.com"

// signer holds the STS key pair; its public half is published as the JWKS.
type signer struct {
	key *rsa.PrivateKey
	kid string
}

func newSigner() (*signer, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, errors.Wrap(err, "generate signing key")
	}
	// kid is a thumbprint of the public key, like Entra's x5t/kid values.
	der := k.PublicKey.N.Bytes()
	sum := sha256.Sum256(der)
	return &signer{key: k, kid: base64.RawURLEncoding.EncodeToString(sum[:20])}, nil
}

func (s *signer) sign(claims map[string]any) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	t.Header["kid"] = s.kid
	t.Header["x5t"] = s.kid
	out, err := t.SignedString(s.key)
	return out, errors.Wrap(err, "sign token")
}

// jwks renders the public key set served at .../discovery/v2.0/keys.
func (s *signer) jwks(issuer string) map[string]any {
	pub := s.key.PublicKey
	return map[string]any{"keys": []map[string]any{{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    s.kid,
		"x5t":    s.kid,
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"issuer": issuer,
	}}}
}

// parse verifies signature and expiry of an access token minted by s.
func (s *signer) parse(raw string, now time.Time) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(),
	).ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.kid {
			return nil, errors.New("unknown kid")
		}
		return &s.key.PublicKey, nil
	})
	return claims, err
}

// TokenInfo is what graphsim learned from a verified bearer token.
type TokenInfo struct {
	TenantID string
	AppID    string
	UserID   string // empty for app-only tokens
	Roles    []string
	Scopes   []string
	AppOnly  bool
	IssuedAt time.Time
}

// Kind is "app" or "delegated", the token-kind label of the call counters.
func (t TokenInfo) Kind() string {
	if t.AppOnly {
		return "app"
	}
	return "delegated"
}

func (t TokenInfo) has(perms ...string) bool {
	granted := t.Scopes
	if t.AppOnly {
		granted = t.Roles
	}
	for _, g := range granted {
		for _, p := range perms {
			if strings.EqualFold(g, p) {
				return true
			}
		}
	}
	return false
}

func tokenInfoFromClaims(c jwt.MapClaims) TokenInfo {
	str := func(k string) string { v, _ := c[k].(string); return v }
	ti := TokenInfo{TenantID: str("tid"), AppID: str("azp")}
	if ti.AppID == "" {
		ti.AppID = str("appid")
	}
	if roles, ok := c["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				ti.Roles = append(ti.Roles, s)
			}
		}
	}
	if scp := str("scp"); scp != "" {
		ti.Scopes = strings.Fields(scp)
	}
	if iat, err := c.GetIssuedAt(); err == nil && iat != nil {
		ti.IssuedAt = iat.Time
	}
	ti.AppOnly = str("idtyp") == "app"
	if !ti.AppOnly {
		ti.UserID = str("oid")
	}
	return ti
}

// newID returns a random GUID-shaped id.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomToken returns an opaque url-safe string of n random bytes.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
