package graphsim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"
)

type authCode struct {
	clientID, tenantID, userID string
	redirectURI                string
	scope                      string
	challenge, method          string
	nonce                      string
	expires                    time.Time
	used                       bool
}

type grant struct {
	tenantID, userID, clientID string
	scopes                     []string // granted delegated scopes (no OIDC scopes)
	oidc                       []string
	issued                     time.Time
}

// grantKey scopes switches to a user and client; an empty field matches any.
type grantKey struct{ userID, clientID string }

type revocation struct {
	code int
	at   time.Time
}

const graphResource = "https://graph.microsoft.com"

var oidcScopes = map[string]bool{"openid": true, "profile": true, "email": true, "offline_access": true}

// aadMessages are the AADSTS descriptions graphsim answers with.
var aadMessages = map[int]string{
	50173:   "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
	70008:   "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
	700082:  "The refresh token has expired due to inactivity. The token was issued on a date and was inactive for 90.00:00:00.",
	70000:   "Provided grant is invalid or malformed.",
	54005:   "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
	501481:  "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
	7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
	7000222: "The provided client secret keys for app are expired. Visit the Azure portal to create new keys for your app.",
	7000218: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
	65001:   "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
	700016:  "Application with identifier was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
	90002:   "Tenant not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
	50148:   "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
	500112:  "The reply address does not match the reply address provided when requesting Authorization code.",
	50011:   "The redirect URI specified in the request does not match the redirect URIs configured for the application.",
	1002012: "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
	500011:  "The resource principal was not found in the tenant.",
	900144:  "The request body must contain the following parameter: 'grant_type'.",
	70003:   "The app requested an unsupported grant type.",
	9002313: "Invalid request. Request is malformed or invalid.",
}

// writeAADError writes the identity platform's error body.
func writeAADError(w http.ResponseWriter, r *http.Request, status int, errCode string, n int, detail string) {
	trace, corr := newID(), newID()
	now := time.Now().UTC()
	desc := "AADSTS" + strconv.Itoa(n) + ": " + aadMessages[n]
	if detail != "" {
		desc += " " + detail
	}
	desc += " Trace ID: " + trace + " Correlation ID: " + corr + " Timestamp: " + now.Format("2006-01-02 15:04:05Z")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error":             errCode,
		"error_description": desc,
		"error_codes":       []int{n},
		"timestamp":         now.Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         hostBase(r) + "/error?code=" + strconv.Itoa(n),
	})
}

// hostBase is scheme://host as the client addressed the STS, so a client that
// keeps Microsoft's host names (DNS pointed at graphsim) sees a matching issuer.
func hostBase(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func (s *Sim) tenantKnownLocked(tid string) bool {
	for _, a := range s.apps {
		if a.TenantID == tid {
			return true
		}
	}
	for _, u := range s.users {
		if u.TenantID == tid {
			return true
		}
	}
	return false
}

func isMetaTenant(t string) bool { return t == "common" || t == "organizations" }

func (s *Sim) serveIdentity(w http.ResponseWriter, r *http.Request) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(p) == 3 && p[0] == "common" && p[1] == "discovery" && p[2] == "instance":
		s.serveInstanceDiscovery(w, r)
		return
	case len(p) == 4 && p[1] == "discovery" && p[3] == "keys", len(p) == 3 && p[1] == "discovery" && p[2] == "keys":
		writeJSON(w, http.StatusOK, s.sig.jwks(hostBase(r)+"/{tenantid}/v2.0"))
		return
	}
	if len(p) < 2 {
		http.NotFound(w, r)
		return
	}
	tenant := p[0]
	s.mu.Lock()
	known := isMetaTenant(tenant) || s.tenantKnownLocked(tenant)
	s.mu.Unlock()
	if !known {
		writeAADError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	switch rest := strings.Join(p[1:], "/"); rest {
	case "v2.0/.well-known/openid-configuration":
		s.serveOIDC(w, r, tenant)
	case "oauth2/v2.0/authorize":
		s.serveAuthorize(w, r, tenant)
	case "oauth2/v2.0/token":
		if r.Method != http.MethodPost {
			writeAADError(w, r, http.StatusMethodNotAllowed, "invalid_request", 9002313, "")
			return
		}
		s.serveToken(w, r, tenant)
	default:
		http.NotFound(w, r)
	}
}

