package e2e

import (
	"net/http"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
)

// An unlicensed server still runs the metrics listener and hands /plugins/<id>/metrics to the plugin's
// ServeMetrics hook, so the plugin can expose Prometheus metrics without Enterprise. The server's own /metrics
// comes from the Enterprise metrics implementation, which the team-edition build lacks.
func TestUnlicensedServerRoutesPluginMetrics(t *testing.T) {
	bundle := harness.BuildPluginBundle(t, "./internal/metricsprobe", &model.Manifest{
		Id: "e2e.metricsprobe", Name: "metrics probe", Version: "0.0.1",
	})
	for _, version := range harness.Versions() {
		t.Run(version, func(t *testing.T) {
			s := harness.Start(t, version)
			s.InstallPlugin(bundle)

			code, body := s.Metrics("/plugins/e2e.metricsprobe/metrics")
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, "metricsprobe_up 1\n", body)

			code, _ = s.Metrics("/metrics")
			assert.Equal(t, http.StatusNotFound, code, "the server's own metrics come from the Enterprise build")
		})
	}
}
