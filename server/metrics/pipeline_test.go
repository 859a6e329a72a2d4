package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

type quietLogger struct{}

func (quietLogger) LogDebug(string, ...any) {}
func (quietLogger) LogWarn(string, ...any)  {}
func (quietLogger) LogError(string, ...any) {}

// A notification batch posted to the real /changes handler, stored by the real inbox sink in PostgreSQL, shows
// up as accepted and dropped items and, on the next scrape, as inbox depth.
func TestWebhookIntakeIsCountedAndFillsTheInboxGauge(t *testing.T) {
	st := storetest.NewStore(t)
	m := metrics.New("test")
	_, err := m.NewCollector(metrics.CollectorOptions{Stats: st, Queues: []string{inbox.QueueChanges}})
	require.NoError(t, err)

	h, err := webhook.NewChangesHandler(inbox.NewSink(st), nil, webhook.Options{
		ClientStates: webhook.ClientStateFunc(func(_, cs string) bool { return cs == "ours" }),
		Logger:       quietLogger{},
		Metrics:      m,
	})
	require.NoError(t, err)

	item := func(msg, clientState string) string {
		return `{"subscriptionId":"sub-1","changeType":"created","clientState":"` + clientState + `",` +
			`"resource":"chats('19:abc@thread.v2')/messages('` + msg + `')","tenantId":"` + simTenant + `",` +
			`"subscriptionExpirationDateTime":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`
	}
	body := `{"value":[` + item("1001", "ours") + `,` + item("1002", "ours") + `,` + item("1003", "forged") + `]}`
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/changes", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())

	fams := scrape(t, m)
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_webhook_items_accepted_total", map[string]string{"endpoint": webhook.EndpointChanges}))
	assert.Equal(t, 1.0, mustValue(t, fams, "msteams_notify_webhook_items_dropped_total",
		map[string]string{"endpoint": webhook.EndpointChanges, "reason": webhook.DropClientState}))
	assert.Equal(t, 2.0, mustValue(t, fams, "msteams_notify_inbox_depth", map[string]string{"queue": inbox.QueueChanges}))
}
