package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/metrics"
)

const (
	simTenant   = "7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	simClient   = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	simSecret   = "Xy8~metrics-test-secret"
	simRedirect = "https://mm.example.test/plugins/com.mattermost.msteams-sync/oauth-redirect"
	aliceID     = "a1a1a1a1-0000-4000-8000-000000000001"
	bobID       = "b2b2b2b2-0000-4000-8000-000000000002"
)

// simEnv is graphsim over TLS with one app, two users and one chat, and a graph.Factory configured for it
// (Custom cloud) whose transport is wrapped by metrics.GraphTransport, as the plugin wires it.
type simEnv struct {
	sim     *graphsim.Sim
	m       *metrics.Metrics
	factory *graph.Factory
	chat    string
}

func newSimEnv(t *testing.T, opts graph.Options) *simEnv {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: simTenant, ClientID: simClient, ClientSecret: simSecret, DisplayName: "Notify", RedirectURIs: []string{simRedirect},
		AppRoles:      []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All", "Application.Read.All"},
		SecretExpires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC),
	}))
	for _, u := range []graphsim.User{
		{ID: aliceID, TenantID: simTenant, DisplayName: "Alice", Mail: "alice@contoso.test", UserPrincipalName: "alice@contoso.test"},
		{ID: bobID, TenantID: simTenant, DisplayName: "Bob", Mail: "bob@contoso.test", UserPrincipalName: "bob@contoso.test"},
	} {
		require.NoError(t, sim.AddUser(u))
	}
	chat, err := sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{aliceID, bobID}})
	require.NoError(t, err)

	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = simTenant, simClient, simSecret
	cfg.EncryptionKey, cfg.WebhookSecret = "k", "w"
	cfg.Cloud = config.CloudCustom
	cfg.CustomAuthorityURL = sim.AuthorityURL()
	cfg.CustomGraphURL = sim.GraphURL()
	cfg.CustomCACertificate = string(sim.CACertPEM())
	require.NoError(t, cfg.Validate())

	m := metrics.New("test")
	base, err := graph.NewTransport(cfg.CustomCACertificate)
	require.NoError(t, err)
	opts.Transport = m.GraphTransport(base)
	f, err := graph.NewFactory(cfg, opts)
	require.NoError(t, err)
	return &simEnv{sim: sim, m: m, factory: f, chat: chat}
}

// scrape fetches Handler() as Prometheus would and parses the text exposition.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the value of the series of family name whose labels include want, and whether it exists.
// Counters, gauges and histograms (sample count) are supported.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := value(fams, name, want)
	require.Truef(t, ok, "no series %s%v", name, want)
	return v
}
