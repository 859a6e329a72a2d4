package changes

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func heldItems(m *Manager, id string) int {
	for _, s := range m.Subscriptions() {
		if s.ID == id {
			return s.HeldItems
		}
	}
	return -1
}

func TestReauthorizationRequiredPausesDeliveryUntilTheAppActs(t *testing.T) {
	for name, act := range map[string]func(h *harness, id string) int{
		"reauthorize": func(h *harness, id string) int {
			status, _ := h.call(t, "app", http.MethodPost, "/v1.0/subscriptions/"+id+"/reauthorize", nil)
			return status
		},
		"PATCH": func(h *harness, id string) int {
			status, _ := h.call(t, "app", http.MethodPatch, "/v1.0/subscriptions/"+id, map[string]any{"expirationDateTime": h.in(3 * time.Hour)})
			return status
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			rcv := newReceiver(t)
			id := h.mustCreate(t, "app", h.subBodyFor(rcv))

			require.NoError(t, h.m.FireLifecycle(id, LifecycleReauthorizationRequired))
			p := rcv.next(t)
			assert.Equal(t, "/lifecycle", p.path)
			require.Len(t, p.Value, 1)
			n := p.Value[0]
			assert.Equal(t, id, n.SubscriptionID)
			assert.Equal(t, "reauthorizationRequired", n.LifecycleEvent)
			assert.Equal(t, tenantA, n.TenantID)
			assert.Equal(t, "s3cret", n.ClientState)
			assert.Equal(t, "2026-11-27T12:00:00.0000000+00:00", n.SubscriptionExpirationDateTime)
			var raw struct{ Value []map[string]any }
			require.NoError(t, json.Unmarshal(p.raw, &raw))
			assert.NotContains(t, raw.Value[0], "resource", "lifecycle items carry no resource data")

			h.m.Publish(msgEvent("created", chat1, "during-pause"))
			assert.Equal(t, 1, heldItems(h.m, id), "the item waits for the app")

			require.Equal(t, http.StatusOK, act(h, id))
			items := rcv.nextItems(t, 1)
			assert.Equal(t, "during-pause", items[0].ResourceData.ID)
			assert.Equal(t, 0, heldItems(h.m, id))
		})
	}
}

func TestItemsQueuedBeforeThePauseAreHeldToo(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	rcv.setNotify(func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	s := h.m.Settings()
	s.RetryBase = 200 * time.Millisecond
	h.m.SetSettings(s)
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.Publish(msgEvent("created", chat1, "retrying"))
	rcv.next(t) // failed first attempt
	require.NoError(t, h.m.FireLifecycle(id, LifecycleReauthorizationRequired))
	assert.Equal(t, "reauthorizationRequired", rcv.next(t).Value[0].LifecycleEvent)
	eventually(t, func() bool { return heldItems(h.m, id) == 1 }, "the retried item is held")

	status, _ := h.call(t, "app", http.MethodPost, "/v1.0/subscriptions/"+id+"/reauthorize", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "retrying", rcv.nextItems(t, 1)[0].ResourceData.ID)
}

func TestSubscriptionRemovedDeletesTheSubscription(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))

	require.NoError(t, h.m.FireLifecycle(id, LifecycleSubscriptionRemoved))
	p := rcv.next(t)
	assert.Equal(t, "/lifecycle", p.path)
	assert.Equal(t, "subscriptionRemoved", p.Value[0].LifecycleEvent)
	assert.Equal(t, id, p.Value[0].SubscriptionID)

	status, _ := h.call(t, "app", http.MethodGet, "/v1.0/subscriptions/"+id, nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Error(t, h.m.FireLifecycle(id, LifecycleReauthorizationRequired))
}

func TestFireLifecycleRefusals(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	b := h.subBodyFor(rcv)
	delete(b, "lifecycleNotificationUrl")
	b["expirationDateTime"] = h.in(time.Hour)
	noLifecycle := h.mustCreate(t, "app", b)
	withLifecycle := h.mustCreate(t, "app2", h.subBodyFor(rcv))

	assert.Error(t, h.m.FireLifecycle(noLifecycle, LifecycleReauthorizationRequired), "no URL to send it to")
	assert.Error(t, h.m.FireLifecycle(withLifecycle, "missed"), "missed is never sent for Teams")
	assert.Error(t, h.m.FireLifecycle("no-such-id", LifecycleSubscriptionRemoved))
}
