package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
)

// What every supported server version gives a plugin, pinned down with the probe plugin (internal/probe): the
// msteams plugin's metrics and settings handling depend on it.
func TestServerPluginContract(t *testing.T) {
	bundle := harness.BuildPluginBundle(t, "./internal/probe", &model.Manifest{
		Id: "e2e.probe", Name: "probe", Version: "0.0.1",
		SettingsSchema: &model.PluginSettingsSchema{Settings: []*model.PluginSetting{
			{Key: "Plain", Type: "text"},
			{Key: "Secret", Type: "text", Secret: true},
			{Key: "EmptySecret", Type: "text", Secret: true},
		}},
	})
	for _, version := range harness.Versions() {
		t.Run(version, func(t *testing.T) {
			s := harness.Start(t, version)
			s.UploadPlugin(bundle)
			s.PatchSettings("e2e.probe", map[string]any{"Plain": "visible", "Secret": "s3cr3t-value", "EmptySecret": ""})
			s.InstallPlugin(bundle)

			// An unlicensed server still runs the metrics listener and hands /plugins/<id>/metrics to the
			// plugin's ServeMetrics hook, so the plugin can expose Prometheus metrics without Enterprise.
			code, body := s.Metrics("/plugins/e2e.probe/metrics")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, "probe_up 1\n", body)
			// The server's own /metrics comes from the Enterprise metrics implementation, absent here.
			code, _ = s.Metrics("/metrics")
			assert.Equal(t, http.StatusNotFound, code)

			// GetPluginConfig hands the plugin the *sanitized* settings: every secret setting, even an empty
			// one, reads as model.FakeSetting. Only LoadPluginConfiguration (keys lower-cased) has the real values.
			var got struct {
				GetPluginConfig         map[string]any
				LoadPluginConfiguration map[string]any
			}
			req, err := http.NewRequest(http.MethodGet, s.URL+"/plugins/e2e.probe/config", nil)
			require.NoError(t, err)
			req.Header.Set(model.HeaderAuth, model.HeaderBearer+" "+s.Admin.AuthToken)
			resp, err := s.Admin.HTTPClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))

			assert.Equal(t, map[string]any{"Plain": "visible", "Secret": model.FakeSetting, "EmptySecret": model.FakeSetting}, got.GetPluginConfig)
			assert.Equal(t, map[string]any{"plain": "visible", "secret": "s3cr3t-value", "emptysecret": ""}, got.LoadPluginConfiguration)
		})
	}
}
