package richnotify

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pkg/errors"
)

const (
	// GraphChangeTrackingAppID is the application that signs validation tokens: the azp (v2) or appid (v1) claim.
	GraphChangeTrackingAppID = "0bf30f3b-4a52-48df-9a82-234910c4a086"
	// DefaultJWKSURL is where Microsoft publishes the token signing keys (commercial cloud).
	DefaultJWKSURL = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
	// DefaultAuthorityHost prefixes the v2.0 issuer: {host}{tid}/v2.0.
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
	// DefaultV1IssuerHost prefixes the v1.0 issuer: {host}{tid}/.
	DefaultV1IssuerHost = "https://sts.windows.net/"

	defaultKeysTTL           = 24 * time.Hour
	defaultMinRefresh        = 5 * time.Minute
	defaultLeeway            = time.Minute
	failedFetchBackoff       = 5 * time.Second
	maxJWKSBytes       int64 = 1 << 20
)

// Errors returned by the Validator. ErrKeysUnavailable is transient (the signing keys could not be fetched), so a
// webhook should ask Graph to retry; the others mean the batch must not be trusted.
var (
	ErrInvalidToken     = errors.New("validation token is invalid")
	ErrNoTokens         = errors.New("rich notification batch carries no validation tokens")
	ErrTenantNotCovered = errors.New("no valid validation token covers a tenant in the batch")
	ErrKeysUnavailable  = errors.New("token signing keys are unavailable")
)

// ValidatorConfig configures a Validator; only ClientID is required. The hosts and JWKS URL are configurable for
// national clouds and the emulator.
type ValidatorConfig struct {
	ClientID      string       // our app registration's client id: the expected aud
	JWKSURL       string       // DefaultJWKSURL when empty
	AuthorityHost string       // DefaultAuthorityHost when empty; issuer of ver 2.0 tokens is {AuthorityHost}{tid}/v2.0
	V1IssuerHost  string       // DefaultV1IssuerHost when empty; issuer of ver 1.0 tokens is {V1IssuerHost}{tid}/
	HTTPClient    *http.Client // http.DefaultClient when nil; inject one that trusts a custom CA for tests
	KeysTTL       time.Duration
	// MinRefresh limits refetching on an unknown kid, so forged tokens cannot make us hammer the JWKS endpoint.
	MinRefresh time.Duration
	Leeway     time.Duration // clock skew allowed on exp and nbf
	Now        func() time.Time
}

// TokenInfo is what a valid token tells about the batch.
type TokenInfo struct {
	TenantID  string
	Version   string
	ExpiresAt time.Time
}

// Validator verifies the validationTokens of rich notifications. It is safe for concurrent use.
type Validator struct {
	cfg      ValidatorConfig
	v1Prefix string
	v2Prefix string
	parser   *jwt.Parser

	fetchMu sync.Mutex // one JWKS fetch at a time

	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey
	fetchedAt   time.Time
	failedFetch time.Time
}

