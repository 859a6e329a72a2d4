package e2e

import (
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
)

// The bundle installs on every supported server version, runs, and survives being disabled and enabled again.
func TestPluginLifecycle(t *testing.T) {
	for _, version := range harness.Versions() {
		t.Run(version, func(t *testing.T) {
			s := harness.Start(t, version)
			require.Equal(t, -1, s.PluginState(), "a fresh server has no msteams plugin")

			manifest := s.InstallPlugin(harness.BundlePath(t))
			assert.Equal(t, harness.PluginID, manifest.Id)
			assert.Equal(t, model.PluginStateRunning, s.PluginState())

			s.DisablePlugin()
			assert.Equal(t, model.PluginStateNotRunning, s.PluginState())

			s.EnablePlugin()
			assert.Equal(t, model.PluginStateRunning, s.PluginState())
		})
	}
}

// Settings written through the config API reach the plugin's stored configuration and leave it running.
func TestPluginConfigPatch(t *testing.T) {
	s := harness.StartWithPlugin(t, harness.Versions()[0])

	s.PatchPluginConfig(map[string]any{"TenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47"})

	got := s.PluginConfig()
	assert.Equal(t, "72f988bf-86f1-41af-91ab-2d7cd011db47", lookupFold(got, "TenantID"))
	assert.Equal(t, model.PluginStateRunning, s.PluginState())
}

// lookupFold finds a plugin setting whatever case the server stored its key in.
func lookupFold(m map[string]any, key string) any {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}
