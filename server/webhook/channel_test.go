package webhook

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// channelNote is a plain channel message notification for resource.
func channelNote(subscription, resource string) map[string]any {
	return note(subscription, secret, "x", "y", tenantA, map[string]any{"resource": resource, "resourceData": nil})
}

func TestChannelMessagesAreKeptOnlyWhileTheSettingIsOn(t *testing.T) {
	on := false
	f := newFixture(t, nil, func(o *Options) { o.ChannelMessages = func() bool { return on } })
	post1 := channelNote("s", "teams('t1')/channels('19:ch@thread.tacv2')/messages('100')")
	reply := channelNote("s", "teams('t1')/channels('19:ch@thread.tacv2')/messages('100')/replies('101')")
	body := batchJSON(t, []map[string]any{post1, reply}, nil)

	rec := post(f.changes, "/", body)
	assert.Equal(t, http.StatusAccepted, rec.Code, "acknowledged, so Graph does not retry")
	assert.Empty(t, f.sink.items, "setting off: not stored")
	assert.Equal(t, 2, f.metrics.dropped["changes/unsupported_resource"], "setting off: counted")

	on = true
	rec = post(f.changes, "/", body)
	assert.Equal(t, http.StatusAccepted, rec.Code)
	require.Len(t, f.sink.items, 2)
	assert.Equal(t, KindChannelMessage, f.sink.items[0].Kind)
	assert.Equal(t, "t1", f.sink.items[0].TeamID)
	assert.Equal(t, "19:ch@thread.tacv2", f.sink.items[0].ChannelID)
	assert.Equal(t, "100", f.sink.items[0].MessageID)
	assert.Equal(t, "101", f.sink.items[1].ReplyID)
	for _, it := range f.sink.items {
		assert.Empty(t, it.ClientState, "the secret never reaches the sink")
	}
}

func TestChannelMessagesGetTheChatTrustChecks(t *testing.T) {
	f := newFixture(t, nil, func(o *Options) {
		o.ChannelMessages = func() bool { return true }
		o.Subscriptions = SubscriptionFunc(func(_ context.Context, id string) bool { return id == "ours" })
		o.TenantID = func() string { return tenantA }
	})
	res := "teams('t1')/channels('19:ch@thread.tacv2')/messages('1')"
	forgedSub := channelNote("forged", res)
	forgedState := note("ours", forgedSecret, "x", "y", tenantA, map[string]any{"resource": res, "resourceData": nil})
	otherTenant := note("ours", secret, "x", "y", tenantB, map[string]any{"resource": res, "resourceData": nil})
	good := channelNote("ours", res)

	rec := post(f.changes, "/", batchJSON(t, []map[string]any{forgedSub, forgedState, otherTenant, good}, nil))
	assert.Equal(t, http.StatusAccepted, rec.Code)
	require.Len(t, f.sink.items, 1)
	assert.Equal(t, "ours", f.sink.items[0].SubscriptionID)
	assert.Equal(t, 1, f.metrics.dropped["changes/unknown_subscription"])
	assert.Equal(t, 1, f.metrics.dropped["changes/client_state"])
	assert.Equal(t, 1, f.metrics.dropped["changes/wrong_tenant"])
}