// cloudAliases is the instance metadata Entra's /common/discovery/instance
// answers with: one entry per cloud, each with the host clients should call
// (preferred_network), the host tokens are cached under (preferred_cache) and
// every host name of that cloud (aliases). The same list is built into MSAL.
var cloudAliases = []instanceMetadata{
	{"login.microsoftonline.com", "login.windows.net", []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
	{"login.partner.microsoftonline.cn", "login.partner.microsoftonline.cn", []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
	{"login.microsoftonline.de", "login.microsoftonline.de", []string{"login.microsoftonline.de"}},
	{"login.microsoftonline.us", "login.microsoftonline.us", []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
	{"login-us.microsoftonline.com", "login-us.microsoftonline.com", []string{"login-us.microsoftonline.com"}},
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

func (s *Sim) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	tenant := "common"
	if ae, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil && ae.Host != "" {
		host = ae.Host
		if segs := strings.Split(strings.Trim(ae.Path, "/"), "/"); len(segs) > 0 && segs[0] != "" {
			tenant = segs[0]
		}
	}
	metadata := append([]instanceMetadata(nil), cloudAliases...)
	known := false
	for _, m := range cloudAliases {
		known = known || containsString(m.Aliases, strings.ToLower(host))
	}
	if !known {
		// Entra would answer invalid_instance (AADSTS50049) for a host outside
		// its clouds; graphsim's own host (loopback, a test name) is a cloud of
		// its own so MSAL accepts it as the authority.
		metadata = append(metadata, instanceMetadata{host, host, []string{host}})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  metadata,
	})
}

func (s *Sim) serveOIDC(w http.ResponseWriter, r *http.Request, tenant string) {
	base := hostBase(r)
	issTenant := tenant
	if isMetaTenant(tenant) {
		issTenant = "{tenantid}"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/" + tenant + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/" + tenant + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/" + issTenant + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"authorization_endpoint":                base + "/" + tenant + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/" + tenant + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/" + tenant + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nonce", "name", "preferred_username", "oid", "tid", "ver"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

var signInPage = template.Must(template.New("signin").Parse(`<!DOCTYPE html>
<html><head><title>Sign in to your account (graphsim)</title></head>
<body><h1>Pick an account</h1><p>{{.App}} wants to sign you in.</p>
<form method="post" action="{{.Action}}">
{{range .Users}}<p><label><input type="radio" name="user" value="{{.ID}}"{{if .Selected}} checked{{end}}> {{.DisplayName}} ({{.UPN}})</label></p>
{{end}}<p><button type="submit">Sign in</button> <button type="submit" name="sim_deny" value="1">Cancel</button></p>
</form></body></html>`))

// serveAuthorize renders an account picker; submitting it (or a GET/POST with
// user=<id|upn> for tests, or prompt=none with a resolvable login_hint)
// redirects to redirect_uri with code and state.
func (s *Sim) serveAuthorize(w http.ResponseWriter, r *http.Request, tenant string) {
	_ = r.ParseForm()
	q := r.Form
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	s.mu.Lock()
	app, ok := s.apps[clientID]
	s.mu.Unlock()
	if !ok {
		writeAADError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, "Application '"+clientID+"'.")
		return
	}
	if !containsString(app.RedirectURIs, redirect) {
		writeAADError(w, r, http.StatusBadRequest, "invalid_request", 50011, "Redirect URI '"+redirect+"'.")
		return
	}
	back := func(v url.Values) {
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		u, _ := url.Parse(redirect)
		uq := u.Query()
		for k, vs := range v {
			uq[k] = vs
		}
		u.RawQuery = uq.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		back(url.Values{"error": {"unsupported_response_type"}, "error_description": {"AADSTS700054: response_type 'code' is the only one graphsim supports."}})
		return
	}
	if m := q.Get("code_challenge_method"); q.Get("code_challenge") != "" && m != "S256" && m != "plain" && m != "" {
		back(url.Values{"error": {"invalid_request"}, "error_description": {"AADSTS501491: Invalid code_challenge_method."}})
		return
	}
	if q.Get("sim_deny") != "" {
		back(url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent to access the app."}})
		return
	}
	pick := q.Get("user")
	if pick == "" && q.Get("prompt") == "none" {
		pick = q.Get("login_hint")
	}
	s.mu.Lock()
	userTenant := app.TenantID
	if !isMetaTenant(tenant) {
		userTenant = tenant
	}
	var chosen *userState
	if pick != "" {
		chosen = s.findUserLocked(userTenant, pick)
	}
	var users []map[string]any
	if chosen == nil {
		hint := q.Get("login_hint")
		for _, u := range s.usersInTenantLocked(userTenant) {
			sel := hint != "" && (strings.EqualFold(hint, u.UserPrincipalName) || strings.EqualFold(hint, u.Mail) || hint == u.ID)
			users = append(users, map[string]any{"ID": u.ID, "DisplayName": u.DisplayName, "UPN": u.UserPrincipalName, "Selected": sel})
		}
	}
	s.mu.Unlock()
	if chosen == nil {
		if pick != "" && q.Get("prompt") == "none" {
			back(url.Values{"error": {"login_required"}, "error_description": {"AADSTS50058: A silent sign-in request was sent but no user is signed in."}})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = signInPage.Execute(w, map[string]any{"App": app.DisplayName, "Action": r.URL.Path + "?" + q.Encode(), "Users": users})
		return
	}
	s.mu.Lock()
	if s.consentMissingLocked(chosen.ID, clientID) {
		s.mu.Unlock()
		back(url.Values{"error": {"consent_required"}, "error_description": {"AADSTS65001: " + aadMessages[65001]}})
		return
	}
	code := "1.AXsA" + randomToken(48)
	s.codes[code] = &authCode{
		clientID: clientID, tenantID: chosen.TenantID, userID: chosen.ID, redirectURI: redirect, scope: q.Get("scope"),
		challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"), nonce: q.Get("nonce"),
		expires: s.now().Add(10 * time.Minute),
	}
	s.mu.Unlock()
	back(url.Values{"code": {code}, "session_state": {newID()}})
}

// usersInTenantLocked lists a tenant's users in id order.
func (s *Sim) usersInTenantLocked(tid string) []User {
	var out []User
	for _, u := range s.users {
		if u.TenantID == tid {
			out = append(out, u.User)
		}
	}
	sortUsers(out)
	return out
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// clientAuth reads client credentials from HTTP Basic (URL-escaped, as
// x/oauth2 sends them) or from the form body.
func clientAuth(r *http.Request) (id, secret string) {
	if u, p, ok := r.BasicAuth(); ok {
		uid, err1 := url.QueryUnescape(u)
		sec, err2 := url.QueryUnescape(p)
		if err1 == nil && err2 == nil {
			return uid, sec
		}
		return u, p
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func (s *Sim) serveToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		writeAADError(w, r, http.StatusBadRequest, "invalid_request", 9002313, "")
		return
	}
	clientID, secret := clientAuth(r)
	s.mu.Lock()
	app, ok := s.apps[clientID]
	var appCopy appState
	if ok {
		appCopy = *app
	}
	failSec := s.failSec[clientID]
	s.mu.Unlock()
	if !ok || (!isMetaTenant(tenant) && app.TenantID != tenant) {
		writeAADError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, "Application '"+clientID+"' in directory '"+tenant+"'.")
		return
	}
	switch {
	case secret == "":
		writeAADError(w, r, http.StatusUnauthorized, "invalid_client", 7000218, "")
		return
	case failSec || subtle.ConstantTimeCompare([]byte(secret), []byte(appCopy.ClientSecret)) != 1:
		writeAADError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, "Trace app '"+clientID+"'.")
		return
	case s.now().After(appCopy.SecretExpires):
		writeAADError(w, r, http.StatusUnauthorized, "invalid_client", 7000222, "App '"+clientID+"'.")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		s.grantClientCredentials(w, r, tenant, &appCopy)
	case "authorization_code":
		s.grantAuthCode(w, r, &appCopy)
	case "refresh_token":
		s.grantRefresh(w, r, &appCopy)
	case "":
		writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, "")
	default:
		writeAADError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, "Grant type '"+gt+"'.")
	}
}

func (s *Sim) grantClientCredentials(w http.ResponseWriter, r *http.Request, tenant string, app *appState) {
	if isMetaTenant(tenant) {
		writeAADError(w, r, http.StatusBadRequest, "invalid_request", 90002, "Client credentials need a tenant-specific authority, not '"+tenant+"'.")
		return
	}
	// MSAL appends openid/profile/offline_access to every request; Entra ignores them here.
	var resScopes []string
	for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
		if !oidcScopes[sc] {
			resScopes = append(resScopes, sc)
		}
	}
	scope := strings.Join(resScopes, " ")
	if !strings.HasSuffix(scope, "/.default") || len(resScopes) != 1 {
		writeAADError(w, r, http.StatusBadRequest, "invalid_scope", 1002012, "Scope '"+scope+"'.")
		return
	}
	if res := strings.TrimSuffix(scope, "/.default"); res != graphResource && res != "00000003-0000-0000-c000-000000000000" {
		writeAADError(w, r, http.StatusBadRequest, "invalid_resource", 500011, "Resource '"+res+"'.")
		return
	}
	now := s.now()
	claims := s.baseClaims(r, app.TenantID, app.ClientID, now)
	claims["idtyp"] = "app"
	claims["oid"] = app.secretKeyID
	claims["sub"] = app.secretKeyID
	if len(app.AppRoles) > 0 {
		claims["roles"] = app.AppRoles
	}
	tok, err := s.sig.sign(claims)
	if err != nil {
		writeAADError(w, r, http.StatusInternalServerError, "server_error", 9002313, "")
		return
	}
	secs := int(s.opts.AccessTokenLifetime.Seconds())
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// baseClaims are the claims common to app and delegated access tokens.
func (s *Sim) baseClaims(r *http.Request, tid, clientID string, now time.Time) map[string]any {
	s.mu.Lock()
	gen := s.tokenGen
	s.mu.Unlock()
	return map[string]any{
		"aud":     graphAudience,
		"iss":     hostBase(r) + "/" + tid + "/v2.0",
		"iat":     now.Unix(),
		"nbf":     now.Unix() - 1,
		"exp":     now.Add(s.opts.AccessTokenLifetime).Unix(),
		"tid":     tid,
		"appid":   clientID,
		"azp":     clientID,
		"ver":     "2.0",
		"uti":     randomToken(16),
		"sim_gen": gen,
	}
}

func (s *Sim) consentMissingLocked(userID, clientID string) bool {
	return s.noConsent[grantKey{userID, clientID}] || s.noConsent[grantKey{"", clientID}]
}

func (s *Sim) revocationLocked(userID, clientID string) (revocation, bool) {
	if rv, ok := s.revoked[grantKey{userID, clientID}]; ok {
		return rv, true
	}
	rv, ok := s.revoked[grantKey{userID, ""}]
	return rv, ok
}

// resolveScopes maps a requested scope string to the delegated permissions
// granted (Graph scopes without the resource prefix) and the OIDC scopes.
// missing lists Graph scopes the app has no consent for.
func resolveScopes(requested string, app *appState) (granted, oidc, missing []string) {
	for _, sc := range strings.Fields(requested) {
		if oidcScopes[sc] {
			oidc = append(oidc, sc)
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(sc, graphResource+"/"), "00000003-0000-0000-c000-000000000000/")
		if name == ".default" {
			for _, d := range app.DelegatedScopes {
				if !oidcScopes[d] && !containsString(granted, d) {
					granted = append(granted, d)
				}
			}
			continue
		}
		if containsString(app.DelegatedScopes, name) {
			if !containsString(granted, name) {
				granted = append(granted, name)
			}
		} else {
			missing = append(missing, name)
		}
	}
	return granted, oidc, missing
}

func pkceMatches(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if verifier == "" {
		return false
	}
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(challenge), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) == 1
}

func (s *Sim) grantAuthCode(w http.ResponseWriter, r *http.Request, app *appState) {
	code := r.PostForm.Get("code")
	s.mu.Lock()
	ac, ok := s.codes[code]
	if !ok || ac.clientID != app.ClientID {
		s.mu.Unlock()
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 9002313, "Unknown authorization code.")
		return
	}
	if ac.used {
		s.mu.Unlock()
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 54005, "")
		return
	}
	if s.now().After(ac.expires) {
		s.mu.Unlock()
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 70008, "")
		return
	}
	if r.PostForm.Get("redirect_uri") != ac.redirectURI {
		s.mu.Unlock()
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 500112, "")
		return
	}
	if !pkceMatches(ac.challenge, ac.method, r.PostForm.Get("code_verifier")) {
		s.mu.Unlock()
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 501481, "")
		return
	}
	ac.used = true
	consentMissing := s.consentMissingLocked(ac.userID, app.ClientID)
	s.mu.Unlock()
	if consentMissing {
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 65001, "App '"+app.ClientID+"'.")
		return
	}
	scope := ac.scope
	if v := r.PostForm.Get("scope"); v != "" {
		scope = v
	}
	granted, oidc, missing := resolveScopes(scope, app)
	if len(missing) > 0 {
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 65001, "Scopes '"+strings.Join(missing, " ")+"'.")
		return
	}
	s.issueDelegated(w, r, app, ac.tenantID, ac.userID, granted, oidc, ac.nonce)
}