// NewValidator checks the configuration and fills in defaults.
func NewValidator(cfg ValidatorConfig) (*Validator, error) {
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, errors.New("validator needs the application's client id")
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = DefaultJWKSURL
	}
	if cfg.AuthorityHost == "" {
		cfg.AuthorityHost = DefaultAuthorityHost
	}
	if cfg.V1IssuerHost == "" {
		cfg.V1IssuerHost = DefaultV1IssuerHost
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.KeysTTL <= 0 {
		cfg.KeysTTL = defaultKeysTTL
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = defaultMinRefresh
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = defaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Validator{
		cfg:      cfg,
		v1Prefix: withSlash(cfg.V1IssuerHost),
		v2Prefix: withSlash(cfg.AuthorityHost),
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(cfg.ClientID),
	)
	return v, nil
}

func withSlash(s string) string {
	if strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}

// ValidateBatch accepts a batch when every token is valid and every tenant id of the batch's rich items is
// covered by one of them.
func (v *Validator) ValidateBatch(ctx context.Context, tokens []string, tenantIDs []string) error {
	if len(tokens) == 0 {
		return ErrNoTokens
	}
	covered := make(map[string]bool, len(tokens))
	for i, raw := range tokens {
		info, err := v.ValidateToken(ctx, raw)
		if err != nil {
			return errors.Wrapf(err, "validation token %d of %d", i+1, len(tokens))
		}
		covered[strings.ToLower(info.TenantID)] = true
	}
	for _, tid := range tenantIDs {
		if !covered[strings.ToLower(tid)] {
			return errors.Wrapf(ErrTenantNotCovered, "tenant %q", clip(tid))
		}
	}
	return nil
}

// ValidateToken checks one token: RS256 signature by a published key, exp/nbf, aud, azp/appid and the issuer
// that matches the token's version and tenant.
func (v *Validator) ValidateToken(ctx context.Context, raw string) (TokenInfo, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			kid, _ = t.Header["x5t"].(string) // v1 tokens name the key by thumbprint too
		}
		if kid == "" {
			return nil, errors.New("token header names no key (kid)")
		}
		return v.key(ctx, kid)
	})
	if err != nil {
		if errors.Is(err, ErrKeysUnavailable) {
			return TokenInfo{}, err
		}
		return TokenInfo{}, errors.Wrap(ErrInvalidToken, err.Error())
	}

	tid, _ := claims["tid"].(string)
	if tid == "" {
		return TokenInfo{}, errors.Wrap(ErrInvalidToken, "token has no tid claim")
	}
	iss, _ := claims["iss"].(string)
	ver, _ := claims["ver"].(string)
	var callerClaim, wantIss string
	switch ver {
	case "2.0":
		callerClaim, wantIss = "azp", v.v2Prefix+tid+"/v2.0"
	case "1.0":
		callerClaim, wantIss = "appid", v.v1Prefix+tid+"/"
	default:
		return TokenInfo{}, errors.Wrapf(ErrInvalidToken, "unsupported token version %q", clip(ver))
	}
	if caller, _ := claims[callerClaim].(string); !strings.EqualFold(caller, GraphChangeTrackingAppID) {
		return TokenInfo{}, errors.Wrapf(ErrInvalidToken, "%s claim %q is not Microsoft Graph change tracking", callerClaim, clip(caller))
	}
	if iss != wantIss {
		return TokenInfo{}, errors.Wrapf(ErrInvalidToken, "issuer %q, want %q", clip(iss), wantIss)
	}
	info := TokenInfo{TenantID: tid, Version: ver}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		info.ExpiresAt = exp.UTC()
	}
	return info, nil
}

// key returns the signing key for kid from the cache, fetching the JWKS when the cache is stale or the kid is new.
func (v *Validator) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	now := v.cfg.Now()
	v.mu.Lock()
	k, known := v.keys[kid]
	fetchedAt, failedAt := v.fetchedAt, v.failedFetch
	v.mu.Unlock()

	fresh := !fetchedAt.IsZero() && now.Sub(fetchedAt) < v.cfg.KeysTTL
	if known && fresh {
		return k, nil
	}
	if !known && fresh && now.Sub(fetchedAt) < v.cfg.MinRefresh {
		return nil, errors.Errorf("unknown signing key %q (keys fetched recently)", clip(kid))
	}
	if !failedAt.IsZero() && now.Sub(failedAt) < failedFetchBackoff {
		if known {
			return k, nil // stale but still published a moment ago; better than failing the batch
		}
		return nil, errors.Wrap(ErrKeysUnavailable, "recent JWKS fetch failed")
	}

	keys, err := v.refresh(ctx, fetchedAt)
	if err != nil {
		if known {
			return k, nil
		}
		return nil, err
	}
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, errors.Errorf("unknown signing key %q", clip(kid))
}

// refresh fetches the JWKS unless another caller already did so after seenFetchedAt.
func (v *Validator) refresh(ctx context.Context, seenFetchedAt time.Time) (map[string]*rsa.PublicKey, error) {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()

	v.mu.Lock()
	if v.fetchedAt.After(seenFetchedAt) {
		keys := v.keys
		v.mu.Unlock()
		return keys, nil
	}
	v.mu.Unlock()

	keys, err := v.fetch(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.failedFetch = v.cfg.Now()
		return nil, errors.Wrap(ErrKeysUnavailable, err.Error())
	}
	v.keys, v.fetchedAt, v.failedFetch = keys, v.cfg.Now(), time.Time{}
	return keys, nil
}

type jwks struct {
	Keys []struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Kid string `json:"kid"`
		N   string `json:"n"`
		E   string `json:"e"`
	} `json:"keys"`
}

func (v *Validator) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, errors.Wrap(err, "build JWKS request")
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, errors.Wrap(err, "fetch JWKS")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.Errorf("fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, errors.Wrap(err, "read JWKS")
	}
	var set jwks
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.Wrap(err, "decode JWKS")
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.N, "="))
		e, errE := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.E, "="))
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS holds no usable RSA signing keys")
	}
	return keys, nil
}
