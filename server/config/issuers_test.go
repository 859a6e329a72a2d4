package config

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

// A rich notification from each cloud carries tokens from that cloud's token service; the validator built
// from the cloud setting must accept exactly those (both token versions) and refuse the other clouds' issuers.
func TestValidationTokenIssuersPerCloud(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	sts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	defer sts.Close()

	const tid = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
	token := func(ver, iss string) string {
		claims := jwt.MapClaims{"aud": valid().ClientID, "tid": tid, "ver": ver, "iss": iss,
			"nbf": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(time.Hour).Unix()}
		if ver == "1.0" {
			claims["appid"] = richnotify.GraphChangeTrackingAppID
		} else {
			claims["azp"] = richnotify.GraphChangeTrackingAppID
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	issuers := map[string][2]string{ // cloud → documented v1 and v2 issuer of tenant tid
		CloudCommercial: {"https://sts.windows.net/" + tid + "/", "https://login.microsoftonline.com/" + tid + "/v2.0"},
		CloudGCCHigh:    {"https://sts.windows.net/" + tid + "/", "https://login.microsoftonline.us/" + tid + "/v2.0"},
		CloudDoD:        {"https://sts.windows.net/" + tid + "/", "https://login.microsoftonline.us/" + tid + "/v2.0"},
		CloudChina:      {"https://sts.chinacloudapi.cn/" + tid + "/", "https://login.partner.microsoftonline.cn/" + tid + "/v2.0"},
	}
	jwks := map[string]string{
		CloudCommercial: "https://login.microsoftonline.com/common/discovery/v2.0/keys",
		CloudGCCHigh:    "https://login.microsoftonline.us/common/discovery/v2.0/keys",
		CloudDoD:        "https://login.microsoftonline.us/common/discovery/v2.0/keys",
		CloudChina:      "https://login.chinacloudapi.cn/common/discovery/v2.0/keys",
	}
	for _, cloud := range []string{CloudCommercial, CloudGCCHigh, CloudDoD, CloudChina} {
		t.Run(cloud, func(t *testing.T) {
			c := valid()
			c.Cloud = cloud
			iss, err := c.TokenIssuers()
			require.NoError(t, err)
			assert.Equal(t, jwks[cloud], iss.JWKSURL)
			v, err := richnotify.NewValidator(richnotify.ValidatorConfig{
				ClientID: c.ClientID, JWKSURL: sts.URL + "/keys", // the test STS stands in for the cloud's key set
				AuthorityHost: iss.V2Prefix, V1IssuerHost: iss.V1Prefix, HTTPClient: sts.Client(),
			})
			require.NoError(t, err)
			ctx := context.Background()
			for other, want := range issuers {
				for i, ver := range []string{"1.0", "2.0"} {
					err := v.ValidateBatch(ctx, []string{token(ver, want[i])}, []string{tid})
					if want[i] == issuers[cloud][i] { // GCC High and DoD, and v1 outside China, share issuers
						assert.NoError(t, err, "ver %s token from %s's issuer %s", ver, other, want[i])
					} else {
						assert.ErrorIs(t, err, richnotify.ErrInvalidToken, "ver %s token from %s's issuer %s", ver, other, want[i])
					}
				}
			}
		})
	}
}
