package changes

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChangeNotificationItemFields(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))

	h.m.Publish(msgEvent("created", chat1, "1700000000000", userU))

	p := rcv.next(t)
	assert.Equal(t, "/changes", p.path)
	assert.Equal(t, "src=graph", p.rawQuery, "the notificationUrl query string is echoed")
	assert.True(t, strings.HasPrefix(p.contentType, "application/json"))
	require.Len(t, p.Value, 1)
	n := p.Value[0]
	assert.Equal(t, id, n.SubscriptionID)
	assert.Equal(t, "2026-11-27T12:00:00.0000000+00:00", n.SubscriptionExpirationDateTime)
	assert.Equal(t, "created", n.ChangeType)
	assert.Equal(t, "s3cret", n.ClientState)
	assert.Equal(t, "chats('19:abc123@thread.v2')/messages('1700000000000')", n.Resource)
	require.NotNil(t, n.ResourceData)
	assert.Equal(t, "1700000000000", n.ResourceData.ID)
	assert.Equal(t, "#Microsoft.Graph.chatMessage", n.ResourceData.ODataType)
	assert.Equal(t, n.Resource, n.ResourceData.ODataID)
	assert.Equal(t, tenantA, n.TenantID)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(p.raw, &raw))
	assert.NotContains(t, raw, "validationTokens", "only rich notifications carry validation tokens")
	assert.NotContains(t, raw["value"].([]any)[0], "encryptedContent")
}

func TestSubscriptionsMatchTheirResources(t *testing.T) {
	h := newHarness(t)
	tenantWide, perUser, perChat := newReceiver(t), newReceiver(t), newReceiver(t)
	h.mustCreate(t, "app", h.subBodyFor(tenantWide))
	b := h.subBodyFor(perUser)
	b["resource"] = "/users/" + userU + "/chats/getAllMessages"
	h.mustCreate(t, "user", b)
	b = h.subBodyFor(perChat)
	b["resource"] = "/chats/" + chat1 + "/messages"
	b["changeType"] = "created"
	h.mustCreate(t, "app2", b)

	h.m.Publish(msgEvent("created", chat1, "1", userU, "other"))
	h.m.Publish(msgEvent("updated", chat1, "2", userU, "other"))
	h.m.Publish(msgEvent("created", chat2, "3", "other"))
	h.m.Publish(Event{ChangeType: "created", TenantID: tenantB, ChatID: chat1, MessageID: "4", MemberUserIDs: []string{userU}})
	h.m.Publish(msgEvent("deleted", chat1, "5", userU))
	h.m.Publish(msgEvent("created", chat1, "end", userU))

	received := func(rcv *receiver) []string {
		var ids []string
		for len(ids) == 0 || ids[len(ids)-1] != "end" {
			for _, n := range rcv.next(t).Value {
				ids = append(ids, n.ResourceData.ID)
			}
		}
		return ids
	}
	assert.Equal(t, []string{"1", "2", "3", "5", "end"}, received(tenantWide), "tenant-wide sees every chat of its tenant")
	assert.Equal(t, []string{"1", "2", "5", "end"}, received(perUser), "per-user sees chats the user is a member of")
	assert.Equal(t, []string{"1", "end"}, received(perChat), "per-chat sees its chat and changeTypes only")
}

func TestFailedDeliveriesAreRetriedWithBackoff(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	rcv.setNotify(func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1, 2:
			w.WriteHeader(http.StatusInternalServerError)
		case 3:
			<-r.Context().Done() // slower than the delivery timeout
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.Publish(msgEvent("created", chat1, "42"))

	posts := []post{rcv.next(t), rcv.next(t), rcv.next(t), rcv.next(t)}
	for _, p := range posts {
		require.Len(t, p.Value, 1)
		assert.Equal(t, "42", p.Value[0].ResourceData.ID, "each retry resends the same item")
	}
	s := h.m.Settings()
	assert.GreaterOrEqual(t, posts[1].at.Sub(posts[0].at), s.RetryBase)
	assert.GreaterOrEqual(t, posts[2].at.Sub(posts[1].at), 2*s.RetryBase, "the delay doubles")
	assert.GreaterOrEqual(t, posts[3].at.Sub(posts[2].at), s.DeliveryTimeout+4*s.RetryBase)

	eventually(t, func() bool { return h.m.Stats().Succeeded == 1 }, "delivery succeeds")
	st := h.m.Stats()
	assert.Equal(t, int64(4), st.Attempts)
	assert.Equal(t, int64(3), st.Failed)
	assert.Equal(t, int64(1), st.Timeouts)
	assert.Equal(t, int64(1), st.ItemsDelivered)
}

func TestRetriesEnd(t *testing.T) {
	t.Run("after RetryFor has passed", func(t *testing.T) {
		h := newHarness(t)
		s := h.m.Settings()
		s.RetryFor = 30 * time.Minute
		h.m.SetSettings(s)
		rcv := newReceiver(t)
		rcv.setNotify(func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusServiceUnavailable) })
		h.mustCreate(t, "app", h.subBodyFor(rcv))
		h.m.Publish(msgEvent("created", chat1, "1"))
		rcv.next(t)
		h.clock.Advance(31 * time.Minute)
		eventually(t, func() bool { return h.m.Stats().ItemsDiscarded == 1 }, "the item is discarded")
	})
	t.Run("after MaxAttempts", func(t *testing.T) {
		h := newHarness(t)
		s := h.m.Settings()
		s.MaxAttempts = 3
		h.m.SetSettings(s)
		rcv := newReceiver(t)
		rcv.setNotify(func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusBadGateway) })
		h.mustCreate(t, "app", h.subBodyFor(rcv))
		h.m.Publish(msgEvent("created", chat1, "1"))
		eventually(t, func() bool { return h.m.Stats().ItemsDiscarded == 1 }, "the item is discarded")
		assert.Equal(t, int64(3), h.m.Stats().Attempts)
	})
}

func TestExpiryEndsDelivery(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	rcv.setNotify(func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	body := h.subBodyFor(rcv)
	body["expirationDateTime"] = h.in(50 * time.Minute)
	h.mustCreate(t, "app", body)
	s := h.m.Settings()
	s.RetryBase = 300 * time.Millisecond
	h.m.SetSettings(s)

	h.m.Publish(msgEvent("created", chat1, "queued-before-expiry"))
	rcv.next(t) // the first attempt fails; the retry waits
	h.clock.Advance(50 * time.Minute)
	eventually(t, func() bool { return h.m.Stats().ItemsExpired == 1 }, "the retried item dies with its subscription")

	h.m.Publish(msgEvent("created", chat1, "published-after-expiry"))
	b := h.subBodyFor(rcv)
	b["resource"] = "/chats/" + chat2 + "/messages"
	h.mustCreate(t, "app", b)
	h.m.Publish(msgEvent("created", chat2, "marker"))
	items := rcv.nextItems(t, 1)
	assert.Equal(t, "marker", items[0].ResourceData.ID, "nothing else reached the endpoint")
}

func TestDeleteEndsDelivery(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	rcv.setNotify(func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusInternalServerError) })
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))
	h.m.Publish(msgEvent("created", chat1, "1"))
	rcv.next(t)
	status, _ := h.call(t, "app", http.MethodDelete, "/v1.0/subscriptions/"+id, nil)
	require.Equal(t, http.StatusNoContent, status)
	eventually(t, func() bool { return h.m.Stats().ItemsExpired == 1 }, "the retried item dies with its subscription")
}
