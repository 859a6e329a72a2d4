package webhook

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

// The handler wired to the real richnotify.Validator against a JWKS served over TLS, as in the plugin.
func TestRichBatchWithTheRealValidator(t *testing.T) {
	const clientID = "11111111-2222-3333-4444-555555555555"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	var down atomic.Bool
	sts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	defer sts.Close()

	newValidator := func() *richnotify.Validator {
		v, err := richnotify.NewValidator(richnotify.ValidatorConfig{
			ClientID: clientID, JWKSURL: sts.URL + "/keys", AuthorityHost: "https://login.emu.test/", HTTPClient: sts.Client(),
		})
		require.NoError(t, err)
		return v
	}
	token := func(tid, aud string) string {
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"aud": aud, "azp": richnotify.GraphChangeTrackingAppID, "tid": tid, "ver": "2.0",
			"iss": "https://login.emu.test/" + tid + "/v2.0", "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	items := []map[string]any{richNote("s", "19:a@thread.v2", "1", tenantA), richNote("s", "19:b@thread.v2", "2", tenantB)}

	t.Run("tokens for both tenants", func(t *testing.T) {
		f := newFixture(t, newValidator())
		rec := post(f.changes, "/", batchJSON(t, items, []string{token(tenantA, clientID), token(tenantB, clientID)}))
		assert.Equal(t, http.StatusAccepted, rec.Code)
		assert.Len(t, f.sink.items, 2)
	})
	t.Run("a tenant without a token", func(t *testing.T) {
		f := newFixture(t, newValidator())
		rec := post(f.changes, "/", batchJSON(t, items, []string{token(tenantA, clientID)}))
		assert.Equal(t, http.StatusAccepted, rec.Code)
		assertFetchedInstead(t, f, UnverifiedInvalidTokens)
	})
	t.Run("token for another app", func(t *testing.T) {
		f := newFixture(t, newValidator())
		rec := post(f.changes, "/", batchJSON(t, items, []string{token(tenantA, clientID), token(tenantB, "other-app")}))
		assert.Equal(t, http.StatusAccepted, rec.Code)
		assertFetchedInstead(t, f, UnverifiedInvalidTokens)
		assert.NotContains(t, f.log.text(), "eyJ", "tokens are not logged")
	})
	t.Run("no tokens at all", func(t *testing.T) {
		f := newFixture(t, newValidator())
		rec := post(f.changes, "/", batchJSON(t, items, nil)) // Graph's "validationTokens": null
		assert.Equal(t, http.StatusAccepted, rec.Code)
		assertFetchedInstead(t, f, UnverifiedNoTokens)
	})
	t.Run("signing keys unreachable", func(t *testing.T) {
		down.Store(true)
		defer down.Store(false)
		f := newFixture(t, newValidator())
		rec := post(f.changes, "/", batchJSON(t, items, []string{token(tenantA, clientID), token(tenantB, clientID)}))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Zero(t, f.sink.calls)
	})
}

// assertFetchedInstead checks that both rich items of the batch were stored without their content (delivery
// fetches them from Graph) and counted under reason.
func assertFetchedInstead(t *testing.T, f *fixture, reason string) {
	t.Helper()
	require.Len(t, f.sink.items, 2)
	for _, it := range f.sink.items {
		assert.Nil(t, it.EncryptedContent)
	}
	assert.Equal(t, 2, f.metrics.plain["changes/"+reason])
	assert.Equal(t, int64(2), f.changes.UnverifiedRich().Count)
}