func (s *Sim) grantRefresh(w http.ResponseWriter, r *http.Request, app *appState) {
	rt := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	g, ok := s.refresh[rt]
	if !ok || g.clientID != app.ClientID {
		s.mu.Unlock()
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "")
		return
	}
	rv, revoked := s.revocationLocked(g.userID, g.clientID)
	consentMissing := s.consentMissingLocked(g.userID, g.clientID)
	gc := *g
	s.mu.Unlock()
	if revoked && !g.issued.After(rv.at) {
		errCode := "invalid_grant"
		writeAADError(w, r, http.StatusBadRequest, errCode, rv.code, "")
		return
	}
	if consentMissing {
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 65001, "App '"+app.ClientID+"'.")
		return
	}
	// The grant carries what was consented at sign-in; a scope withdrawn since
	// (SetDelegatedScopes) is no longer issued.
	var granted []string
	for _, sc := range gc.scopes {
		if containsString(app.DelegatedScopes, sc) {
			granted = append(granted, sc)
		}
	}
	oidc := gc.oidc
	if v := r.PostForm.Get("scope"); v != "" {
		var missing []string
		granted, oidc, missing = resolveScopes(v, app)
		if len(missing) > 0 {
			writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 65001, "Scopes '"+strings.Join(missing, " ")+"'.")
			return
		}
		if !containsString(oidc, "offline_access") && containsString(gc.oidc, "offline_access") {
			oidc = append(oidc, "offline_access")
		}
	}
	s.issueDelegated(w, r, app, gc.tenantID, gc.userID, granted, oidc, "")
}

