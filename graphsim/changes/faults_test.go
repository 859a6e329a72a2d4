package changes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDropFault(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.SetFaults(Faults{DropPercent: 100})
	for i := range 3 {
		h.m.Publish(msgEvent("created", chat1, fmt.Sprint(i)))
	}
	h.m.SetFaults(Faults{})
	h.m.Publish(msgEvent("created", chat1, "marker"))
	assert.Equal(t, "marker", rcv.nextItems(t, 1)[0].ResourceData.ID)
	assert.Equal(t, int64(3), h.m.Stats().ItemsDropped)
}

func TestDropFaultIsAShare(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.SetFaults(Faults{DropPercent: 50})
	for i := range 200 {
		h.m.Publish(msgEvent("created", chat1, fmt.Sprint(i)))
	}
	dropped := h.m.Stats().ItemsDropped
	assert.InDelta(t, 100, dropped, 30, "about half of the items are dropped (seeded dice)")
	eventually(t, func() bool { return h.m.Stats().ItemsDelivered == 200-dropped }, "the rest arrive")
}

func TestDuplicateFaultResendsInALaterPost(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.SetFaults(Faults{DuplicatePercent: 100})
	h.m.Publish(msgEvent("updated", chat1, "1"))

	first, second := rcv.next(t), rcv.next(t)
	require.Len(t, first.Value, 1)
	require.Len(t, second.Value, 1)
	assert.Equal(t, first.Value[0], second.Value[0])
	assert.Equal(t, id, second.Value[0].SubscriptionID)
	assert.Equal(t, int64(1), h.m.Stats().ItemsDuplicated)
}

func TestDelayFault(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.SetFaults(Faults{Delay: 300 * time.Millisecond})
	start := time.Now()
	h.m.Publish(msgEvent("created", chat1, "1"))
	p := rcv.next(t)
	assert.GreaterOrEqual(t, p.at.Sub(start), 300*time.Millisecond)
}

func TestReorderFault(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.SetFaults(Faults{ReorderWindow: 300 * time.Millisecond})
	var sent []string
	for i := range 6 {
		sent = append(sent, fmt.Sprint(i))
		h.m.Publish(msgEvent("created", chat1, fmt.Sprint(i)))
	}
	var got []string
	for _, n := range rcv.nextItems(t, 6) {
		got = append(got, n.ResourceData.ID)
	}
	assert.NotEqual(t, sent, got, "the order is permuted")
	sort.Strings(got)
	assert.Equal(t, sent, got, "nothing is lost")
}

func TestControlHandler(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))
	mux := http.NewServeMux()
	mux.Handle("/_sim/changes/", h.m.ControlHandler())
	ctl := httptest.NewServer(mux)
	t.Cleanup(ctl.Close)

	send := func(method, path string, body any) (int, []byte) {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			require.NoError(t, json.NewEncoder(&buf).Encode(body))
		}
		req, err := http.NewRequest(method, ctl.URL+"/_sim/changes/"+path, &buf)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.Bytes()
	}

	status, _ := send(http.MethodPut, "faults", map[string]any{"dropPercent": 10, "duplicatePercent": 20, "delayMs": 30, "reorderWindowMs": 40})
	require.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, Faults{DropPercent: 10, DuplicatePercent: 20, Delay: 30 * time.Millisecond, ReorderWindow: 40 * time.Millisecond}, h.m.Faults())
	status, body := send(http.MethodGet, "faults", nil)
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"dropPercent":10,"duplicatePercent":20,"delayMs":30,"reorderWindowMs":40}`, string(body))
	send(http.MethodPut, "faults", map[string]any{})

	status, _ = send(http.MethodPost, "lifecycle", map[string]any{"subscriptionId": id, "lifecycleEvent": "reauthorizationRequired"})
	require.Equal(t, http.StatusAccepted, status)
	assert.Equal(t, "reauthorizationRequired", rcv.next(t).Value[0].LifecycleEvent)
	status, _ = send(http.MethodPost, "lifecycle", map[string]any{"subscriptionId": "nope", "lifecycleEvent": "subscriptionRemoved"})
	assert.Equal(t, http.StatusBadRequest, status)

	status, _ = send(http.MethodPut, "validation-tokens", map[string]any{"null": true})
	require.Equal(t, http.StatusNoContent, status)
	assert.True(t, h.m.nullValidationTokens())

	status, _ = send(http.MethodPut, "settings", map[string]any{"retryBaseMs": 5, "quotaPerTenant": 3})
	require.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, 5*time.Millisecond, h.m.Settings().RetryBase)
	assert.Equal(t, 3, h.m.Settings().QuotaPerTenant)
	assert.Equal(t, 3*time.Second, h.m.Settings().DeliveryTimeout, "omitted settings take Graph's defaults")

	eventually(t, func() bool { return h.m.Stats().ItemsDelivered == 1 }, "the lifecycle item is counted")
	status, body = send(http.MethodGet, "stats", nil)
	require.Equal(t, http.StatusOK, status)
	var st Stats
	require.NoError(t, json.Unmarshal(body, &st))
	assert.Equal(t, int64(2), st.Handshakes)
	assert.Equal(t, int64(1), st.ItemsDelivered)

	status, body = send(http.MethodGet, "subscriptions", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), id)

	status, _ = send(http.MethodDelete, "stats", nil)
	require.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, Stats{}, h.m.Stats())
}
