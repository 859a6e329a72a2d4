package richnotify

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testClientID = "11111111-2222-3333-4444-555555555555"
	tenantA      = "aaaaaaaa-0000-0000-0000-000000000001"
	tenantB      = "bbbbbbbb-0000-0000-0000-000000000002"
)

var (
	signingKeysOnce sync.Once
	signingKeys     [3]*rsa.PrivateKey
)

func rsaKeys(t testing.TB) [3]*rsa.PrivateKey {
	signingKeysOnce.Do(func() {
		for i := range signingKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			signingKeys[i] = k
		}
	})
	return signingKeys
}

// stsFake publishes a JWKS that tests can change, and counts fetches.
type stsFake struct {
	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fail    bool
	fetches atomic.Int32
	srv     *httptest.Server
}

func newSTS(t *testing.T, keys map[string]*rsa.PublicKey) *stsFake {
	s := &stsFake{keys: keys}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var out struct {
			Keys []map[string]string `json:"keys"`
		}
		// An encryption key and an EC key must be ignored, not break parsing.
		out.Keys = append(out.Keys, map[string]string{"kty": "EC", "kid": "ec", "crv": "P-256"})
		for kid, k := range s.keys {
			out.Keys = append(out.Keys, map[string]string{
				"kty": "RSA", "use": "sig", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stsFake) set(keys map[string]*rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

type clock struct{ now atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.now.Store(&t) }
func (c *clock) Now() time.Time   { return *c.now.Load() }

func newTestValidator(t *testing.T, sts *stsFake, c *clock) *Validator {
	v, err := NewValidator(ValidatorConfig{
		ClientID:      testClientID,
		JWKSURL:       sts.srv.URL + "/common/discovery/v2.0/keys",
		AuthorityHost: "https://login.emu.test", // no trailing slash on purpose
		HTTPClient:    sts.srv.Client(),
		Now:           c.Now,
	})
	require.NoError(t, err)
	return v
}

// v2Claims are the claims of a good ver 2.0 token for tenant tid.
func v2Claims(tid string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": testClientID, "azp": GraphChangeTrackingAppID, "tid": tid, "ver": "2.0",
		"iss": "https://login.emu.test/" + tid + "/v2.0",
		"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func v1Claims(tid string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": testClientID, "appid": GraphChangeTrackingAppID, "tid": tid, "ver": "1.0",
		"iss": "https://sts.windows.net/" + tid + "/",
		"nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func sign(t testing.TB, key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestValidateToken(t *testing.T) {
	keys := rsaKeys(t)
	sts := newSTS(t, map[string]*rsa.PublicKey{"k1": &keys[0].PublicKey})
	c := newClock(t0)
	v := newTestValidator(t, sts, c)

	with := func(base jwt.MapClaims, k string, val any) jwt.MapClaims {
		out := jwt.MapClaims{}
		for kk, vv := range base {
			out[kk] = vv
		}
		if val == nil {
			delete(out, k)
		} else {
			out[k] = val
		}
		return out
	}
	good2, good1 := v2Claims(tenantA, t0), v1Claims(tenantB, t0)

	t.Run("good v2.0", func(t *testing.T) {
		info, err := v.ValidateToken(context.Background(), sign(t, keys[0], "k1", good2))
		require.NoError(t, err)
		assert.Equal(t, TokenInfo{TenantID: tenantA, Version: "2.0", ExpiresAt: t0.Add(time.Hour)}, info)
	})
	t.Run("good v1.0", func(t *testing.T) {
		info, err := v.ValidateToken(context.Background(), sign(t, keys[0], "k1", good1))
		require.NoError(t, err)
		assert.Equal(t, tenantB, info.TenantID)
	})
	t.Run("audience as an array", func(t *testing.T) {
		_, err := v.ValidateToken(context.Background(), sign(t, keys[0], "k1", with(good2, "aud", []string{testClientID})))
		require.NoError(t, err)
	})
	t.Run("exp within leeway", func(t *testing.T) {
		_, err := v.ValidateToken(context.Background(), sign(t, keys[0], "k1", with(good2, "exp", t0.Add(-30*time.Second).Unix())))
		require.NoError(t, err)
	})

	bad := []struct {
		name  string
		token string
	}{
		{"wrong aud", sign(t, keys[0], "k1", with(good2, "aud", "someone-else"))},
		{"missing aud", sign(t, keys[0], "k1", with(good2, "aud", nil))},
		{"wrong azp", sign(t, keys[0], "k1", with(good2, "azp", "99999999-4a52-48df-9a82-234910c4a086"))},
		{"v2 token with appid instead of azp", sign(t, keys[0], "k1", with(with(good2, "azp", nil), "appid", GraphChangeTrackingAppID))},
		{"wrong appid", sign(t, keys[0], "k1", with(good1, "appid", testClientID))},
		{"issuer of another tenant", sign(t, keys[0], "k1", with(good2, "iss", "https://login.emu.test/"+tenantB+"/v2.0"))},
		{"v1 issuer on a v2 token", sign(t, keys[0], "k1", with(good2, "iss", "https://sts.windows.net/"+tenantA+"/"))},
		{"issuer on another host", sign(t, keys[0], "k1", with(good2, "iss", "https://login.microsoftonline.com/"+tenantA+"/v2.0"))},
		{"no tid", sign(t, keys[0], "k1", with(good2, "tid", nil))},
		{"unknown version", sign(t, keys[0], "k1", with(good2, "ver", "3.0"))},
		{"expired", sign(t, keys[0], "k1", with(good2, "exp", t0.Add(-2*time.Minute).Unix()))},
		{"no exp", sign(t, keys[0], "k1", with(good2, "exp", nil))},
		{"not yet valid", sign(t, keys[0], "k1", with(good2, "nbf", t0.Add(5*time.Minute).Unix()))},
		{"signed by an unpublished key under a known kid", sign(t, keys[1], "k1", good2)},
		{"no kid", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, good2)
			s, _ := tok.SignedString(keys[0])
			return s
		}()},
		{"HS256 with the public key as secret", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, good2)
			tok.Header["kid"] = "k1"
			s, _ := tok.SignedString(keys[0].PublicKey.N.Bytes())
			return s
		}()},
		{"alg none", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, good2)
			tok.Header["kid"] = "k1"
			s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}()},
		{"garbage", "not.a.jwt"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.ValidateToken(context.Background(), tt.token)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidToken), "%v", err)
			assert.False(t, errors.Is(err, ErrKeysUnavailable))
		})
	}
	assert.Equal(t, int32(1), sts.fetches.Load(), "keys are cached")
}

