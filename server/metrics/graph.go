package metrics

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Token kinds reported in the token label.
const (
	TokenApp       = "app"
	TokenDelegated = "delegated"
	TokenNone      = "none"
	TokenUnknown   = "unknown"
)

// GraphTransport wraps the transport under the Graph SDK middleware (graph.Options.Transport). Every request that
// leaves the plugin for Microsoft is counted and timed: Graph calls by normalised route ("GET
// /chats/{id}/messages/{id}"), identity-platform calls ("POST /{tenant}/oauth2/v2.0/token"), and
// pre-authenticated downloads ("GET download"). It sits below the SDK's retry handler, so each 429 the SDK
// retries is counted once. next defaults to http.DefaultTransport.
func (m *Metrics) GraphTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if m == nil {
		return next
	}
	return &graphTransport{m: m, next: next}
}

type graphTransport struct {
	m    *Metrics
	next http.RoundTripper
}

func (t *graphTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := Endpoint(req.Method, req.URL)
	kind, grant, req := tokenKindOf(req)
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = statusCode(resp.StatusCode)
		if grant == "refresh_token" {
			t.observeRefresh(resp)
		}
	}
	t.m.graphRequests.WithLabelValues(endpoint, kind, code).Inc()
	t.m.graphDuration.WithLabelValues(endpoint, kind).Observe(time.Since(start).Seconds())
	return resp, err
}

// graphWords are the Graph path segments kept in endpoint labels; any other segment is an id. Keeping a fixed
// vocabulary (instead of guessing what looks like an id) is what bounds the label's values.
var graphWords = map[string]bool{
	"chats": true, "messages": true, "members": true, "users": true, "me": true, "communications": true,
	"presences": true, "getPresencesByUserId": true, "hostedContents": true, "$value": true, "shares": true,
	"driveItem": true, "content": true, "$batch": true, "subscriptions": true, "reauthorize": true,
	"getAllMessages": true, "delta": true, "replies": true, "organization": true, "presence": true,
	"applications": true, "servicePrincipals": true, "appRoleAssignments": true, "$count": true, "teams": true,
	"channels": true, "installedApps": true, "drives": true, "items": true, "root": true, "children": true,
}

// identityWords are the identity-platform path segments kept; the first segment is always the tenant.
var identityWords = map[string]bool{
	"oauth2": true, "v2.0": true, "token": true, "authorize": true, "devicecode": true, ".well-known": true,
	"openid-configuration": true, "discovery": true, "keys": true, "logout": true, "instance": true,
}

const maxSegments = 8

// Endpoint normalises a request to its endpoint label.
func Endpoint(method string, u *url.URL) string {
	p := u.EscapedPath()
	segs := strings.Split(strings.Trim(p, "/"), "/")
	if len(segs) > 0 && (segs[0] == "v1.0" || segs[0] == "beta") {
		segs = segs[1:]
		for i, s := range segs {
			if unescaped, err := url.PathUnescape(s); err == nil {
				s = unescaped
			}
			s = strings.TrimSuffix(s, "()")
			switch {
			case graphWords[s]:
			case strings.HasPrefix(s, "applications("):
				s = "applications(appId={id})"
			default:
				s = "{id}"
			}
			segs[i] = s
		}
		return method + " /" + strings.Join(limit(segs), "/")
	}
	if isIdentityPath(segs) {
		segs[0] = "{tenant}"
		for i := 1; i < len(segs); i++ {
			if !identityWords[segs[i]] {
				segs[i] = "{id}"
			}
		}
		return method + " /" + strings.Join(limit(segs), "/")
	}
	// Anything else is a pre-authenticated file URL (SharePoint, OneDrive, graphsim's file host): its path is
	// the file's, so none of it belongs in a label.
	return method + " download"
}

func isIdentityPath(segs []string) bool {
	for _, s := range segs {
		if s == "oauth2" || s == ".well-known" || s == "discovery" {
			return true
		}
	}
	return false
}

func limit(segs []string) []string {
	if len(segs) > maxSegments {
		return append(segs[:maxSegments:maxSegments], "...")
	}
	return segs
}

// tokenKindOf tells app-only from delegated calls by the access token's claims (an app token carries roles and
// no scp), read without verifying: the label is for operators, not for a security decision. A token request
// is labelled by its grant: client credentials for the app, refresh or code redemption for a user.
func tokenKindOf(req *http.Request) (kind, grant string, out *http.Request) {
	if auth := req.Header.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return TokenUnknown, "", req
		}
		return jwtKind(tok), "", req
	}
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/token") {
		grant, out := grantType(req)
		switch grant {
		case "client_credentials":
			return TokenApp, grant, out
		case "refresh_token", "authorization_code":
			return TokenDelegated, grant, out
		}
		return TokenNone, grant, out
	}
	return TokenNone, "", req
}

// observeRefresh counts a user's token refresh, and a refusal that ends the connection (invalid_grant: consent
// withdrawn, password changed, refresh token expired or revoked) by its AADSTS code. A refusal of the app
// itself (invalid_client: a wrong secret) is not a revocation. The response body is peeked and put back.
func (t *graphTransport) observeRefresh(resp *http.Response) {
	if resp.StatusCode == http.StatusOK {
		t.m.TokenRefreshed()
		return
	}
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		return
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return
	}
	var e struct {
		Error      string `json:"error"`
		ErrorCodes []int  `json:"error_codes"`
	}
	if json.Unmarshal(head, &e) != nil || e.Error != "invalid_grant" {
		return
	}
	reason := e.Error
	if len(e.ErrorCodes) > 0 {
		reason = "AADSTS" + strconv.Itoa(e.ErrorCodes[0])
	}
	t.m.TokenRevoked(reason)
}

func jwtKind(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return TokenUnknown
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return TokenUnknown
	}
	var claims struct {
		Roles []string `json:"roles"`
		Scp   string   `json:"scp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return TokenUnknown
	}
	switch {
	case claims.Scp != "":
		return TokenDelegated
	case len(claims.Roles) > 0:
		return TokenApp
	default:
		return TokenUnknown
	}
}

// maxTokenBody bounds what is read of a token request's form to find its grant type.
const maxTokenBody = 64 << 10

// grantType reads grant_type from a token request's form body. The body is read once and the request sent on
// is a copy carrying the bytes read (a RoundTripper must not alter its caller's request, and some callers'
// GetBody rewinds the very reader the transport would then find empty).
func grantType(req *http.Request) (string, *http.Request) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength <= 0 || req.ContentLength > maxTokenBody {
		return "", req
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if err != nil {
		return "", out
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", out
	}
	return form.Get("grant_type"), out
}
