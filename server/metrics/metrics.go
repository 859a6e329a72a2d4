// Package metrics is the plugin's Prometheus instrumentation: one registry (plus the Go and process
// collectors) holding every counter, histogram and gauge the plugin exports under the msteams_notify namespace,
// the observers the pipeline packages call (webhook, inbox, delivery, attach), wrappers that time Graph HTTP
// calls, database queries and Mattermost plugin-API calls, and a Collector that reads queue and seat figures
// from the store when Prometheus scrapes. Labels are bounded: routes with ids replaced, queue names, reasons;
// never a user, chat or message id.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "msteams_notify"

// maxLabelValues caps the distinct values a free-text label (a reason, a query name) may take per metric;
// later values are reported as "other", so a caller passing an unexpected string cannot blow up the series count.
const maxLabelValues = 50

// Metrics holds the registry and every plugin-level metric. All methods are safe for concurrent use, and a nil
// *Metrics is a valid no-op, so packages can be built without metrics in tests.
type Metrics struct {
	reg *prometheus.Registry

	pluginInfo  *prometheus.GaugeVec
	pluginStart prometheus.Gauge

	webhookAccepted   *prometheus.CounterVec
	webhookDropped    *prometheus.CounterVec
	webhookUnverified *prometheus.CounterVec

	inboxProcessed *prometheus.CounterVec
	inboxLatency   *prometheus.HistogramVec
	inboxRetried   *prometheus.CounterVec
	inboxParked    *prometheus.CounterVec
	inboxExpired   *prometheus.CounterVec

	deliveryDMs       prometheus.Counter
	deliveryDelay     prometheus.Histogram
	deliverySkipped   *prometheus.CounterVec
	deliveryUpdated   *prometheus.CounterVec
	deliveryFallbacks *prometheus.CounterVec

	attachFiles          *prometheus.CounterVec
	attachFollowUps      prometheus.Counter
	attachFollowUpFiles  prometheus.Counter
	attachFollowUpRefuse prometheus.Counter

	graphRequests *prometheus.CounterVec
	graphDuration *prometheus.HistogramVec

	dbQueries  *prometheus.CounterVec
	dbDuration *prometheus.HistogramVec

	apiCalls    *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec

	tokensRefreshed   prometheus.Counter
	tokensRevoked     *prometheus.CounterVec
	subsRenewed       prometheus.Counter
	subsRecreated     *prometheus.CounterVec
	secretExpiry      prometheus.Gauge
	secretExpiryKnown prometheus.Gauge

	labelsMu sync.Mutex
	seen     map[string]map[string]bool // metric → label values admitted so far
}

