package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// Teams tenant and app registration the stacks use (made up, like Entra's GUIDs).
const (
	TeamsTenantID     = "e2e0e2e0-0000-4000-8000-00000000e2e0"
	TeamsClientID     = "e2e0c11e-0000-4000-8000-00000000a99a"
	TeamsClientSecret = "e2e~graphsim-client-secret"
	TeamsMailDomain   = "teams.e2e.test"
)

// RedirectPath is the plugin's OAuth redirect route below the site URL; the app registration must list it.
const RedirectPath = "/plugins/" + PluginID + "/oauth-redirect"

// Teams is graphsim running in this process: Microsoft Graph and Entra ID with one tenant holding the plugin's
// app registration.
type Teams struct {
	Sim *graphsim.Sim
}

// StartTeams starts graphsim (TLS, its own CA), registers the plugin's app with the redirect URI of siteURL and
// the application permissions the plugin needs, and stops it when t ends. Throttling is off: the tests are about
// behaviour, not Graph's limits.
func StartTeams(t T, siteURL string) *Teams {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	if err != nil {
		t.Fatalf("graphsim: %v", err)
	}
	if err := sim.Start(); err != nil {
		t.Fatalf("start graphsim: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	err = sim.AddApp(graphsim.AppRegistration{
		TenantID: TeamsTenantID, ClientID: TeamsClientID, ClientSecret: TeamsClientSecret,
		DisplayName:  "Mattermost MS Teams (e2e)",
		RedirectURIs: []string{strings.TrimRight(siteURL, "/") + RedirectPath},
		AppRoles:     []string{"Chat.Read.All", "ChatMember.Read.All", "Presence.Read.All", "User.Read.All", "Files.Read.All", "Application.Read.All"},
	})
	if err != nil {
		t.Fatalf("register the app in graphsim: %v", err)
	}
	return &Teams{Sim: sim}
}

// PluginSettings points the plugin at this graphsim: custom cloud, its authority, Graph URL and CA.
func (tm *Teams) PluginSettings() map[string]any {
	return map[string]any{
		"TenantID":            TeamsTenantID,
		"ClientID":            TeamsClientID,
		"ClientSecret":        TeamsClientSecret,
		"Cloud":               "custom",
		"CustomAuthorityURL":  tm.Sim.AuthorityURL(),
		"CustomGraphURL":      tm.Sim.GraphURL(),
		"CustomCACertificate": string(tm.Sim.CACertPEM()),
	}
}

// AddUser creates a Teams user whose mail and UPN are name@TeamsMailDomain.
func (tm *Teams) AddUser(t T, name, displayName string) graphsim.User {
	t.Helper()
	mail := name + "@" + TeamsMailDomain
	u := graphsim.User{ID: fmt.Sprintf("e2e0%04x-0000-4000-8000-%012x", len(name), time.Now().UnixNano()&0xffffffffffff),
		TenantID: TeamsTenantID, DisplayName: displayName, Mail: mail, UserPrincipalName: mail,
		ProxyAddresses: []string{"SMTP:" + mail}}
	if err := tm.Sim.AddUser(u); err != nil {
		t.Fatalf("add Teams user %s: %v", name, err)
	}
	return u
}

// Chat creates a chat between the Teams users (oneOnOne for two, group with a topic otherwise).
func (tm *Teams) Chat(t T, topic string, members ...graphsim.User) string {
	t.Helper()
	spec := graphsim.ChatSpec{TenantID: TeamsTenantID, ChatType: "oneOnOne"}
	if len(members) > 2 {
		spec.ChatType, spec.Topic = "group", topic
	}
	for _, m := range members {
		spec.Members = append(spec.Members, m.ID)
	}
	id, err := tm.Sim.CreateChat(spec)
	if err != nil {
		t.Fatalf("create chat: %v", err)
	}
	return id
}

// Send posts a message from a Teams user into a chat and returns its id.
func (tm *Teams) Send(t T, chatID string, m graphsim.NewMessage) string {
	t.Helper()
	id, err := tm.Sim.SendMessage(chatID, m)
	if err != nil {
		t.Fatalf("send Teams message: %v", err)
	}
	return id
}

// Stack is one Mattermost server with the plugin installed and configured for an in-process graphsim.
type Stack struct {
	*Server
	Teams *Teams
	Bot   *model.User // the plugin's bot, author of the forwarded DMs
}

// StartStack starts Mattermost, graphsim, and installs, configures and enables the plugin bundle (BundlePath)
// the way an administrator would: upload, settings through the config API, enable.
func StartStack(t T, version string) *Stack {
	t.Helper()
	s := Start(t, version)
	tm := StartTeams(t, s.URL)
	s.UploadPlugin(BundlePath(t))
	s.PatchPluginConfig(tm.PluginSettings())
	s.EnablePlugin()
	return &Stack{Server: s, Teams: tm, Bot: s.Bot("msteams")}
}

// Pair is a person with accounts on both sides: the same email in Mattermost and Teams.
type Pair struct {
	MM    *User
	Teams graphsim.User
}

// NewPair creates a Teams user and a Mattermost user with the same email (the plugin matches accounts by it).
func (st *Stack) NewPair(t T, name, displayName string) Pair {
	t.Helper()
	tu := st.Teams.AddUser(t, name, displayName)
	return Pair{MM: st.Server.NewUserWithEmail(name, tu.Mail), Teams: tu}
}

