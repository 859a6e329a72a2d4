package graph

import (
	"compress/gzip"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/config"
)

const (
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClient = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	testSecret = "Xyz8Q~a-test-secret-value"
	appToken   = "app-access-token"
	userToken  = "user-access-token"
)

// fakeCloud is a TLS server playing both the identity platform (OIDC discovery and the token endpoint, enough
// for MSAL) and Graph under /v1.0. Graph routes answer 401 InvalidAuthenticationToken without a known bearer,
// which is what exposes a client that silently sends no Authorization header.
type fakeCloud struct {
	t   *testing.T
	srv *httptest.Server

	mu           sync.Mutex
	routes       map[string]http.HandlerFunc // "METHOD /path" (path as decoded by net/http, below /v1.0)
	outside      map[string]http.HandlerFunc // path prefix outside /v1.0, served without a bearer check
	tokenHandler http.HandlerFunc            // overrides the token endpoint when set
	tokenCalls   int
}

func newFakeCloud(t *testing.T) *fakeCloud {
	f := &fakeCloud{t: t, routes: map[string]http.HandlerFunc{}, outside: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	// Tests that deliberately distrust the certificate would otherwise fill the output with handshake errors.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCloud) baseURL() string { return f.srv.URL }

func (f *fakeCloud) caPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}))
}

func (f *fakeCloud) config() config.Configuration {
	c := config.Defaults()
	c.TenantID = testTenant
	c.ClientID = testClient
	c.ClientSecret = testSecret
	c.EncryptionKey = "k"
	c.WebhookSecret = "w"
	c.Cloud = config.CloudCustom
	c.CustomAuthorityURL = f.srv.URL
	c.CustomGraphURL = f.srv.URL + "/v1.0"
	c.CustomCACertificate = f.caPEM()
	return c
}

func (f *fakeCloud) factory(opts Options) *Factory {
	cfg := f.config()
	require.NoError(f.t, cfg.Validate())
	factory, err := NewFactory(cfg, opts)
	require.NoError(f.t, err)
	return factory
}

func (f *fakeCloud) handle(methodAndPath string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[methodAndPath] = h
}

// handleOutside serves a path prefix outside Graph (e.g. a pre-authenticated download host).
func (f *fakeCloud) handleOutside(prefix string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outside[prefix] = h
}

func (f *fakeCloud) serve(w http.ResponseWriter, r *http.Request) {
	base := f.srv.URL
	switch {
	case r.URL.Path == "/"+testTenant+"/v2.0/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"authorization_endpoint": base + "/" + testTenant + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/" + testTenant + "/oauth2/v2.0/token",
			"issuer":                 base + "/" + testTenant + "/v2.0",
		})
		return
	case r.URL.Path == "/"+testTenant+"/oauth2/v2.0/token":
		f.mu.Lock()
		f.tokenCalls++
		override := f.tokenHandler
		f.mu.Unlock()
		if override != nil {
			override(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
			return
		}
		if r.PostForm.Get("client_id") != testClient || r.PostForm.Get("client_secret") != testSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]any{
				"error":             "invalid_client",
				"error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2",
				"error_codes":       []int{7000215},
			})
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "client_credentials":
			// MSAL appends "openid offline_access profile"; what matters is the Graph resource.
			if strings.Fields(r.PostForm.Get("scope"))[0] != "https://graph.microsoft.com/.default" {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_scope", "error_description": "AADSTS70011: bad scope " + r.PostForm.Get("scope")})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": appToken})
		case "authorization_code":
			writeJSON(w, http.StatusOK, map[string]any{
				"token_type": "Bearer", "expires_in": 3599, "scope": r.PostForm.Get("scope"),
				"access_token": userToken, "refresh_token": "refresh-" + r.PostForm.Get("code"),
			})
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		}
		return
	}

	if !strings.HasPrefix(r.URL.Path, "/v1.0/") {
		f.mu.Lock()
		var h http.HandlerFunc
		for prefix, candidate := range f.outside {
			if strings.HasPrefix(r.URL.Path, prefix) {
				h = candidate
			}
		}
		f.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+appToken && auth != "Bearer "+userToken {
		writeODataError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	f.mu.Lock()
	h := f.routes[r.Method+" "+strings.TrimPrefix(r.URL.Path, "/v1.0")]
	f.mu.Unlock()
	if h == nil {
		writeODataError(w, http.StatusNotFound, "NotFound", "No route for "+r.Method+" "+r.URL.Path)
		return
	}
	h(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func writeODataError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": code, "message": message,
		"innerError": map[string]any{"date": "2026-01-01T00:00:00", "request-id": "r", "client-request-id": "c"},
	}})
}

// readRequestJSON decodes a request body the SDK may have gzip-compressed. It runs in handler goroutines, so it
// reports with assert (t.Errorf) rather than require.
func readRequestJSON(t *testing.T, r *http.Request) map[string]any {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if !assert.NoError(t, err) {
			return nil
		}
		body = gz
	}
	var out map[string]any
	assert.NoError(t, json.NewDecoder(body).Decode(&out))
	return out
}
