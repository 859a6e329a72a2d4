// Package harness runs a real Mattermost server, built from the pinned e2e/mmserver* modules, against a throw-away
// PostgreSQL database, installs the plugin bundle on it and gives end-to-end tests the clients and helpers to
// drive it. Each Start is one server with its own database, run directory and ports; everything is stopped and
// removed when the test ends, except that a failed test keeps the run directory and prints the server log's tail.
package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
)

// DefaultVersions are the Mattermost server versions tested when E2E_SERVER_VERSIONS is unset: the newest one the
// Go module proxy serves (first, so single-version scenarios run on it) and the plugin's min_server_version.
const DefaultVersions = "11.4.0,10.3.0"

// AdminPassword is the password of every server's first user, the system admin.
const AdminPassword = "Adm1n-e2e-password!"

// Server is one running Mattermost server.
type Server struct {
	Version    string // Mattermost version, e.g. "11.4.0"
	URL        string // site URL, e.g. http://127.0.0.1:41234
	MetricsURL string // base URL of the metrics listener (the plugin's ServeMetrics hook is under /plugins/<id>/metrics)
	SocketPath string // local-mode socket: admin API without a login
	Dir        string // run directory: config/, logs/, data/, plugins/
	DSN        string // the server's database

	Admin     *model.Client4 // logged in as AdminUser, a system admin
	AdminUser *model.User
	Local     *model.Client4 // local-mode client over SocketPath
	Team      *model.Team    // an open team; NewUser adds users to it

	t       T
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopped bool
}

// Versions returns the server versions to test: E2E_SERVER_VERSIONS (comma separated) or DefaultVersions.
func Versions() []string {
	spec := os.Getenv("E2E_SERVER_VERSIONS")
	if strings.TrimSpace(spec) == "" {
		spec = DefaultVersions
	}
	var out []string
	for _, v := range strings.Split(spec, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// moduleDir is the e2e module's root, found from this source file so that tests in any package agree on it.
func moduleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// ServerDir returns the cache directory of the Mattermost version (bin/mattermost, i18n/, templates/, fonts/),
// building it with build-server.sh first if it is not cached. E2E_CACHE_DIR overrides e2e/.cache.
func ServerDir(t T, version string) string {
	t.Helper()
	cache := os.Getenv("E2E_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(moduleDir(), ".cache")
	}
	dir := filepath.Join(cache, "mattermost-"+version)
	if _, err := os.Stat(filepath.Join(dir, "bin", "mattermost")); err == nil {
		return dir
	}
	t.Logf("building Mattermost %s (about 2 minutes the first time)", version)
	cmd := exec.Command(filepath.Join(moduleDir(), "build-server.sh"), version, cache)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build Mattermost %s: %v", version, err)
	}
	return strings.TrimSpace(string(out))
}

// Start runs Mattermost version on a fresh database and free loopback ports, waits until it answers, creates the
// system admin and a team, and registers the server's shutdown with t. It does not install the plugin: see
// StartWithPlugin and InstallPlugin.
func Start(t T, version string) *Server {
	t.Helper()
	return StartServer(t, ServerOptions{Version: version})
}

// ServerOptions choose which Mattermost to run and where. The zero value but Version is what tests use.
type ServerOptions struct {
	Version string // label and cache key, e.g. "11.4.0"
	// Home holds bin/mattermost, i18n/, templates/ and fonts/; default ServerDir(Version). An unpacked official
	// release works too (the demo's MM_DIST).
	Home string
	// WebApp copies Home/client (the web app of an official release) instead of the empty client directory.
	WebApp bool
	// Port is the HTTP port; 0 picks a free one.
	Port int
	// DSN is the database to use; empty creates a fresh one with NewDatabase (dropped when t ends).
	DSN string
	// TeamName names the open team created at bootstrap; default "e2e".
	TeamName string
}

// StartServer is Start with options.
func StartServer(t T, o ServerOptions) *Server {
	t.Helper()
	started := time.Now()
	version := o.Version
	home := o.Home
	if home == "" {
		home = ServerDir(t, version)
	}
	dsn := o.DSN
	if dsn == "" {
		dsn = NewDatabase(t)
	}
	if o.TeamName == "" {
		o.TeamName = "e2e"
	}

	dir, err := os.MkdirTemp("", "mm-e2e-"+version+"-")
	if err != nil {
		t.Fatalf("run directory: %v", err)
	}
	if err := prepareRunDir(home, dir, o.WebApp); err != nil {
		t.Fatalf("run directory: %v", err)
	}
	port := o.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	metricsPort, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}

	s := &Server{
		Version:    version,
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d", metricsPort),
		SocketPath: filepath.Join(dir, "mm.sock"),
		Dir:        dir,
		DSN:        dsn,
		t:          t,
		exited:     make(chan struct{}),
	}

	console, err := os.Create(filepath.Join(dir, "logs", "console.log"))
	if err != nil {
		t.Fatalf("console log: %v", err)
	}
	s.cmd = exec.Command(filepath.Join(home, "bin", "mattermost"), "server", "--config", filepath.Join(dir, "config", "config.json"))
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), s.environment(metricsPort)...)
	s.cmd.Stdout = console
	s.cmd.Stderr = console
	// Own process group, so that a server that ignores SIGTERM can be killed together with its plugin processes.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		console.Close()
		t.Fatalf("start Mattermost: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		console.Close()
		close(s.exited)
	}()
	t.Cleanup(s.cleanup)

	if err := s.waitHealthy(90 * time.Second); err != nil {
		t.Fatalf("Mattermost %s did not come up: %v", version, err)
	}
	s.Local = model.NewAPIv4SocketClient(s.SocketPath)
	s.bootstrap(o.TeamName)
	t.Logf("Mattermost %s up at %s in %s (run dir %s)", version, s.URL, time.Since(started).Round(time.Millisecond), dir)
	return s
}

