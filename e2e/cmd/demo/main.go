// Command demo runs the plugin for a newcomer: PostgreSQL, a Mattermost server, `graphsim serve` standing in for
// Microsoft Teams, the plugin installed and configured, demo users on both sides, one of them connected and a few
// Teams messages sent. It then prints how to log in and send more, and follows the bot's DMs in the terminal.
// `demo connect NAME` connects another demo user (bob, carol) to their Teams account, as alice is at the start.
// `demo stop` stops everything a `demo start` started, by the PIDs recorded in the state directory.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// state is what `demo stop` needs to undo a start; it is written to <dir>/state.json as soon as each part runs.
type state struct {
	FollowerPID   int    `json:"followerPid,omitempty"`
	MattermostPID int    `json:"mattermostPid,omitempty"`
	GraphsimPID   int    `json:"graphsimPid,omitempty"`
	AdminDSN      string `json:"adminDsn,omitempty"` // where the demo database lives
	Database      string `json:"database,omitempty"`
	ClusterDir    string `json:"clusterDir,omitempty"` // private PostgreSQL cluster, when 5432 did not answer
	RunDir        string `json:"runDir,omitempty"`     // Mattermost run directory

	// What `demo connect` needs to sign a demo user in to Teams.
	SiteURL string              `json:"siteUrl,omitempty"`
	CAPath  string              `json:"caPath,omitempty"` // graphsim's CA
	Users   map[string]demoUser `json:"users,omitempty"`
}

// startedAnything tells whether a start got far enough to leave something for stop to undo.
func (st state) startedAnything() bool {
	return st.FollowerPID != 0 || st.MattermostPID != 0 || st.GraphsimPID != 0 || st.Database != "" || st.ClusterDir != "" || st.RunDir != ""
}

// demoUser is a person with accounts on both sides.
type demoUser struct {
	Password  string `json:"password"`
	TeamsUser string `json:"teamsUser"` // graphsim user id
}

