package e2e

import (
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
)

// The bundle installs on every supported server version, runs once configured, creates its bot, and survives
// being disabled and enabled again with the same bot.
func TestPluginLifecycle(t *testing.T) {
	for _, version := range harness.Versions() {
		t.Run(version, func(t *testing.T) {
			s := harness.Start(t, version)
			require.Equal(t, -1, s.PluginState(), "a fresh server has no msteams plugin")

			manifest := s.UploadPlugin(harness.BundlePath(t))
			assert.Equal(t, harness.PluginID, manifest.Id)
			assert.Equal(t, model.PluginStateNotRunning, s.PluginState(), "an uploaded plugin waits to be enabled")

			s.PatchPluginConfig(harness.PluginSettings())
			s.EnablePlugin()
			bot := s.Bot("msteams")

			s.DisablePlugin()
			s.EnablePlugin()
			assert.Equal(t, bot.Id, s.Bot("msteams").Id, "re-enabling reuses the bot")
		})
	}
}

// Settings written through the config API reach the running plugin, which keeps running, and the secrets the
// plugin generates on first activation are stored in its settings for every node to share.
func TestPluginConfigPatch(t *testing.T) {
	s := harness.StartWithPlugin(t, harness.Versions()[0])

	stored := s.PluginConfig()
	assert.NotEmpty(t, lookupFold(stored, "EncryptionKey"), "generated at-rest encryption key is stored")
	assert.NotEmpty(t, lookupFold(stored, "WebhookSecret"), "generated webhook secret is stored")

	s.PatchPluginConfig(map[string]any{"TenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47"})

	assert.Equal(t, "72f988bf-86f1-41af-91ab-2d7cd011db47", lookupFold(s.PluginConfig(), "TenantID"))
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