// StartWithPlugin starts a server and installs the msteams plugin bundle (BundlePath) configured with
// PluginSettings, and waits until the plugin runs.
func StartWithPlugin(t T, version string) *Server {
	t.Helper()
	return StartWithPluginSettings(t, version, nil)
}

// StartWithPluginSettings is StartWithPlugin with settings laid over PluginSettings before the first activation.
func StartWithPluginSettings(t T, version string, settings map[string]any) *Server {
	t.Helper()
	s := Start(t, version)
	s.UploadPlugin(BundlePath(t))
	merged := PluginSettings()
	for k, v := range settings {
		merged[k] = v
	}
	s.PatchPluginConfig(merged)
	s.EnablePlugin()
	return s
}

// environment configures the server: the config file holds nothing but defaults, everything the tests depend on
// is set here because environment overrides win over the file.
func (s *Server) environment(metricsPort int) []string {
	logLevel := os.Getenv("E2E_LOG_LEVEL")
	if logLevel == "" {
		logLevel = "DEBUG"
	}
	env := map[string]string{
		"MM_SQLSETTINGS_DRIVERNAME":                     "postgres",
		"MM_SQLSETTINGS_DATASOURCE":                     s.DSN,
		"MM_SERVICESETTINGS_SITEURL":                    s.URL,
		"MM_SERVICESETTINGS_LISTENADDRESS":              strings.TrimPrefix(s.URL, "http://"),
		"MM_SERVICESETTINGS_ENABLELOCALMODE":            "true",
		"MM_SERVICESETTINGS_LOCALMODESOCKETLOCATION":    s.SocketPath,
		"MM_SERVICESETTINGS_ENABLEDEVELOPER":            "true",
		"MM_SERVICESETTINGS_ENABLESECURITYFIXALERT":     "false",
		"MM_SERVICESETTINGS_ENABLEBOTACCOUNTCREATION":   "true",
		"MM_SERVICESETTINGS_ENABLEUSERACCESSTOKENS":     "true",
		"MM_PLUGINSETTINGS_ENABLE":                      "true",
		"MM_PLUGINSETTINGS_ENABLEUPLOADS":               "true",
		"MM_PLUGINSETTINGS_REQUIREPLUGINSIGNATURE":      "false",
		"MM_PLUGINSETTINGS_AUTOMATICPREPACKAGEDPLUGINS": "false",
		"MM_PLUGINSETTINGS_ENABLEMARKETPLACE":           "false",
		"MM_PLUGINSETTINGS_DIRECTORY":                   filepath.Join(s.Dir, "plugins"),
		"MM_PLUGINSETTINGS_CLIENTDIRECTORY":             filepath.Join(s.Dir, "client", "plugins"),
		"MM_FILESETTINGS_DIRECTORY":                     filepath.Join(s.Dir, "data") + "/",
		"MM_LOGSETTINGS_FILELOCATION":                   filepath.Join(s.Dir, "logs"),
		"MM_LOGSETTINGS_FILELEVEL":                      logLevel,
		"MM_LOGSETTINGS_CONSOLELEVEL":                   "ERROR",
		"MM_LOGSETTINGS_ENABLEDIAGNOSTICS":              "false",
		"MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS":       "false",
		"MM_RATELIMITSETTINGS_ENABLE":                   "false",
		"MM_TEAMSETTINGS_ENABLEOPENSERVER":              "true",
		"MM_TEAMSETTINGS_MAXUSERSPERTEAM":               "1000",
		"MM_METRICSSETTINGS_ENABLE":                     "true",
		"MM_METRICSSETTINGS_LISTENADDRESS":              fmt.Sprintf("127.0.0.1:%d", metricsPort),
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// prepareRunDir lays out what the server reads from its working directory: copies of i18n/, templates/ and
// fonts/, and a client/ directory (without client/plugins every plugin route answers 501, and a root.html
// with a CSP meta tag keeps the missing webapp from logging errors at startup).
func prepareRunDir(home, dir string, webApp bool) error {
	copies := []string{"i18n", "templates", "fonts"}
	if webApp {
		copies = append(copies, "client")
	}
	for _, d := range copies {
		if out, err := exec.Command("cp", "-r", filepath.Join(home, d), filepath.Join(dir, d)).CombinedOutput(); err != nil {
			return errors.Wrapf(err, "copy %s: %s", d, out)
		}
	}
	for _, d := range []string{"config", "logs", "data", "plugins", "client/plugins"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return errors.Wrap(err, "create run directory")
		}
	}
	if webApp {
		return nil
	}
	rootHTML := `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="script-src 'self'"></head><body></body></html>` + "\n"
	return errors.Wrap(os.WriteFile(filepath.Join(dir, "client", "root.html"), []byte(rootHTML), 0o644), "write root.html")
}

func (s *Server) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.exited:
			return errors.Errorf("server exited: %v", s.waitErr)
		default:
		}
		resp, err := client.Get(s.URL + "/api/v4/system/ping")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.Errorf("ping answered %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return errors.Wrap(err, "ping")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bootstrap creates the first user, who becomes system admin, and a team.
func (s *Server) bootstrap(teamName string) {
	t := s.t
	t.Helper()
	ctx := context.Background()
	anon := model.NewAPIv4Client(s.URL)
	admin, _, err := anon.CreateUser(ctx, &model.User{Username: "sysadmin", Email: "sysadmin@example.com", Password: AdminPassword})
	if err != nil {
		t.Fatalf("create first user: %v", err)
	}
	if !admin.IsSystemAdmin() {
		t.Fatalf("first user has roles %q, want system admin", admin.Roles)
	}
	s.Admin = model.NewAPIv4Client(s.URL)
	if s.AdminUser, _, err = s.Admin.Login(ctx, admin.Username, AdminPassword); err != nil {
		t.Fatalf("log in as admin: %v", err)
	}
	if s.Team, _, err = s.Admin.CreateTeam(ctx, &model.Team{Name: teamName, DisplayName: strings.ToUpper(teamName[:1]) + teamName[1:], Type: model.TeamOpen}); err != nil {
		t.Fatalf("create team: %v", err)
	}
}

// Stop sends SIGTERM to the server and waits for it to exit (plugins are stopped by the server). A server
// stopped within about 15 s of starting takes 11-13 s to exit; after 60 s its process group is killed.
func (s *Server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.t.Logf("Mattermost did not stop on SIGTERM within 60 s; killing its process group")
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

func (s *Server) cleanup() {
	began := time.Now()
	s.Stop()
	s.t.Logf("Mattermost %s stopped in %s", s.Version, time.Since(began).Round(time.Millisecond))
	if s.t.Failed() {
		s.t.Logf("Mattermost %s run directory kept at %s.\nWarnings, errors and plugin lines of its log (last 40):\n%s\nLast lines of its log:\n%s",
			s.Version, s.Dir, s.LogProblems(40), s.LogTail(40))
		return
	}
	if os.Getenv("E2E_KEEP") != "" {
		s.t.Logf("Mattermost %s run directory kept at %s (E2E_KEEP)", s.Version, s.Dir)
		return
	}
	_ = os.RemoveAll(s.Dir)
}

// LogPath is the server's JSON log file; plugin log lines carry "plugin_id".
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "logs", "mattermost.log") }