// issueDelegated answers a token request for a user: access token with scp,
// a new refresh token on every answer (offline_access; old ones stay valid)
// and an id_token for openid.
func (s *Sim) issueDelegated(w http.ResponseWriter, r *http.Request, app *appState, tid, userID string, granted, oidc []string, nonce string) {
	s.mu.Lock()
	u, ok := s.users[userID]
	var user User
	if ok {
		user = u.User
	}
	s.mu.Unlock()
	if !ok {
		writeAADError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "User no longer exists.")
		return
	}
	now := s.now()
	claims := s.baseClaims(r, tid, app.ClientID, now)
	claims["idtyp"] = "user"
	claims["oid"] = user.ID
	claims["sub"] = user.ID
	claims["name"] = user.DisplayName
	claims["upn"] = user.UserPrincipalName
	claims["preferred_username"] = user.UserPrincipalName
	claims["scp"] = strings.Join(granted, " ")
	at, err := s.sig.sign(claims)
	if err != nil {
		writeAADError(w, r, http.StatusInternalServerError, "server_error", 9002313, "")
		return
	}
	secs := int(s.opts.AccessTokenLifetime.Seconds())
	out := map[string]any{"token_type": "Bearer", "scope": strings.Join(append(append([]string{}, granted...), oidc...), " "), "expires_in": secs, "ext_expires_in": secs, "access_token": at}
	if containsString(oidc, "offline_access") {
		rt := "1.AXsA" + randomToken(96)
		s.mu.Lock()
		s.refresh[rt] = &grant{tenantID: tid, userID: userID, clientID: app.ClientID, scopes: granted, oidc: oidc, issued: now}
		s.mu.Unlock()
		out["refresh_token"] = rt
		out["refresh_token_expires_in"] = 90 * 24 * 3600
	}
	if containsString(oidc, "openid") {
		id := map[string]any{
			"aud": app.ClientID, "iss": hostBase(r) + "/" + tid + "/v2.0", "iat": now.Unix(), "nbf": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "sub": user.ID, "oid": user.ID, "tid": tid, "ver": "2.0",
			"name": user.DisplayName, "preferred_username": user.UserPrincipalName,
		}
		if nonce != "" {
			id["nonce"] = nonce
		}
		if idt, err := s.sig.sign(id); err == nil {
			out["id_token"] = idt
		}
	}
	if r.PostForm.Get("client_info") == "1" {
		ci, _ := json.Marshal(map[string]string{"uid": user.ID, "utid": tid})
		out["client_info"] = base64.RawURLEncoding.EncodeToString(ci)
	}
	writeJSON(w, http.StatusOK, out)
}