func main() {
	dir := flag.String("dir", ".demo", "state directory (pid files, logs, CA)")
	bundle := flag.String("bundle", "", "plugin bundle to install")
	graphsimBin := flag.String("graphsim", "", "graphsim binary")
	version := flag.String("version", "11.4.0", "Mattermost version to build from the Go module proxy (ignored with MM_DIST)")
	follow := flag.Bool("follow", os.Getenv("DEMO_FOLLOW") != "0", "follow the bot's DMs in the terminal after starting")
	repo := flag.String("repo", ".", "the repository checkout (for the make commands and sample file the instructions print)")
	flag.Parse()
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	repoAbs, err := filepath.Abs(*repo)
	if err != nil {
		fail(err)
	}
	d := &demo{dir: abs, repo: repoAbs}
	switch flag.Arg(0) {
	case "", "start":
		err = d.start(*bundle, *graphsimBin, *version, *follow)
	case "connect":
		err = d.connect(flag.Arg(1))
	case "stop":
		err = d.stop()
	default:
		err = errors.Errorf("unknown command %q (start|connect NAME|stop)", flag.Arg(0))
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}

type demo struct {
	dir  string
	repo string
	st   state
}

func (d *demo) statePath() string { return filepath.Join(d.dir, "state.json") }

func (d *demo) save() {
	b, _ := json.MarshalIndent(d.st, "", "  ")
	_ = os.WriteFile(d.statePath(), b, 0o600)
	for name, pid := range map[string]int{"mattermost": d.st.MattermostPID, "graphsim": d.st.GraphsimPID, "follower": d.st.FollowerPID} {
		if pid != 0 {
			_ = os.WriteFile(filepath.Join(d.dir, name+".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644)
		}
	}
}

// runner adapts the harness to a program: logs go to stdout, failures end the program after stopping what was
// started so far, and cleanups are otherwise left to `demo stop` (the parts must outlive this process).
type runner struct {
	d        *demo
	cleanups *[]func()
}

func (r runner) Helper()                    {}
func (r runner) Logf(f string, args ...any) { fmt.Printf("  "+f+"\n", args...) }
func (r runner) Fatal(args ...any)          { r.Fatalf("%s", fmt.Sprint(args...)) }
func (r runner) Cleanup(func())             {}
func (r runner) Failed() bool               { return false }
func (r runner) TempDir() string            { dir, _ := os.MkdirTemp("", "demo-"); return dir }
func (r runner) Fatalf(f string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+f+"\n", args...)
	fmt.Fprintln(os.Stderr, "demo: stopping what was started")
	// On failure the harness's own cleanups (server stop, run directory) run too; on success they never do.
	for i := len(*r.cleanups) - 1; i >= 0; i-- {
		(*r.cleanups)[i]()
	}
	_ = r.d.stop()
	os.Exit(1)
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func (d *demo) start(bundle, graphsimBin, version string, follow bool) error {
	began := time.Now()
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return errors.Wrap(err, "state directory")
	}
	if _, err := os.Stat(d.statePath()); err == nil {
		return errors.Errorf("a demo is already running (%s exists): run `make demo-stop` first", d.statePath())
	}
	if bundle == "" || graphsimBin == "" {
		return errors.New("-bundle and -graphsim are required (make demo passes them)")
	}
	r := runner{d: d, cleanups: new([]func())}

	// Ports: the usual ones when free, so the printed URLs look familiar.
	mmPort := portOr(8065)
	simPort := portOr(8443)
	siteURL := fmt.Sprintf("http://127.0.0.1:%d", mmPort)

	step("PostgreSQL")
	dsn, err := d.database()
	if err != nil {
		r.Fatalf("PostgreSQL: %v", err)
	}

	step("graphsim (Microsoft Teams and Entra ID emulator) on https://127.0.0.1:%d", simPort)
	caPath := filepath.Join(d.dir, "graphsim-ca.pem")
	simURL := fmt.Sprintf("https://127.0.0.1:%d", simPort)
	simLog, err := os.Create(filepath.Join(d.dir, "graphsim.log"))
	if err != nil {
		r.Fatalf("graphsim log: %v", err)
	}
	sim := exec.Command(graphsimBin, "serve", "--demo", "--no-throttle", "--listen", fmt.Sprintf("127.0.0.1:%d", simPort),
		"--ca-out", caPath, "--redirect-uri", siteURL+harness.RedirectPath)
	sim.Stdout, sim.Stderr = simLog, simLog
	sim.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this program; `demo stop` ends it
	if err := sim.Start(); err != nil {
		r.Fatalf("start graphsim: %v", err)
	}
	d.st.GraphsimPID = sim.Process.Pid
	d.save()
	ca, err := waitForFile(caPath, 30*time.Second)
	if err != nil {
		r.Fatalf("graphsim did not start (see %s): %v", simLog.Name(), err)
	}

	opts := harness.ServerOptions{Version: version, Port: mmPort, DSN: dsn, TeamName: "demo"}
	if dist := os.Getenv("MM_DIST"); dist != "" {
		// The release tarball unpacks to mattermost/; accept its parent too.
		if _, err := os.Stat(filepath.Join(dist, "bin", "mattermost")); err != nil {
			if _, err2 := os.Stat(filepath.Join(dist, "mattermost", "bin", "mattermost")); err2 == nil {
				dist = filepath.Join(dist, "mattermost")
			} else {
				r.Fatalf("MM_DIST=%s: no bin/mattermost there (point it at the unpacked release)", dist)
			}
		}
		if _, err := os.Stat(filepath.Join(dist, "client")); err != nil {
			r.Fatalf("MM_DIST=%s: no client/ directory (the web app) there", dist)
		}
		opts.Home, opts.WebApp, opts.Version = dist, true, "dist"
		step("Mattermost from %s (official release, with the web app)", dist)
	} else {
		step("Mattermost %s (built from the Go module proxy, cached in e2e/.cache)", version)
	}
	s := harness.StartServer(r, opts)
	d.st.MattermostPID, d.st.RunDir = s.PID(), s.Dir
	d.save()

	step("plugin %s: upload, configure for graphsim, enable", filepath.Base(bundle))
	s.UploadPlugin(bundle)
	s.PatchPluginConfig(map[string]any{
		"TenantID": graphsim.DemoTenantID, "ClientID": graphsim.DemoClientID, "ClientSecret": graphsim.DemoClientSecret,
		"Cloud": "custom", "CustomAuthorityURL": simURL, "CustomGraphURL": simURL + "/v1.0", "CustomCACertificate": string(ca),
	})
	s.EnablePlugin()
	bot := s.Bot("msteams")

	step("demo users: alice, bob and carol on both sides (same emails); alice connects her Teams account")
	users := map[string]*harness.User{}
	d.st.SiteURL, d.st.CAPath, d.st.Users = siteURL, caPath, map[string]demoUser{}
	teamsIDs := map[string]string{"alice": graphsim.DemoAliceID, "bob": graphsim.DemoBobID, "carol": graphsim.DemoCarolID}
	for _, name := range []string{"alice", "bob", "carol"} {
		users[name] = s.NewUserWithEmail(name, name+"@demo.test")
		d.st.Users[name] = demoUser{Password: users[name].Password, TeamsUser: teamsIDs[name]}
	}
	d.save()
	if err := d.connect("alice"); err != nil {
		r.Fatalf("%v", err)
	}

	step("a few Teams messages to alice")
	env := append(os.Environ(), "GRAPHSIM_URL="+simURL, "GRAPHSIM_CA="+caPath)
	oneOnOne, err := bobAliceChat(graphsimBin, env)
	if err != nil {
		r.Fatalf("find the demo chats: %v", err)
	}
	sends := [][]string{
		{"--from", "bob@demo.test", "--chat", oneOnOne, "<p>Hi Alice! Did you see the <b>launch plan</b>?</p>"},
		{"--from", "carol@demo.test", "--chat", graphsim.DemoGroupChatID, "<p>Stand-up moved to <i>10:30</i> tomorrow.</p>"},
		{"--from", "bob@demo.test", "--chat", graphsim.DemoGroupChatID, "<p>Thanks Carol, see you there.</p>"},
	}
	for _, a := range sends {
		cmd := exec.Command(graphsimBin, append([]string{"send"}, a...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			r.Fatalf("graphsim send: %v: %s", err, out)
		}
	}
	// Wait until they are in (welcome + 3), so the demo shows a working pipeline before it says so.
	posts := s.WaitDirectPosts(users["alice"], bot.Id, 1+len(sends), 60*time.Second)

	fmt.Print(instructions(instructionsInfo{
		took: time.Since(began), siteURL: siteURL, simURL: simURL, caPath: caPath, graphsimBin: graphsimBin,
		runDir: s.Dir, simLog: simLog.Name(), repo: d.repo, stateDir: d.dir, oneOnOne: oneOnOne, webApp: opts.WebApp,
		passwords: map[string]string{"alice": users["alice"].Password, "bob": users["bob"].Password, "carol": users["carol"].Password},
	}))
	if len(posts) < 1+len(sends) {
		fmt.Printf("Only %d of the %d DMs arrived within a minute; see the log above.\n", len(posts), 1+len(sends))
	}
	if !follow {
		return nil
	}
	return d.followDMs(siteURL, users["alice"].Client, bot)
}

// instructionsInfo is what the instructions printed after a start mention.
type instructionsInfo struct {
	took                                     time.Duration
	siteURL, simURL, caPath, graphsimBin     string
	runDir, simLog, repo, stateDir, oneOnOne string
	webApp                                   bool
	passwords                                map[string]string
}

// instructions tells the newcomer how to log in, send more Teams messages and connect more users. Every path in
// it is absolute, so its commands work from any directory.
func instructions(in instructionsInfo) string {
	webapp := "The Mattermost web app is not part of this build (no registry here serves it), so open nothing in a\n" +
		"browser: the bot's DMs to alice are printed below as they arrive. With MM_DIST=/path/to/unpacked/mattermost\n" +
		"make demo runs that official release instead, and the web app works at the URL above."
	if in.webApp {
		webapp = "Open the URL above in a browser and log in as alice to see the DMs from the MS Teams bot."
	}
	// make -C: the make commands, like the others, work from any directory.
	mk := "make -C " + shellQuote(in.repo)
	if in.stateDir != filepath.Join(in.repo, DefaultDir) {
		mk += " DEMO_DIR=" + shellQuote(in.stateDir)
	}
	sim := shellQuote(in.graphsimBin)
	return fmt.Sprintf(`
Mattermost with the MS Teams plugin is running (started in %s).

  URL:       %s
  logins:    alice / %s   (connected to Teams as alice@demo.test)
             bob / %s, carol / %s   (not connected)
             sysadmin / %s   (system admin)
  graphsim:  %s   (Teams tenant %s; CA %s)
  logs:      %s, %s

Send more Teams messages to alice:
  export GRAPHSIM_URL=%s GRAPHSIM_CA=%s
  %s send --from bob@demo.test --chat '%s' 'Hello from Teams'
  %s send --from carol@demo.test --chat '%s' --file %s 'Group message with a file'
  %s chats    # list the chats; edit, delete, react and presence are there too (run it without arguments)

Connect bob (or carol) too, so that Teams messages to them arrive as DMs:
  %s demo-connect NAME=bob
  %s send --from carol@demo.test --chat '%s' 'Hello Alice and Bob'

Stop everything: %s demo-stop

%s
`, in.took.Round(time.Second), in.siteURL, in.passwords["alice"], in.passwords["bob"], in.passwords["carol"], harness.AdminPassword,
		in.simURL, graphsim.DemoTenantID, in.caPath, filepath.Join(in.runDir, "logs", "mattermost.log"), in.simLog,
		in.simURL, shellQuote(in.caPath),
		sim, in.oneOnOne, sim, graphsim.DemoGroupChatID, shellQuote(filepath.Join(in.repo, "README.md")), sim,
		mk, sim, graphsim.DemoGroupChatID, mk, webapp)
}

// DefaultDir is the state directory demo.mk uses, relative to the repository.
const DefaultDir = ".demo"

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// connect signs the demo user in to their Teams account through the plugin, as a browser would, using what the
// start recorded in the state directory. Connecting an already connected user connects them again.
func (d *demo) connect(name string) error {
	if name == "" {
		return errors.New("which demo user? e.g. `make demo-connect NAME=bob`")
	}
	if d.st.SiteURL == "" {
		b, err := os.ReadFile(d.statePath())
		if err != nil {
			return errors.Errorf("no demo running (no %s): run `make demo` first", d.statePath())
		}
		if err := json.Unmarshal(b, &d.st); err != nil {
			return errors.Wrapf(err, "read %s", d.statePath())
		}
	}
	u, ok := d.st.Users[name]
	if !ok {
		known := make([]string, 0, len(d.st.Users))
		for n := range d.st.Users {
			known = append(known, n)
		}
		sort.Strings(known)
		return errors.Errorf("no demo user %q (the demo has %s)", name, strings.Join(known, ", "))
	}
	ca, err := os.ReadFile(d.st.CAPath)
	if err != nil {
		return errors.Wrap(err, "read graphsim's CA")
	}
	c := model.NewAPIv4Client(d.st.SiteURL)
	if _, _, err := c.Login(context.Background(), name, u.Password); err != nil {
		return errors.Wrapf(err, "log in to Mattermost as %s", name)
	}
	if err := harness.ConnectUser(d.st.SiteURL, c.AuthToken, ca, u.TeamsUser); err != nil {
		return errors.Wrapf(err, "connect %s", name)
	}
	fmt.Printf("%s is connected to Teams: Teams messages to %s now arrive as DMs from the MS Teams bot.\n", name, name)
	return nil
}

// followDMs prints the bot's DMs to the user, first those already there, then new and edited ones as they come,
// until interrupted; Ctrl-C stops only the following.
func (d *demo) followDMs(siteURL string, c *model.Client4, bot *model.User) error {
	ctx := context.Background()
	me, _, err := c.GetMe(ctx, "")
	if err != nil {
		return errors.Wrap(err, "who am I")
	}
	ch, _, err := c.CreateDirectChannel(ctx, me.Id, bot.Id)
	if err != nil {
		return errors.Wrap(err, "open the DM with the bot")
	}
	ws, err := model.NewWebSocketClient4("ws"+strings.TrimPrefix(siteURL, "http"), c.AuthToken)
	if err != nil {
		return errors.Wrap(err, "open websocket")
	}
	ws.Listen()
	d.st.FollowerPID = os.Getpid()
	d.save()

	list, _, err := c.GetPostsForChannel(ctx, ch.Id, 0, 50, "", false, false)
	if err != nil {
		return errors.Wrap(err, "read the DMs")
	}
	fmt.Printf("Following the MS Teams bot's DMs to %s (Ctrl-C stops following; the demo keeps running):\n\n", me.Username)
	for i := len(list.Order) - 1; i >= 0; i-- {
		printPost(list.Posts[list.Order[i]], "")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	for {
		select {
		case sig := <-stop:
			ws.Close()
			if sig == syscall.SIGTERM {
				fmt.Println("\nThe demo is being stopped.")
			} else {
				fmt.Println("\nStopped following. The demo is still running; `make demo-stop` stops it.")
			}
			return nil
		case ev, ok := <-ws.EventChannel:
			if !ok {
				fmt.Println("The websocket closed (server stopped?).")
				return nil
			}
			kind := ""
			switch ev.EventType() {
			case model.WebsocketEventPosted:
			case model.WebsocketEventPostEdited:
				kind = "edited"
			default:
				continue
			}
			var p model.Post
			raw, _ := ev.GetData()["post"].(string)
			if json.Unmarshal([]byte(raw), &p) != nil || p.ChannelId != ch.Id {
				continue
			}
			printPost(&p, kind)
		}
	}
}

var (
	mdLink = regexp.MustCompile(`\s*·?\s*\[Open in Teams\]\([^)]*\)`)
	mdImg  = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// printPost renders a bot DM for a terminal: time, sender and chat from the header line, then the text.
func printPost(p *model.Post, kind string) {
	text := strings.ReplaceAll(p.Message, "**", "")
	text = mdLink.ReplaceAllString(text, "")
	text = mdImg.ReplaceAllString(text, "[$1]")
	text = strings.ReplaceAll(text, `\`, "")
	when := time.UnixMilli(p.CreateAt).Format("15:04:05")
	if kind != "" {
		when += " (" + kind + ")"
	}
	if p.RootId != "" && len(p.FileIds) > 0 {
		text = fmt.Sprintf("↳ %d attachment(s) %s", len(p.FileIds), strings.TrimSpace(text))
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	fmt.Printf("[%s] %s\n", when, lines[0])
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) != "" {
			fmt.Printf("           %s\n", l)
		}
	}
	fmt.Println()
}

func bobAliceChat(graphsimBin string, env []string) (string, error) {
	cmd := exec.Command(graphsimBin, "chats")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", errors.Wrap(err, "graphsim chats")
	}
	var chats []graphsim.ChatInfo
	if err := json.Unmarshal(out, &chats); err != nil {
		return "", errors.Wrap(err, "parse graphsim chats")
	}
	for _, c := range chats {
		if c.ChatType == "oneOnOne" && len(c.Members) == 2 && contains(c.Members, graphsim.DemoAliceID) && contains(c.Members, graphsim.DemoBobID) {
			return c.ID, nil
		}
	}
	return "", errors.New("no 1:1 chat between alice and bob in the demo tenant")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// database makes a fresh database on the PostgreSQL at 127.0.0.1:5432 (MSTEAMS_TEST_PG) when it answers, else
// starts a private cluster under the state directory.
func (d *demo) database() (string, error) {
	admin := os.Getenv("MSTEAMS_TEST_PG")
	if admin == "" {
		admin = harness.DefaultPostgresDSN
	}
	name := fmt.Sprintf("msteams_demo_%d", time.Now().Unix())
	if err := exec1(admin, "CREATE DATABASE "+name); err != nil {
		fmt.Printf("  PostgreSQL at %s does not answer (%v); starting a private cluster\n", redact(admin), err)
		dir := filepath.Join(d.dir, "pg")
		_ = os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", errors.Wrap(err, "cluster directory")
		}
		d.st.ClusterDir = dir
		d.save()
		if admin, err = harness.StartCluster(dir, portOr(5433)); err != nil {
			return "", err
		}
		if err := exec1(admin, "CREATE DATABASE "+name); err != nil {
			return "", err
		}
	}
	d.st.AdminDSN, d.st.Database = admin, name
	d.save()
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	fmt.Printf("  database %s on %s\n", name, u.Host)
	return u.String(), nil
}

func exec1(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return errors.Wrap(err, "connect")
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return errors.Wrap(err, sql)
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Host
	}
	return "PostgreSQL"
}

// portOr returns the preferred port when it is free, else any free one.
func portOr(preferred int) int {
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", preferred)); err == nil {
		l.Close()
		return preferred
	}
	p, err := harness.FreePort()
	if err != nil {
		fail(err)
	}
	return p
}

func waitForFile(path string, timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.Errorf("%s did not appear", path)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop undoes start: the follower, Mattermost (SIGTERM, then its process group after 60 s), graphsim, the
// database or private cluster, the run directory and the state files. Safe to run twice.
func (d *demo) stop() error {
	if b, err := os.ReadFile(d.statePath()); err == nil {
		_ = json.Unmarshal(b, &d.st)
	} else if !d.st.startedAnything() {
		fmt.Println("no demo running (no " + d.statePath() + ")")
		return nil
	}
	if pid := d.st.FollowerPID; pid != 0 && pid != os.Getpid() {
		stopPID("follower", pid, false)
	}
	if pid := d.st.MattermostPID; pid != 0 {
		stopPID("Mattermost", pid, true)
	}
	if pid := d.st.GraphsimPID; pid != 0 {
		stopPID("graphsim", pid, true)
	}
	if d.st.Database != "" {
		if err := exec1(d.st.AdminDSN, "DROP DATABASE IF EXISTS "+d.st.Database+" WITH (FORCE)"); err != nil {
			fmt.Printf("drop database %s: %v\n", d.st.Database, err)
		} else {
			fmt.Printf("dropped database %s\n", d.st.Database)
		}
	}
	if d.st.ClusterDir != "" {
		if err := harness.StopCluster(d.st.ClusterDir); err != nil {
			fmt.Printf("stop private PostgreSQL: %v\n", err)
		} else {
			fmt.Println("stopped private PostgreSQL")
		}
		_ = os.RemoveAll(d.st.ClusterDir)
	}
	if d.st.RunDir != "" {
		_ = os.RemoveAll(d.st.RunDir)
	}
	for _, f := range []string{"state.json", "mattermost.pid", "graphsim.pid", "follower.pid", "graphsim-ca.pem", "graphsim.log"} {
		_ = os.Remove(filepath.Join(d.dir, f))
	}
	return nil
}

// stopPID sends SIGTERM and waits for the process to go; group processes (Mattermost with its plugin
// processes, graphsim) get SIGKILL to their group after 60 s.
func stopPID(name string, pid int, group bool) {
	if syscall.Kill(pid, 0) != nil {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(60 * time.Second)
	for syscall.Kill(pid, 0) == nil && !isZombie(pid) {
		if time.Now().After(deadline) {
			if group {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("stopped %s (pid %d)\n", name, pid)
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] == "Z"
}
