package metrics_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

// The observer interfaces the pipeline packages declare are all met by one *Metrics, and the instrumented
// plugin API fits where delivery and attach take plugin.API.
var (
	_ webhook.Metrics     = (*metrics.Metrics)(nil)
	_ inbox.Metrics       = (*metrics.Metrics)(nil)
	_ delivery.Metrics    = (*metrics.Metrics)(nil)
	_ attach.Metrics      = (*metrics.Metrics)(nil)
	_ delivery.Mattermost = (*metrics.InstrumentedAPI)(nil)
	_ attach.Mattermost   = (*metrics.InstrumentedAPI)(nil)
)

func TestObserversMoveTheirSeries(t *testing.T) {
	m := metrics.New("1.2.3")
	m.ItemsAccepted("changes", 3)
	m.ItemsDropped("changes", "client_state", 2)
	m.Delivered(1500 * time.Millisecond)
	m.Delivered(-time.Second) // clock skew is observed as zero, not dropped
	m.Skipped(delivery.SkipActiveInTeams)
	m.Updated("edited")
	m.ContentFallback("decrypt_failed")
	m.FileResolved("image", "")
	m.FileResolved("file", "too_large")
	m.FollowUpPosted(3)
	m.FollowUpRefused()
	m.TokenRefreshed()
	m.TokenRevoked("invalid_grant")
	m.SubscriptionRenewed()
	m.SubscriptionRecreated("removed")

	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"msteams_notify_plugin_info", map[string]string{"version": "1.2.3"}, 1},
		{"msteams_notify_webhook_items_accepted_total", map[string]string{"endpoint": "changes"}, 3},
		{"msteams_notify_webhook_items_dropped_total", map[string]string{"endpoint": "changes", "reason": "client_state"}, 2},
		{"msteams_notify_delivery_dms_total", nil, 2},
		{"msteams_notify_delivery_delay_seconds", nil, 2},
		{"msteams_notify_delivery_skipped_total", map[string]string{"reason": "active_in_teams"}, 1},
		{"msteams_notify_delivery_updates_total", map[string]string{"kind": "edited"}, 1},
		{"msteams_notify_delivery_content_fallbacks_total", map[string]string{"reason": "decrypt_failed"}, 1},
		{"msteams_notify_attach_files_total", map[string]string{"kind": "image", "problem": ""}, 1},
		{"msteams_notify_attach_files_total", map[string]string{"kind": "file", "problem": "too_large"}, 1},
		{"msteams_notify_attach_followups_total", nil, 1},
		{"msteams_notify_attach_followup_files_total", nil, 3},
		{"msteams_notify_attach_followups_refused_total", nil, 1},
		{"msteams_notify_tokens_refreshed_total", nil, 1},
		{"msteams_notify_tokens_revoked_total", map[string]string{"reason": "invalid_grant"}, 1},
		{"msteams_notify_subscription_renewals_total", nil, 1},
		{"msteams_notify_subscription_recreations_total", map[string]string{"reason": "removed"}, 1},
	} {
		assert.Equal(t, c.want, mustValue(t, fams, c.name, c.labels), "%s%v", c.name, c.labels)
	}
}

func TestFreeTextLabelsAreBounded(t *testing.T) {
	m := metrics.New("test")
	for i := range 200 {
		m.TokenRevoked(fmt.Sprintf("reason-%d", i))
	}
	f := scrape(t, m)["msteams_notify_tokens_revoked_total"]
	require.NotNil(t, f)
	assert.LessOrEqual(t, len(f.GetMetric()), 51, "at most 50 distinct values plus other")
	assert.Equal(t, 150.0, mustValue(t, scrape(t, m), "msteams_notify_tokens_revoked_total", map[string]string{"reason": "other"}))
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *metrics.Metrics
	m.ItemsAccepted("changes", 1)
	m.JobProcessed("changes", time.Second)
	m.Delivered(time.Second)
	m.TokenRevoked("x")
	m.SetClientSecretExpiry(time.Now())
	assert.Nil(t, m.DBTracer())
	assert.Equal(t, http.DefaultTransport, m.GraphTransport(nil))
}

// fakeAPI answers the few plugin-API calls exercised here; GetPost fails like a missing post.
type fakeAPI struct{ metrics.MattermostAPI }

func (fakeAPI) CreatePost(p *model.Post) (*model.Post, *model.AppError) { return p, nil }
func (fakeAPI) GetPost(string) (*model.Post, *model.AppError) {
	return nil, model.NewAppError("GetPost", "app.post.get.app_error", nil, "", http.StatusNotFound)
}

func TestInstrumentedAPICountsCallsByMethodAndOutcome(t *testing.T) {
	m := metrics.New("test")
	api := m.WrapAPI(fakeAPI{})
	_, appErr := api.CreatePost(&model.Post{Message: "hi"})
	require.Nil(t, appErr)
	_, appErr = api.CreatePost(&model.Post{Message: "hi"})
	require.Nil(t, appErr)
	_, appErr = api.GetPost("p1")
	require.NotNil(t, appErr)
	assert.Equal(t, http.StatusNotFound, appErr.StatusCode, "errors are passed through unchanged")

	fams := scrape(t, m)
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_plugin_api_calls_total", map[string]string{"method": "CreatePost", "outcome": "ok"}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_plugin_api_calls_total", map[string]string{"method": "GetPost", "outcome": "error"}))
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_plugin_api_call_duration_seconds", map[string]string{"method": "CreatePost"}))
}