func TestUnknownKidRefetchesJWKS(t *testing.T) {
	keys := rsaKeys(t)
	sts := newSTS(t, map[string]*rsa.PublicKey{"k1": &keys[0].PublicKey})
	c := newClock(t0)
	v := newTestValidator(t, sts, c)
	ctx := context.Background()

	_, err := v.ValidateToken(ctx, sign(t, keys[0], "k1", v2Claims(tenantA, t0)))
	require.NoError(t, err)
	require.Equal(t, int32(1), sts.fetches.Load())

	// Microsoft rotates: k2 appears. A token under k2 just after our fetch is refused without a refetch, so forged
	// kids cannot turn us into a JWKS hammer ...
	sts.set(map[string]*rsa.PublicKey{"k1": &keys[0].PublicKey, "k2": &keys[1].PublicKey})
	_, err = v.ValidateToken(ctx, sign(t, keys[1], "k2", v2Claims(tenantA, t0)))
	assert.True(t, errors.Is(err, ErrInvalidToken), "%v", err)
	assert.Equal(t, int32(1), sts.fetches.Load())

	// ... and accepted once the refetch interval has passed.
	c.set(t0.Add(defaultMinRefresh))
	_, err = v.ValidateToken(ctx, sign(t, keys[1], "k2", v2Claims(tenantA, c.Now())))
	require.NoError(t, err)
	assert.Equal(t, int32(2), sts.fetches.Load())

	// A kid that is still unknown after a refetch is invalid.
	c.set(t0.Add(2 * defaultMinRefresh))
	_, err = v.ValidateToken(ctx, sign(t, keys[2], "k3", v2Claims(tenantA, c.Now())))
	assert.True(t, errors.Is(err, ErrInvalidToken), "%v", err)
	assert.Equal(t, int32(3), sts.fetches.Load())

	// After the TTL the cache is refreshed, and a key Microsoft withdrew stops working.
	sts.set(map[string]*rsa.PublicKey{"k2": &keys[1].PublicKey})
	c.set(t0.Add(defaultKeysTTL + 3*defaultMinRefresh))
	_, err = v.ValidateToken(ctx, sign(t, keys[0], "k1", v2Claims(tenantA, c.Now())))
	assert.True(t, errors.Is(err, ErrInvalidToken), "%v", err)
}