// ConnectUser connects the Mattermost user to the Teams user through the plugin's routes, as a browser would:
// GET /connect with the user's session, follow the redirect to graphsim's authorize page, submit its account
// picker with the Teams user, follow the redirect back to /oauth-redirect with the user's session, and check
// the success page.
func (st *Stack) ConnectUser(t T, u *User, tu graphsim.User) {
	t.Helper()
	if err := ConnectUser(st.URL, u.Client.AuthToken, st.Teams.Sim.CACertPEM(), tu.ID); err != nil {
		t.Fatalf("connect %s to Teams user %s: %v", u.Username, tu.UserPrincipalName, err)
	}
}

// ConnectUser is the browser-free sign-in, usable outside tests: siteURL and the user's session token on the
// Mattermost side, the graphsim CA and the Teams user id (or UPN) to pick on graphsim's account picker.
func ConnectUser(siteURL, token string, simCA []byte, teamsUser string) error {
	return signIn(siteURL, token, simCA, teamsUser, "/connect")
}

// RenewSignIn signs a connected user in again through the renewal link (/connect?renew=1) the plugin sends when
// a permission was granted after the user connected; the user stays connected throughout.
func (st *Stack) RenewSignIn(t T, u *User, tu graphsim.User) {
	t.Helper()
	if err := signIn(st.URL, u.Client.AuthToken, st.Teams.Sim.CACertPEM(), tu.ID, "/connect?renew=1"); err != nil {
		t.Fatalf("renew the sign-in of %s as Teams user %s: %v", u.Username, tu.UserPrincipalName, err)
	}
}

// signIn follows the plugin's sign-in route path (below the plugin's URL) through graphsim and back.
func signIn(siteURL, token string, simCA []byte, teamsUser, path string) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(simCA)
	jar, _ := cookiejar.New(nil)
	site, err := url.Parse(siteURL)
	if err != nil {
		return errors.Wrap(err, "parse site URL")
	}
	// The session cookie stands in for the browser's login; the plugin sees Mattermost-User-ID on both routes.
	jar.SetCookies(site, []*http.Cookie{{Name: model.SessionCookieToken, Value: token, Path: "/"}})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	hc := &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.Background()

	get := func(u string) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, "", errors.Wrap(err, "build request")
		}
		if strings.HasPrefix(u, siteURL) {
			req.Header.Set(model.HeaderRequestedWith, model.HeaderRequestedWithXML)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, "", errors.Wrapf(err, "GET %s", redactQuery(u))
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body), nil
	}

	resp, body, err := get(siteURL + "/plugins/" + PluginID + path)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusFound {
		return errors.Errorf("/connect answered %s, want a redirect to the sign-in page: %s", resp.Status, pageText(body))
	}
	authorize, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return errors.Wrap(err, "parse sign-in redirect")
	}
	// Submitting graphsim's account picker is the authorize request plus user=<id>.
	q := authorize.Query()
	q.Set("user", teamsUser)
	authorize.RawQuery = q.Encode()
	resp, body, err = get(authorize.String())
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusFound {
		return errors.Errorf("sign-in page answered %s: %s", resp.Status, pageText(body))
	}
	back := resp.Header.Get("Location")
	if !strings.HasPrefix(back, siteURL+RedirectPath) {
		return errors.Errorf("sign-in sent the browser to %s, want %s", redactQuery(back), siteURL+RedirectPath)
	}
	if u, _ := url.Parse(back); u != nil && u.Query().Get("error") != "" {
		return errors.Errorf("sign-in failed: %s: %s", u.Query().Get("error"), u.Query().Get("error_description"))
	}
	resp, body, err = get(back)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your account is connected") {
		return errors.Errorf("/oauth-redirect answered %s: %s", resp.Status, pageText(body))
	}
	return nil
}

// redactQuery drops the query (codes, states) from a URL for error messages.
func redactQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// pageText is an HTML page reduced to its text, short enough for an error message.
func pageText(body string) string {
	var b strings.Builder
	in := false
	for _, r := range body {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	if i := strings.Index(out, "} "); i >= 0 && strings.Contains(out[:i], "{") {
		out = out[i+2:] // drop the inline stylesheet
	}
	if len(out) > 400 {
		out = out[:400] + "…"
	}
	return out
}

// Command runs a slash command as the user in the team's town square and returns the answer. The plugin answers
// with an ephemeral post, which only travels over the user's websocket, so Command listens there like the web
// app does.
func (s *Server) Command(t T, u *User, line string) string {
	t.Helper()
	out, err := s.command(u, line)
	if err != nil {
		t.Fatalf("run %q as %s: %v", line, u.Username, err)
	}
	return out
}

func (s *Server) command(u *User, line string) (string, error) {
	ctx := context.Background()
	ch, _, err := u.Client.GetChannelByName(ctx, model.DefaultChannelName, s.Team.Id, "")
	if err != nil {
		return "", errors.Wrap(err, "find town square")
	}
	ws, err := model.NewWebSocketClient4("ws"+strings.TrimPrefix(s.URL, "http"), u.Client.AuthToken)
	if err != nil {
		return "", errors.Wrap(err, "open websocket")
	}
	defer ws.Close()
	ws.Listen()
	resp, _, err := u.Client.ExecuteCommand(ctx, ch.Id, line)
	if err != nil {
		return "", errors.Wrap(err, "execute command")
	}
	if resp.Text != "" {
		return resp.Text, nil
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ws.EventChannel:
			if !ok {
				return "", errors.New("websocket closed before the answer came")
			}
			if ev.EventType() != model.WebsocketEventEphemeralMessage {
				continue
			}
			var p model.Post
			raw, _ := ev.GetData()["post"].(string)
			if err := json.Unmarshal([]byte(raw), &p); err != nil {
				return "", errors.Wrap(err, "decode ephemeral post")
			}
			if p.ChannelId == ch.Id {
				return p.Message, nil
			}
		case <-timeout:
			return "", errors.New("no answer within 30 s")
		}
	}
}
