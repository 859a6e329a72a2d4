// Command graphsim runs the Microsoft Graph + Entra ID emulator (serve) and
// scripts Teams activity on a running one through its control API.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
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

const usage = `usage: graphsim <command> [flags]

commands:
  serve      run the emulator
  users      list users
  chats      list chats
  teams      list teams with their channels and tags
  send       post a message into a chat or a channel (or reply in a channel thread)
  edit       replace a message's HTML
  delete     soft-delete a message
  react      add or remove a reaction
  presence   set a user's presence
  calls      show (or reset) the Graph call counters

Run "graphsim <command> --help" for a command's flags. Client commands talk to
--sim (or $GRAPHSIM_URL, default https://127.0.0.1:8443) trusting --ca (or
$GRAPHSIM_CA). USER may be a user id or a UPN.`

// command is one CLI verb: its synopsis line and its implementation, which
// defines its own flags so --help shows only what applies.
type command struct {
	synopsis string
	run      func(c *cmdline) error
}

var commands = map[string]command{
	"serve":    {"serve [--listen ADDR] [--ca-out FILE] [--hostname NAME]... [--seed FILE] [--demo] [--redirect-uri URL]... [--no-throttle] [--plain-http] [--token-lifetime D]", serve},
	"users":    {"users", listUsers},
	"chats":    {"chats", listChats},
	"teams":    {"teams", listTeams},
	"send":     {`send (--chat CHAT | --team TEAM --channel CHANNEL [--thread ROOT]) (--from USER | --bot APPID [--bot-name NAME]) [--json FILE] [--subject S] [--importance normal|high|urgent] [--reply-to MSG] [--mention USER]... [--mention-team] [--mention-channel CHANNEL]... [--mention-tag TAG]... [--file PATH]... [--image PATH]... [--card FILE]... ["html"]`, send},
	"edit":     {`edit (--chat CHAT | --team TEAM --channel CHANNEL) --id MSG "html"`, edit},
	"delete":   {"delete (--chat CHAT | --team TEAM --channel CHANNEL) --id MSG", deleteMsg},
	"react":    {"react --chat CHAT --id MSG --user USER [--type like] [--remove]", react},
	"presence": {"presence --user USER --availability Busy [--activity InACall]", presence},
	"calls":    {"calls [--reset]", calls},
}

// cmdline is a command's flag set plus where it writes.
type cmdline struct {
	*flag.FlagSet
	name     string
	synopsis string
	args     []string
	out      io.Writer
}

// errUsage marks a bad command line (exit status 2, like flag.ExitOnError).
type errUsage struct{ error }

// parse parses the command's flags; --help/-h prints the command's usage to
// out and returns flag.ErrHelp.
func (c *cmdline) parse() error {
	c.SetOutput(io.Discard)
	err := c.Parse(c.args)
	if errors.Is(err, flag.ErrHelp) {
		c.printUsage(c.out)
		return flag.ErrHelp
	}
	if err != nil {
		return errUsage{errors.Errorf("%v (see graphsim %s --help)", err, c.name)}
	}
	return nil
}