// New builds the registry with every metric registered, so all series names exist (at zero) from the first
// scrape, and dashboards and alerts never see "no data" merely because nothing has happened yet.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), seen: map[string]map[string]bool{}}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: Namespace}),
	)
	f := factory{m.reg}

	m.pluginInfo = f.gaugeVec("plugin_info", "Always 1; the version label says which plugin build runs.", "version")
	m.pluginStart = f.gauge("plugin_start_timestamp_seconds", "When the plugin was activated on this node (Unix time).")
	m.pluginInfo.WithLabelValues(version).Set(1)
	m.pluginStart.SetToCurrentTime()

	m.webhookAccepted = f.counterVec("webhook_items_accepted_total", "Notification items stored in the inbox, by endpoint (changes|lifecycle).", "endpoint")
	m.webhookDropped = f.counterVec("webhook_items_dropped_total", "Notification items refused or ignored, by endpoint and reason.", "endpoint", "reason")
	m.webhookUnverified = f.counterVec("webhook_rich_items_unverified_total", "Rich notification items whose validation tokens were missing (no_tokens) or invalid (invalid_tokens), so their message is fetched from Graph instead.", "endpoint", "reason")

	m.inboxProcessed = f.counterVec("inbox_jobs_processed_total", "Inbox jobs completed, by queue.", "queue")
	m.inboxLatency = f.histogramVec("inbox_job_latency_seconds", "Time from a job's first enqueue to its completion, by queue.",
		[]float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}, "queue")
	m.inboxRetried = f.counterVec("inbox_jobs_retried_total", "Inbox job attempts that failed and were scheduled again, by queue.", "queue")
	m.inboxParked = f.counterVec("inbox_jobs_parked_total", "Inbox jobs set aside for an administrator, by queue.", "queue")
	m.inboxExpired = f.counterVec("inbox_parked_expired_total", "Parked inbox jobs deleted without delivery after the parked expiry, by queue.", "queue")

	m.deliveryDMs = f.counter("delivery_dms_total", "Bot DMs created for Teams messages.")
	m.deliveryDelay = f.histogram("delivery_delay_seconds", "Time from a Teams message's creation to its DM in Mattermost.",
		[]float64{.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900, 3600})
	m.deliverySkipped = f.counterVec("delivery_skipped_total", "Changes or recipients not delivered to, by reason.", "reason")
	m.deliveryUpdated = f.counterVec("delivery_updates_total", "DMs changed after the fact, by kind (edited|deleted|summarized).", "kind")
	m.deliveryFallbacks = f.counterVec("delivery_content_fallbacks_total", "Changes whose content was fetched from Graph instead of the notification, by reason.", "reason")

	m.attachFiles = f.counterVec("attach_files_total", "Files of Teams messages handled, by kind and problem (\"\" when attached).", "kind", "problem")
	m.attachFollowUps = f.counter("attach_followups_total", "Follow-up posts carrying files.")
	m.attachFollowUpFiles = f.counter("attach_followup_files_total", "Files carried by follow-up posts.")
	m.attachFollowUpRefuse = f.counter("attach_followups_refused_total", "Follow-up posts Mattermost refused for good.")

	m.graphRequests = f.counterVec("graph_requests_total",
		"HTTP requests to Microsoft Graph and the identity platform, by normalised endpoint, token kind (app|delegated|none) and status code (\"error\" when no answer).",
		"endpoint", "token", "code")
	m.graphDuration = f.histogramVec("graph_request_duration_seconds", "Latency of Graph and identity-platform HTTP requests.",
		[]float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "endpoint", "token")

	m.dbQueries = f.counterVec("db_queries_total", "Database statements, by query name and outcome (ok|error).", "query", "outcome")
	m.dbDuration = f.histogramVec("db_query_duration_seconds", "Latency of database statements, by query name.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}, "query")

	m.apiCalls = f.counterVec("plugin_api_calls_total", "Mattermost plugin API calls, by method and outcome (ok|error).", "method", "outcome")
	m.apiDuration = f.histogramVec("plugin_api_call_duration_seconds", "Latency of Mattermost plugin API calls, by method.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}, "method")

	m.tokensRefreshed = f.counter("tokens_refreshed_total", "Delegated user tokens refreshed.")
	m.tokensRevoked = f.counterVec("tokens_revoked_total", "Connections lost because Microsoft refused a user's token, by reason.", "reason")
	m.subsRenewed = f.counter("subscription_renewals_total", "Graph subscription renewals.")
	m.subsRecreated = f.counterVec("subscription_recreations_total", "Graph subscriptions (re)created, by reason.", "reason")
	m.secretExpiry = f.gauge("client_secret_expiry_timestamp_seconds", "When the configured client secret expires (Unix time); 0 until known.")
	m.secretExpiryKnown = f.gauge("client_secret_expiry_known", "1 when the client secret's expiry could be read from the app registration, else 0.")
	return m
}

// Registry is the plugin's own registry, for a Collector and for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format; return it from the ServeMetrics hook. A
// collector that fails yields a partial answer rather than a failed scrape, so one slow query never hides the
// whole plugin from Prometheus.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: m.reg})
}

// --- webhook.Metrics ---

// ItemsAccepted counts notification items stored in the inbox.
func (m *Metrics) ItemsAccepted(endpoint string, n int) {
	if m == nil {
		return
	}
	m.webhookAccepted.WithLabelValues(m.bound("endpoint", endpoint)).Add(float64(n))
}

// ItemsDropped counts notification items refused or ignored.
func (m *Metrics) ItemsDropped(endpoint, reason string, n int) {
	if m == nil {
		return
	}
	m.webhookDropped.WithLabelValues(m.bound("endpoint", endpoint), m.bound("webhook_reason", reason)).Add(float64(n))
}

// RichItemsUnverified counts rich items kept as plain ones because their validation tokens failed.
func (m *Metrics) RichItemsUnverified(endpoint, reason string, n int) {
	if m == nil {
		return
	}
	m.webhookUnverified.WithLabelValues(m.bound("endpoint", endpoint), m.bound("webhook_reason", reason)).Add(float64(n))
}

// --- inbox.Metrics ---

// JobProcessed counts a completed job and observes its end-to-end latency.
func (m *Metrics) JobProcessed(queue string, latency time.Duration) {
	if m == nil {
		return
	}
	q := m.bound("queue", queue)
	m.inboxProcessed.WithLabelValues(q).Inc()
	m.inboxLatency.WithLabelValues(q).Observe(latency.Seconds())
}

// JobRetried counts a failed attempt that will be retried.
func (m *Metrics) JobRetried(queue string) {
	if m == nil {
		return
	}
	m.inboxRetried.WithLabelValues(m.bound("queue", queue)).Inc()
}

