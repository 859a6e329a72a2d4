// Command graphsim runs the Microsoft Graph + Entra ID emulator (serve) and
// scripts Teams activity on a running one through its control API.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

const usage = `usage:
  graphsim serve [--listen ADDR] [--ca-out FILE] [--hostname NAME]... [--seed FILE] [--demo] [--redirect-uri URL]... [--no-throttle] [--plain-http]
  graphsim users                                       list users
  graphsim chats                                       list chats
  graphsim send --from USER --chat CHAT [--reply-to MSG] [--mention USER]... [--file PATH]... [--image PATH]... "html"
  graphsim edit --chat CHAT --id MSG "html"
  graphsim delete --chat CHAT --id MSG
  graphsim react --chat CHAT --id MSG --user USER [--type like] [--remove]
  graphsim presence --user USER --availability Busy [--activity InACall]
  graphsim calls [--reset]
client commands talk to --sim (or $GRAPHSIM_URL) trusting --ca (or $GRAPHSIM_CA).
USER may be a user id or a UPN.`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	if os.Args[1] == "serve" {
		err = serve(os.Args[2:])
	} else {
		err = client(os.Args[1], os.Args[2:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "graphsim:", err)
		os.Exit(1)
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "listen address")
	caOut := fs.String("ca-out", "", "write the CA certificate PEM here")
	seedPath := fs.String("seed", "", "JSON seed file (graphsim.Seed)")
	demo := fs.Bool("demo", false, "load the demo tenant")
	noThrottle := fs.Bool("no-throttle", false, "disable throttling")
	plain := fs.Bool("plain-http", false, "serve plain http (azidentity refuses it)")
	lifetime := fs.Duration("token-lifetime", 0, "access token lifetime (default 75m)")
	var hosts, redirects multi
	fs.Var(&hosts, "hostname", "extra certificate host name (repeatable)")
	fs.Var(&redirects, "redirect-uri", "redirect URI for the demo app (repeatable)")
	_ = fs.Parse(args)

	sim, err := graphsim.New(graphsim.Options{Addr: *listen, Hostnames: hosts, CACertPath: *caOut, DisableThrottling: *noThrottle, PlainHTTP: *plain, AccessTokenLifetime: *lifetime})
	if err != nil {
		return err
	}
	if *demo {
		if len(redirects) == 0 {
			redirects = multi{"http://localhost:8065/plugins/com.mattermost.msteams-sync/oauth-redirect"}
		}
		if err := sim.LoadSeed(graphsim.DemoSeed(redirects...)); err != nil {
			return err
		}
	}
	if *seedPath != "" {
		b, err := os.ReadFile(*seedPath)
		if err != nil {
			return errors.Wrap(err, "read seed")
		}
		var seed graphsim.Seed
		if err := json.Unmarshal(b, &seed); err != nil {
			return errors.Wrap(err, "parse seed")
		}
		if err := sim.LoadSeed(seed); err != nil {
			return err
		}
	}
	if err := sim.Start(); err != nil {
		return err
	}
	fmt.Printf("authority: %s\ngraph:     %s\njwks:      %s\ncontrol:   %s/_sim/\n", sim.AuthorityURL(), sim.GraphURL(), sim.JWKSURL(), sim.BaseURL())
	if *caOut != "" {
		fmt.Printf("ca:        %s\n", *caOut)
	}
	if *demo {
		fmt.Printf("tenant:    %s\nclient:    %s\nsecret:    %s\n", graphsim.DemoTenantID, graphsim.DemoClientID, graphsim.DemoClientSecret)
		for _, c := range sim.Chats() {
			fmt.Printf("chat:      %s (%s) %v\n", c.ID, c.ChatType, c.Members)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	return sim.Close()
}

type api struct {
	base string
	hc   *http.Client
}

func newAPI(simURL, caPath string) (*api, error) {
	if simURL == "" {
		simURL = os.Getenv("GRAPHSIM_URL")
	}
	if simURL == "" {
		simURL = "https://127.0.0.1:8443"
	}
	if caPath == "" {
		caPath = os.Getenv("GRAPHSIM_CA")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caPath != "" {
		pem, err := os.ReadFile(caPath)
		if err != nil {
			return nil, errors.Wrap(err, "read CA")
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &api{base: strings.TrimRight(simURL, "/") + "/_sim", hc: &http.Client{Transport: tr}}, nil
}

func (a *api) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return errors.Wrap(err, "encode request")
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return errors.Wrap(err, "build request")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return errors.Wrap(err, "call graphsim")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.Errorf("%s %s: %s %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return errors.Wrap(json.Unmarshal(b, out), "decode answer")
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

// user finds a user by id, UPN or mail.
func (a *api) user(v string) (graphsim.User, error) {
	var users []graphsim.User
	if err := a.do(http.MethodGet, "/users", nil, &users); err != nil {
		return graphsim.User{}, err
	}
	for _, u := range users {
		if u.ID == v || strings.EqualFold(u.UserPrincipalName, v) || strings.EqualFold(u.Mail, v) {
			return u, nil
		}
	}
	return graphsim.User{}, errors.Errorf("no user %q", v)
}

// userID resolves a UPN or mail to a user id.
func (a *api) userID(v string) (string, error) {
	if !strings.Contains(v, "@") {
		return v, nil
	}
	u, err := a.user(v)
	return u.ID, err
}

func client(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	simURL := fs.String("sim", "", "graphsim base URL")
	caPath := fs.String("ca", "", "CA PEM to trust")
	from := fs.String("from", "", "sending user")
	chatID := fs.String("chat", "", "chat id")
	msgID := fs.String("id", "", "message id")
	replyTo := fs.String("reply-to", "", "quoted message id")
	user := fs.String("user", "", "user")
	rtype := fs.String("type", "like", "reaction type")
	remove := fs.Bool("remove", false, "remove the reaction")
	avail := fs.String("availability", "Available", "presence availability")
	activity := fs.String("activity", "", "presence activity (default = availability)")
	reset := fs.Bool("reset", false, "reset the counters")
	var files, images multi
	fs.Var(&files, "file", "attach a file (repeatable)")
	fs.Var(&images, "image", "inline image as hosted content (repeatable)")
	var mentions multi
	fs.Var(&mentions, "mention", `user mentioned by <at id="N"> in the HTML, N counting from 0 (repeatable)`)
	_ = fs.Parse(args)
	a, err := newAPI(*simURL, *caPath)
	if err != nil {
		return err
	}
	chatPath := "/chats/" + url.PathEscape(*chatID) + "/messages"
	switch cmd {
	case "users":
		return a.do(http.MethodGet, "/users", nil, nil)
	case "chats":
		return a.do(http.MethodGet, "/chats", nil, nil)
	case "send":
		uid, err := a.userID(*from)
		if err != nil {
			return err
		}
		m := graphsim.NewMessage{From: uid, HTML: strings.Join(fs.Args(), " "), ReplyTo: *replyTo}
		for i, who := range mentions {
			u, err := a.user(who)
			if err != nil {
				return err
			}
			m.Mentions = append(m.Mentions, graphsim.Mention{ID: i, MentionText: u.DisplayName, UserID: u.ID})
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return errors.Wrap(err, "read attachment")
			}
			m.Files = append(m.Files, graphsim.FileRef{Name: filepath.Base(f), ContentType: mime.TypeByExtension(filepath.Ext(f)), Bytes: b})
		}
		for _, f := range images {
			b, err := os.ReadFile(f)
			if err != nil {
				return errors.Wrap(err, "read image")
			}
			m.Hosted = append(m.Hosted, graphsim.HostedContent{ContentType: http.DetectContentType(b), Bytes: b})
		}
		return a.do(http.MethodPost, chatPath, m, nil)
	case "edit":
		return a.do(http.MethodPatch, chatPath+"/"+*msgID, map[string]string{"html": strings.Join(fs.Args(), " ")}, nil)
	case "delete":
		return a.do(http.MethodDelete, chatPath+"/"+*msgID, nil, nil)
	case "react":
		uid, err := a.userID(*user)
		if err != nil {
			return err
		}
		method := http.MethodPost
		if *remove {
			method = http.MethodDelete
		}
		return a.do(method, chatPath+"/"+*msgID+"/reactions", map[string]string{"userId": uid, "reactionType": *rtype}, nil)
	case "presence":
		uid, err := a.userID(*user)
		if err != nil {
			return err
		}
		act := *activity
		if act == "" {
			act = *avail
		}
		return a.do(http.MethodPut, "/users/"+url.PathEscape(uid)+"/presence", graphsim.Presence{Availability: *avail, Activity: act}, nil)
	case "calls":
		if *reset {
			return a.do(http.MethodDelete, "/calls", nil, nil)
		}
		return a.do(http.MethodGet, "/calls", nil, nil)
	}
	return errors.Errorf("unknown command %q\n%s", cmd, usage)
}
