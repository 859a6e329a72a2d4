package harness

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// PluginID is the id of the plugin under test.
const PluginID = "com.mattermost.msteams-sync"

// BundlePath returns the plugin bundle to install: PLUGIN_BUNDLE, else the newest dist/*.tar.gz of the repository
// (`make dist` builds it).
func BundlePath(t T) string {
	t.Helper()
	if p := os.Getenv("PLUGIN_BUNDLE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PLUGIN_BUNDLE: %v", err)
		}
		return p
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(moduleDir()), "dist", "*.tar.gz"))
	if len(matches) == 0 {
		t.Fatalf("no plugin bundle: run `make dist` or set PLUGIN_BUNDLE")
	}
	sort.Slice(matches, func(i, j int) bool { return modTime(matches[i]).After(modTime(matches[j])) })
	return matches[0]
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// PluginSettings returns settings with which the plugin activates: a made-up tenant and app registration in the
// commercial cloud. Nothing is contacted at activation; tests that exercise Microsoft Graph point Cloud "custom",
// CustomAuthorityURL and CustomGraphURL at graphsim instead.
func PluginSettings() map[string]any {
	return map[string]any{
		"TenantID":     "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
		"ClientID":     "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
		"ClientSecret": "e2e~not-a-real-secret.0123456789abcdef",
	}
}

// UploadPlugin uploads the bundle, replacing an installed version, and leaves it disabled.
func (s *Server) UploadPlugin(bundle string) *model.Manifest {
	t := s.t
	t.Helper()
	f, err := os.Open(bundle)
	if err != nil {
		t.Fatalf("open plugin bundle: %v", err)
	}
	defer f.Close()
	manifest, _, err := s.Admin.UploadPluginForced(context.Background(), f)
	if err != nil {
		t.Fatalf("upload plugin bundle %s: %v", bundle, err)
	}
	return manifest
}

// InstallPlugin uploads the bundle (replacing an installed version), enables it as it is configured and waits
// until it runs. It works for any plugin; for the msteams plugin, StartWithPlugin configures it first.
func (s *Server) InstallPlugin(bundle string) *model.Manifest {
	s.t.Helper()
	manifest := s.UploadPlugin(bundle)
	s.enable(manifest.Id)
	return manifest
}

// EnablePlugin enables the plugin and waits until it is running.
func (s *Server) EnablePlugin() {
	s.t.Helper()
	s.enable(PluginID)
}

func (s *Server) enable(id string) {
	s.t.Helper()
	if _, err := s.Admin.EnablePlugin(context.Background(), id); err != nil {
		s.t.Fatalf("enable plugin %s: %v", id, err)
	}
	s.waitState(id, model.PluginStateRunning)
}

// DisablePlugin disables the plugin and waits until it is no longer running.
func (s *Server) DisablePlugin() {
	s.t.Helper()
	if _, err := s.Admin.DisablePlugin(context.Background(), PluginID); err != nil {
		s.t.Fatalf("disable plugin: %v", err)
	}
	s.WaitPluginState(model.PluginStateNotRunning)
}

// PluginState returns the plugin's state as the server reports it (model.PluginState*), or -1 if the server does
// not list the plugin at all.
func (s *Server) PluginState() int {
	s.t.Helper()
	return s.stateOf(PluginID)
}

func (s *Server) stateOf(id string) int {
	s.t.Helper()
	state, _ := s.status(id)
	return state
}

// status returns the plugin's state and the error the server recorded for it (why activation failed).
func (s *Server) status(id string) (int, string) {
	s.t.Helper()
	statuses, _, err := s.Admin.GetPluginStatuses(context.Background())
	if err != nil {
		s.t.Fatalf("get plugin statuses: %v", err)
	}
	for _, st := range statuses {
		if st.PluginId == id {
			return st.State, st.Error
		}
	}
	return -1, ""
}

// WaitPluginState polls the plugin statuses until the plugin reaches state, failing after 30 s.
func (s *Server) WaitPluginState(state int) {
	s.t.Helper()
	s.waitState(PluginID, state)
}

func (s *Server) waitState(id string, state int) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, reason := s.status(id)
		if got == state {
			return
		}
		// Activation failures are final until something changes; waiting longer would only hide the reason.
		if got == model.PluginStateFailedToStart || time.Now().After(deadline) {
			s.t.Fatalf("plugin %s state is %s, want %s (server says: %q)", id, stateName(got), stateName(state), reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stateName(state int) string {
	switch state {
	case model.PluginStateNotRunning:
		return "NotRunning"
	case model.PluginStateStarting:
		return "Starting"
	case model.PluginStateRunning:
		return "Running"
	case model.PluginStateFailedToStart:
		return "FailedToStart"
	case model.PluginStateFailedToStayRunning:
		return "FailedToStayRunning"
	case model.PluginStateStopping:
		return "Stopping"
	case -1:
		return "not installed"
	}
	return "unknown state"
}

// PluginConfig returns the plugin's settings as stored in PluginSettings.Plugins (unsanitized: read over the
// local-mode socket). Keys keep the spelling of whoever wrote them; the System Console writes them lower-cased.
func (s *Server) PluginConfig() map[string]any {
	s.t.Helper()
	cfg, _, err := s.Local.GetConfig(context.Background())
	if err != nil {
		s.t.Fatalf("get config: %v", err)
	}
	return cfg.PluginSettings.Plugins[PluginID]
}

// PatchPluginConfig merges settings into the plugin's stored settings (PluginSettings.Plugins[PluginID]) through
// the config API; the server then calls the plugin's OnConfigurationChange. Keys are matched case-insensitively by
// the plugin SDK, so the manifest's spelling (e.g. "TenantID") works.
func (s *Server) PatchPluginConfig(settings map[string]any) {
	s.t.Helper()
	s.PatchSettings(PluginID, settings)
}

// PatchSettings is PatchPluginConfig for any plugin id.
func (s *Server) PatchSettings(id string, settings map[string]any) {
	s.t.Helper()
	cfg, _, err := s.Local.GetConfig(context.Background())
	if err != nil {
		s.t.Fatalf("get config: %v", err)
	}
	merged := map[string]any{}
	for k, v := range cfg.PluginSettings.Plugins[id] {
		merged[k] = v
	}
	for k, v := range settings {
		merged[k] = v
	}
	patch := &model.Config{}
	patch.PluginSettings.Plugins = map[string]map[string]any{id: merged}
	if _, _, err := s.Local.PatchConfig(context.Background(), patch); err != nil {
		s.t.Fatalf("patch plugin config: %v", err)
	}
}

// PluginMetrics fetches the plugin's metrics endpoint on the metrics listener and returns the HTTP status and body.
func (s *Server) PluginMetrics() (int, string) {
	s.t.Helper()
	return s.Metrics("/plugins/" + PluginID + "/metrics")
}

// Metrics fetches path from the metrics listener and returns the HTTP status and body.
func (s *Server) Metrics(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.MetricsURL + path)
	if err != nil {
		s.t.Fatalf("get metrics %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("read metrics %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}
