package metrics_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

// prometheusBuiltins are series Prometheus itself makes for every scrape target.
var prometheusBuiltins = map[string]bool{"up": true, "scrape_duration_seconds": true}

// registeredNames observes every metric once (label vectors only appear after their first observation) and
// returns every series name a query may use, histograms with their _bucket/_sum/_count series.
func registeredNames(t *testing.T) (names map[string]bool, plugin []string) {
	t.Helper()
	m := metrics.New("test")
	_, err := m.NewCollector(metrics.CollectorOptions{
		Stats:  storetest.NewStore(t),
		Limits: func() metrics.Limits { return metrics.Limits{} },
		Queues: []string{"changes"},
	})
	require.NoError(t, err)
	m.ItemsAccepted("changes", 1)
	m.ItemsDropped("changes", "r", 1)
	m.JobProcessed("changes", time.Second)
	m.JobRetried("changes")
	m.JobParked("changes")
	m.Delivered(time.Second)
	m.Skipped("r")
	m.Updated("edited")
	m.ContentFallback("r")
	m.FileResolved("image", "")
	m.FollowUpPosted(1)
	m.FollowUpRefused()
	m.TokenRefreshed()
	m.TokenRevoked("r")
	m.SubscriptionRenewed()
	m.SubscriptionRecreated("r")
	m.SetClientSecretExpiry(time.Now())
	rt := m.GraphTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}))
	req, _ := http.NewRequest(http.MethodGet, "https://graph.microsoft.com/v1.0/me", nil)
	_, err = rt.RoundTrip(req)
	require.NoError(t, err)
	ctx := m.DBTracer().TraceQueryStart(context.Background(), nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
	m.DBTracer().TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{})
	_, _ = m.WrapAPI(fakeAPI{}).CreatePost(nil)

	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	names = map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
		if strings.HasPrefix(f.GetName(), metrics.Namespace+"_") && !strings.HasPrefix(f.GetName(), metrics.Namespace+"_process_") {
			plugin = append(plugin, f.GetName())
		}
	}
	return names, plugin
}

var (
	stringRe   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	matchersRe = regexp.MustCompile(`\{[^}]*\}`)
	rangeRe    = regexp.MustCompile(`\[[^\]]*\]`)
	groupingRe = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identRe    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

var promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true}

// metricNames returns the series names a PromQL expression selects: identifiers that are not inside label
// matchers, ranges, grouping clauses or strings, not function calls and not keywords.
func metricNames(expr string) []string {
	s := stringRe.ReplaceAllString(expr, `""`)
	s = matchersRe.ReplaceAllString(s, " ")
	s = rangeRe.ReplaceAllString(s, " ")
	s = groupingRe.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range identRe.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] == '$' || s[loc[0]-1] == '.' || (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9')) {
			continue // a Grafana variable, or the exponent of a number
		}
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || promqlKeywords[word] {
			continue
		}
		out = append(out, word)
	}
	return out
}

func TestMetricNamesParsesSelectors(t *testing.T) {
	got := metricNames(`histogram_quantile(0.95, sum by (le, queue) (rate(a_bucket{instance=~"$instance",code="429"}[$__rate_interval]))) / on(x) group_left(y) b and c > 1e3 unless max without (q) (d offset 5m)`)
	assert.Equal(t, []string{"a_bucket", "b", "c", "d"}, got)
}

// dashboardExprs collects every PromQL query of the dashboard (panel targets, nested rows, template variables).
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../ops/grafana-dashboard.json")
	require.NoError(t, err)
	var dash map[string]any
	require.NoError(t, json.Unmarshal(raw, &dash), "the dashboard is valid JSON")
	require.NotEmpty(t, dash["title"])
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				exprs = append(exprs, e)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(dash["panels"])
	templ := dash["templating"].(map[string]any)["list"].([]any)
	for _, v := range templ {
		if q, ok := v.(map[string]any)["definition"].(string); ok {
			if inner, ok := strings.CutPrefix(q, "label_values("); ok {
				exprs = append(exprs, strings.SplitN(strings.TrimSuffix(inner, ")"), ",", 2)[0])
			}
		}
	}
	return exprs
}

type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestDashboardAndAlertsUseOnlyRegisteredMetrics(t *testing.T) {
	names, plugin := registeredNames(t)

	used := map[string]bool{}
	check := func(where, expr string) {
		ms := metricNames(expr)
		assert.NotEmptyf(t, ms, "%s: %q selects no metric", where, expr)
		for _, n := range ms {
			used[n] = true
			assert.Truef(t, names[n] || prometheusBuiltins[n], "%s: %q uses %s, which the plugin does not export", where, expr, n)
		}
	}

	exprs := dashboardExprs(t)
	require.Greater(t, len(exprs), 30)
	for _, e := range exprs {
		check("dashboard", e)
	}

	raw, err := os.ReadFile("../../ops/prometheus-alerts.yml")
	require.NoError(t, err)
	var rules alertRules
	require.NoError(t, yaml.Unmarshal(raw, &rules))
	require.Len(t, rules.Groups, 1)
	alerts := map[string]bool{}
	for _, r := range rules.Groups[0].Rules {
		alerts[r.Alert] = true
		check("alert "+r.Alert, r.Expr)
		assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
		assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		if r.For != "" {
			_, err := time.ParseDuration(r.For)
			assert.NoError(t, err, r.Alert)
		}
	}
	for _, want := range []string{"MSTeamsNotifyPluginDown", "MSTeamsNotifySubscriptionMissing", "MSTeamsNotifySubscriptionExpiringSoon",
		"MSTeamsNotifyNoNotifications", "MSTeamsNotifyInboxBacklog", "MSTeamsNotifyGraphThrottled",
		"MSTeamsNotifyTokenRevocationsSpike", "MSTeamsNotifyParkedItems"} {
		assert.True(t, alerts[want], "alert %s is defined", want)
	}

	// Every plugin metric is on the dashboard or in an alert: nothing is exported that nobody looks at.
	var unused []string
	for _, n := range plugin {
		if !used[n] && !used[n+"_bucket"] && !used[n+"_count"] {
			unused = append(unused, n)
		}
	}
	sort.Strings(unused)
	assert.Empty(t, unused, "metrics neither on the dashboard nor in an alert")
}