func (c *cmdline) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: graphsim %s\n\nflags:\n", c.synopsis)
	c.SetOutput(w)
	c.PrintDefaults()
	c.SetOutput(io.Discard)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if args[0] == "help" && len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprintln(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "graphsim: unknown command %q\n\n%s\n", args[0], usage)
		return 2
	}
	err := cmd.run(&cmdline{FlagSet: flag.NewFlagSet(args[0], flag.ContinueOnError), name: args[0], synopsis: cmd.synopsis, args: args[1:], out: stdout})
	var bad errUsage
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &bad):
		fmt.Fprintln(stderr, "graphsim:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "graphsim:", err)
		return 1
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func serve(c *cmdline) error {
	listen := c.String("listen", "127.0.0.1:8443", "listen address")
	caOut := c.String("ca-out", "", "write the CA certificate PEM here")
	seedPath := c.String("seed", "", "JSON seed file (graphsim.Seed)")
	demo := c.Bool("demo", false, "load the demo tenant")
	noThrottle := c.Bool("no-throttle", false, "disable throttling")
	plain := c.Bool("plain-http", false, "serve plain http (azidentity refuses it)")
	lifetime := c.Duration("token-lifetime", 0, "access token lifetime (default 75m)")
	var hosts, redirects multi
	c.Var(&hosts, "hostname", "extra certificate host name (repeatable)")
	c.Var(&redirects, "redirect-uri", "redirect URI for the demo app (repeatable)")
	if err := c.parse(); err != nil {
		return err
	}

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
	fmt.Fprintf(c.out, "authority: %s\ngraph:     %s\njwks:      %s\ncontrol:   %s/_sim/\n", sim.AuthorityURL(), sim.GraphURL(), sim.JWKSURL(), sim.BaseURL())
	if *caOut != "" {
		fmt.Fprintf(c.out, "ca:        %s\n", *caOut)
	}
	if *demo {
		fmt.Fprintf(c.out, "tenant:    %s\nclient:    %s\nsecret:    %s\n", graphsim.DemoTenantID, graphsim.DemoClientID, graphsim.DemoClientSecret)
		for _, ch := range sim.Chats() {
			fmt.Fprintf(c.out, "chat:      %s (%s) %v\n", ch.ID, ch.ChatType, ch.Members)
		}
		for _, t := range sim.Teams() {
			fmt.Fprintf(c.out, "team:      %s (%s)\n", t.ID, t.DisplayName)
			for _, ch := range t.Channels {
				fmt.Fprintf(c.out, "channel:   %s (%s, %s)\n", ch.ID, ch.DisplayName, ch.MembershipType)
			}
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
	out  io.Writer
}

func newAPI(simURL, caPath string, out io.Writer) (*api, error) {
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
	return &api{base: strings.TrimRight(simURL, "/") + "/_sim", hc: &http.Client{Transport: tr}, out: out}, nil
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
	_, err = a.out.Write(append(bytes.TrimRight(b, "\n"), '\n'))
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

// connect adds the flags every client command has; call the returned function
// after parsing.
func connect(c *cmdline) func() (*api, error) {
	simURL := c.String("sim", "", "graphsim base URL (default $GRAPHSIM_URL or https://127.0.0.1:8443)")
	caPath := c.String("ca", "", "CA PEM to trust (default $GRAPHSIM_CA)")
	return func() (*api, error) { return newAPI(*simURL, *caPath, c.out) }
}

// parseClient parses the flags of a client command and connects.
func parseClient(c *cmdline, conn func() (*api, error)) (*api, error) {
	if err := c.parse(); err != nil {
		return nil, err
	}
	return conn()
}

// requireFlags reports the first empty required flag as a usage error.
func requireFlags(c *cmdline, names ...string) error {
	for _, n := range names {
		if c.Lookup(n).Value.String() == "" {
			return errUsage{errors.Errorf("--%s is required (see graphsim %s --help)", n, c.name)}
		}
	}
	return nil
}

func messagesPath(chatID string) string { return "/chats/" + url.PathEscape(chatID) + "/messages" }

func listUsers(c *cmdline) error {
	a, err := parseClient(c, connect(c))
	if err != nil {
		return err
	}
	return a.do(http.MethodGet, "/users", nil, nil)
}

func listChats(c *cmdline) error {
	a, err := parseClient(c, connect(c))
	if err != nil {
		return err
	}
	return a.do(http.MethodGet, "/chats", nil, nil)
}

// importances are chatMessage.importance's documented values.
var importances = map[string]bool{"normal": true, "high": true, "urgent": true}

func send(c *cmdline) error {
	conn := connect(c)
	chatID := c.String("chat", "", "chat id (this or --team and --channel)")
	target := channelFlags(c)
	thread := c.String("thread", "", "with --team/--channel: reply in the thread whose root message is ROOT")
	from := c.String("from", "", "sending user (id or UPN)")
	botID := c.String("bot", "", "send as this application (bot) id: from.application instead of from.user")
	botName := c.String("bot-name", "", "display name of the --bot application")
	jsonPath := c.String("json", "", "read the message from a Graph chatMessage JSON file; other flags are applied on top")
	subject := c.String("subject", "", "message subject")
	importance := c.String("importance", "", "importance: normal, high or urgent (default normal)")
	replyTo := c.String("reply-to", "", "chats only: quoted message id (a messageReference attachment)")
	var files, images, cards, mentions multi
	c.Var(&files, "file", "attach a file as a reference attachment (repeatable)")
	c.Var(&images, "image", "inline image as hosted content (repeatable)")
	c.Var(&cards, "card", "attach an adaptive card read from a JSON file (repeatable)")
	c.Var(&mentions, "mention", `user mentioned by <at id="N"> in the HTML, N counting from 0 (repeatable)`)
	var chMentions channelMentions
	chMentions.flags(c)
	a, err := parseClient(c, conn)
	if err != nil {
		return err
	}
	path, err := target.path(c, *chatID, *thread)
	if err != nil {
		return err
	}
	if *replyTo != "" && target.team != "" {
		return errUsage{errors.New("--reply-to quotes a chat message; in a channel reply with --thread")}
	}
	if *importance != "" && !importances[*importance] {
		return errUsage{errors.Errorf("--importance must be normal, high or urgent, not %q", *importance)}
	}
	var m graphsim.NewMessage
	if *jsonPath != "" {
		b, err := os.ReadFile(*jsonPath)
		if err != nil {
			return errors.Wrap(err, "read message JSON")
		}
		if m, err = graphsim.ParseGraphMessage(b); err != nil {
			return err
		}
	}
	if html := strings.Join(c.Args(), " "); html != "" {
		m.HTML = html
	}
	if *from != "" {
		if m.From, err = a.userID(*from); err != nil {
			return err
		}
		m.FromBot = nil
	}
	if *botID != "" {
		m.FromBot, m.From = &graphsim.Bot{ID: *botID, DisplayName: *botName}, ""
	}
	if m.From == "" && m.FromBot == nil && (m.MessageType == "" || m.MessageType == "message") {
		return errUsage{errors.New("--from or --bot (or a sender in --json) is required")}
	}
	if *subject != "" {
		m.Subject = *subject
	}
	if *importance != "" {
		m.Importance = *importance
	}
	if *replyTo != "" {
		m.ReplyTo = *replyTo
	}
	first := len(m.Mentions)
	for i, who := range mentions {
		u, err := a.user(who)
		if err != nil {
			return err
		}
		m.Mentions = append(m.Mentions, graphsim.Mention{ID: first + i, MentionText: u.DisplayName, UserID: u.ID})
	}
	if m.Mentions, err = chMentions.add(a, target, m.Mentions); err != nil {
		return err
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
	for _, f := range cards {
		b, err := os.ReadFile(f)
		if err != nil {
			return errors.Wrap(err, "read card")
		}
		if !json.Valid(b) {
			return errors.Errorf("card %s is not JSON", f)
		}
		// Teams gives each card a 32-hex-digit id and places it in the body as an <attachment> placeholder.
		var raw [16]byte
		_, _ = rand.Read(raw[:])
		id := hex.EncodeToString(raw[:])
		m.Attachments = append(m.Attachments, graphsim.Attachment{ID: id, ContentType: "application/vnd.microsoft.card.adaptive", Content: string(b)})
		m.HTML += `<attachment id="` + id + `"></attachment>`
	}
	return a.do(http.MethodPost, path, m, nil)
}

func edit(c *cmdline) error {
	a, path, err := messageTarget(c)
	if err != nil {
		return err
	}
	return a.do(http.MethodPatch, path, map[string]string{"html": strings.Join(c.Args(), " ")}, nil)
}

func deleteMsg(c *cmdline) error {
	a, path, err := messageTarget(c)
	if err != nil {
		return err
	}
	return a.do(http.MethodDelete, path, nil, nil)
}

// messageTarget declares the flags of a command about one message (--chat, --id, the connection), parses them
// and returns the client and the message's control path.
func messageTarget(c *cmdline) (*api, string, error) {
	conn := connect(c)
	chatID := c.String("chat", "", "chat id (this or --team and --channel)")
	target := channelFlags(c)
	msgID := c.String("id", "", "message id, a channel thread's root or one of its replies (required)")
	a, err := parseClient(c, conn)
	if err != nil {
		return nil, "", err
	}
	path, err := target.path(c, *chatID, "")
	if err != nil {
		return nil, "", err
	}
	if err := requireFlags(c, "id"); err != nil {
		return nil, "", err
	}
	return a, path + "/" + url.PathEscape(*msgID), nil
}

func react(c *cmdline) error {
	conn := connect(c)
	chatID := c.String("chat", "", "chat id (required)")
	msgID := c.String("id", "", "message id (required)")
	user := c.String("user", "", "reacting user (required)")
	rtype := c.String("type", "like", "reaction type")
	remove := c.Bool("remove", false, "remove the reaction instead of adding it")
	a, err := parseClient(c, conn)
	if err != nil {
		return err
	}
	if err := requireFlags(c, "chat", "id", "user"); err != nil {
		return err
	}
	uid, err := a.userID(*user)
	if err != nil {
		return err
	}
	method := http.MethodPost
	if *remove {
		method = http.MethodDelete
	}
	return a.do(method, messagesPath(*chatID)+"/"+url.PathEscape(*msgID)+"/reactions", map[string]string{"userId": uid, "reactionType": *rtype}, nil)
}

func presence(c *cmdline) error {
	conn := connect(c)
	user := c.String("user", "", "user (required)")
	avail := c.String("availability", "Available", "presence availability")
	activity := c.String("activity", "", "presence activity (default = availability)")
	a, err := parseClient(c, conn)
	if err != nil {
		return err
	}
	if err := requireFlags(c, "user"); err != nil {
		return err
	}
	uid, err := a.userID(*user)
	if err != nil {
		return err
	}
	act := *activity
	if act == "" {
		act = *avail
	}
	return a.do(http.MethodPut, "/users/"+url.PathEscape(uid)+"/presence", graphsim.Presence{Availability: *avail, Activity: act}, nil)
}

func calls(c *cmdline) error {
	conn := connect(c)
	reset := c.Bool("reset", false, "reset the counters")
	a, err := parseClient(c, conn)
	if err != nil {
		return err
	}
	if *reset {
		return a.do(http.MethodDelete, "/calls", nil, nil)
	}
	return a.do(http.MethodGet, "/calls", nil, nil)
}