// RevokeGrant makes refresh tokens issued so far to userID (for clientID, or
// every client when empty) fail with invalid_grant and the given AADSTS code
// (50173, 70008, 700082 or 70000). A new sign-in works again.
func (s *Sim) RevokeGrant(userID, clientID string, aadstsCode int) {
	if aadstsCode == 0 {
		aadstsCode = 50173
	}
	s.mu.Lock()
	s.revoked[grantKey{userID, clientID}] = revocation{code: aadstsCode, at: s.now()}
	s.mu.Unlock()
}

// ExpireTokens makes every access token issued so far fail at Graph with 401
// "Lifetime validation failed, the token is expired."
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	s.tokenGen++
	s.mu.Unlock()
}

// FailClientSecret makes the token endpoint reject the app's secret with
// invalid_client AADSTS7000215 while on.
func (s *Sim) FailClientSecret(clientID string, on bool) {
	s.mu.Lock()
	s.failSec[clientID] = on
	s.mu.Unlock()
}

// SetConsent withdraws (granted=false) or restores the user's consent for a
// client; userID "" applies to every user. Without consent, code redemption
// and refresh answer invalid_grant AADSTS65001.
func (s *Sim) SetConsent(clientID, userID string, granted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if granted {
		delete(s.noConsent, grantKey{userID, clientID})
		return
	}
	s.noConsent[grantKey{userID, clientID}] = true
}

// SetDelegatedScopes replaces the delegated permissions the tenant has
// consented to for the app (AppRegistration.DelegatedScopes), as an admin
// granting or revoking a permission would. Tokens issued from then on follow
// it: a sign-in or a refresh asking for a withdrawn scope by name fails with
// AADSTS65001, /.default gets only what is still granted, and a refresh
// without a scope drops the withdrawn ones. Access tokens issued before keep
// their scp until they expire, as in Entra.
func (s *Sim) SetDelegatedScopes(clientID string, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.apps[clientID]
	if !ok {
		return errors.Errorf("unknown app %q", clientID)
	}
	// A new slice: token requests work on a copy of the registration taken
	// under the lock and keep reading the old one.
	app.DelegatedScopes = append([]string{}, scopes...)
	return nil
}