func TestJWKSOutageIsTransient(t *testing.T) {
	keys := rsaKeys(t)
	sts := newSTS(t, map[string]*rsa.PublicKey{"k1": &keys[0].PublicKey})
	sts.fail = true
	c := newClock(t0)
	v := newTestValidator(t, sts, c)
	ctx := context.Background()
	tok := sign(t, keys[0], "k1", v2Claims(tenantA, t0))

	_, err := v.ValidateToken(ctx, tok)
	assert.True(t, errors.Is(err, ErrKeysUnavailable), "an outage must make Graph retry, not drop: %v", err)
	_, err = v.ValidateToken(ctx, tok)
	assert.True(t, errors.Is(err, ErrKeysUnavailable))
	assert.Equal(t, int32(1), sts.fetches.Load(), "a failed fetch is not retried immediately")

	sts.mu.Lock()
	sts.fail = false
	sts.mu.Unlock()
	c.set(t0.Add(failedFetchBackoff))
	_, err = v.ValidateToken(ctx, tok)
	require.NoError(t, err)

	// Once keys are known, an outage at TTL expiry keeps the stale keys working.
	sts.mu.Lock()
	sts.fail = true
	sts.mu.Unlock()
	c.set(t0.Add(defaultKeysTTL + time.Hour))
	_, err = v.ValidateToken(ctx, sign(t, keys[0], "k1", v2Claims(tenantA, c.Now())))
	require.NoError(t, err)
}

func TestValidateBatch(t *testing.T) {
	keys := rsaKeys(t)
	sts := newSTS(t, map[string]*rsa.PublicKey{"k1": &keys[0].PublicKey})
	v := newTestValidator(t, sts, newClock(t0))
	ctx := context.Background()
	tokA := sign(t, keys[0], "k1", v2Claims(tenantA, t0))
	tokB := sign(t, keys[0], "k1", v1Claims(tenantB, t0))
	forged := sign(t, keys[1], "k1", v2Claims(tenantB, t0))

	assert.NoError(t, v.ValidateBatch(ctx, []string{tokA, tokB}, []string{tenantA, tenantB, tenantA}))
	assert.NoError(t, v.ValidateBatch(ctx, []string{tokA}, []string{"AAAAAAAA-0000-0000-0000-000000000001"}), "tenant ids compare case-insensitively")

	err := v.ValidateBatch(ctx, []string{tokA}, []string{tenantA, tenantB})
	assert.True(t, errors.Is(err, ErrTenantNotCovered), "%v", err)
	err = v.ValidateBatch(ctx, []string{tokA, forged}, []string{tenantA})
	assert.True(t, errors.Is(err, ErrInvalidToken), "one bad token spoils the batch: %v", err)
	err = v.ValidateBatch(ctx, nil, []string{tenantA})
	assert.True(t, errors.Is(err, ErrNoTokens), "%v", err)
}

func TestNewValidatorNeedsClientID(t *testing.T) {
	_, err := NewValidator(ValidatorConfig{})
	assert.Error(t, err)
}

func TestConcurrentColdCacheFetchesOnce(t *testing.T) {
	keys := rsaKeys(t)
	sts := newSTS(t, map[string]*rsa.PublicKey{"k1": &keys[0].PublicKey})
	v := newTestValidator(t, sts, newClock(t0))
	tok := sign(t, keys[0], "k1", v2Claims(tenantA, t0))

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := v.ValidateToken(context.Background(), tok)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), sts.fetches.Load(), "concurrent misses share one fetch")
}