// LogTail returns the last n lines of the server log (and of its console output, where crashes end up).
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, f := range []string{s.LogPath(), filepath.Join(s.Dir, "logs", "console.log")} {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", f, strings.Join(lines, "\n"))
	}
	return b.String()
}

// LogProblems returns the last n log lines that are warnings or worse or come from a plugin: on a failed test
// these matter more than the shutdown chatter at the end of the log.
func (s *Server) LogProblems(n int) string {
	data, err := os.ReadFile(s.LogPath())
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	var picked []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, `"plugin_id"`) || strings.Contains(line, `"level":"warn"`) ||
			strings.Contains(line, `"level":"error"`) || strings.Contains(line, `"level":"critical"`) ||
			strings.Contains(line, `"level":"fatal"`) || strings.Contains(line, `"level":"panic"`) {
			picked = append(picked, line)
		}
	}
	if len(picked) > n {
		picked = picked[len(picked)-n:]
	}
	return strings.Join(picked, "\n")
}

// Log returns the whole server log.
func (s *Server) Log() string {
	data, err := os.ReadFile(s.LogPath())
	if err != nil {
		s.t.Fatalf("read server log: %v", err)
	}
	return string(data)
}

// PID is the server process id (the demo records it so that `make demo-stop` can stop the server).
func (s *Server) PID() int { return s.cmd.Process.Pid }