// JobParked counts a job set aside for an administrator.
func (m *Metrics) JobParked(queue string) {
	if m == nil {
		return
	}
	m.inboxParked.WithLabelValues(m.bound("queue", queue)).Inc()
}

// ParkedExpired counts parked jobs deleted without delivery because nobody requeued them in time.
func (m *Metrics) ParkedExpired(queue string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.inboxExpired.WithLabelValues(m.bound("queue", queue)).Add(float64(n))
}

// --- delivery.Metrics ---

// Delivered counts a DM and observes the time from the Teams message to the DM.
func (m *Metrics) Delivered(delay time.Duration) {
	if m == nil {
		return
	}
	m.deliveryDMs.Inc()
	m.deliveryDelay.Observe(max(delay, 0).Seconds())
}

// Skipped counts a change or recipient not delivered to.
func (m *Metrics) Skipped(reason string) {
	if m == nil {
		return
	}
	m.deliverySkipped.WithLabelValues(m.bound("skip_reason", reason)).Inc()
}

// Updated counts a DM edited, marked deleted or summarized.
func (m *Metrics) Updated(kind string) {
	if m == nil {
		return
	}
	m.deliveryUpdated.WithLabelValues(m.bound("update_kind", kind)).Inc()
}

// ContentFallback counts a change whose content had to be fetched from Graph.
func (m *Metrics) ContentFallback(reason string) {
	if m == nil {
		return
	}
	m.deliveryFallbacks.WithLabelValues(m.bound("fallback_reason", reason)).Inc()
}

// --- attach.Metrics ---

// FileResolved counts a file handled for the first time.
func (m *Metrics) FileResolved(kind, problem string) {
	if m == nil {
		return
	}
	m.attachFiles.WithLabelValues(m.bound("file_kind", kind), m.bound("file_problem", problem)).Inc()
}

// FollowUpPosted counts a follow-up post and the files it carries.
func (m *Metrics) FollowUpPosted(files int) {
	if m == nil {
		return
	}
	m.attachFollowUps.Inc()
	m.attachFollowUpFiles.Add(float64(files))
}

// FollowUpRefused counts a follow-up Mattermost refused for good.
func (m *Metrics) FollowUpRefused() {
	if m == nil {
		return
	}
	m.attachFollowUpRefuse.Inc()
}

// --- connections and subscription, called by the integrator ---

// TokenRefreshed counts a delegated token refreshed.
func (m *Metrics) TokenRefreshed() {
	if m == nil {
		return
	}
	m.tokensRefreshed.Inc()
}

// TokenRevoked counts a connection lost because Microsoft refused the user's token (e.g. "invalid_grant",
// "consent_revoked", "user_disabled").
func (m *Metrics) TokenRevoked(reason string) {
	if m == nil {
		return
	}
	m.tokensRevoked.WithLabelValues(m.bound("revoke_reason", reason)).Inc()
}

// SubscriptionRenewed counts a renewal of the Graph subscription.
func (m *Metrics) SubscriptionRenewed() {
	if m == nil {
		return
	}
	m.subsRenewed.Inc()
}

// SubscriptionRecreated counts a subscription created or replaced, by reason (e.g. "missing", "removed",
// "expired", "settings_changed", "admin").
func (m *Metrics) SubscriptionRecreated(reason string) {
	if m == nil {
		return
	}
	m.subsRecreated.WithLabelValues(m.bound("recreate_reason", reason)).Inc()
}

// SetClientSecretExpiry records when the client secret expires; a zero time means it could not be read.
func (m *Metrics) SetClientSecretExpiry(t time.Time) {
	if m == nil {
		return
	}
	if t.IsZero() {
		m.secretExpiryKnown.Set(0)
		return
	}
	m.secretExpiry.Set(float64(t.Unix()))
	m.secretExpiryKnown.Set(1)
}

// bound returns v as a label value of the named label family, or "other" once the family already holds
// maxLabelValues distinct values. Values are also trimmed to a sane length.
func (m *Metrics) bound(family, v string) string {
	v = sanitizeLabel(v)
	m.labelsMu.Lock()
	defer m.labelsMu.Unlock()
	set := m.seen[family]
	if set == nil {
		set = map[string]bool{}
		m.seen[family] = set
	}
	if set[v] {
		return v
	}
	if len(set) >= maxLabelValues {
		return "other"
	}
	set[v] = true
	return v
}

func sanitizeLabel(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 80 {
		v = v[:80]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, v)
}

// factory registers metrics under the namespace.
type factory struct{ reg prometheus.Registerer }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

func statusCode(code int) string { return strconv.Itoa(code) }
