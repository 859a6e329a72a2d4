package graphsim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// noRetry turns the SDK's RetryHandler off for one request so the test sees
// the throttling answer itself.
func noRetry() *chats.ItemMessagesRequestBuilderGetRequestConfiguration {
	return &chats.ItemMessagesRequestBuilderGetRequestConfiguration{Options: []abs.RequestOption{
		&khttp.RetryHandlerOptions{ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false }},
	}}
}

func retryAfter(t *testing.T, err error) (int, []string) {
	t.Helper()
	status, code, oe := odataErr(t, err)
	assert.Equal(t, "TooManyRequests", code)
	return status, oe.GetResponseHeaders().Get("Retry-After")
}

func TestPerChatMessageListIsThrottledAtOneRequestPerSecond(t *testing.T) {
	e := newEnv(t, withThrottling)
	c := e.appClient(t)
	ctx := context.Background()

	_, err := c.Chats().ByChatId(e.dm).Messages().Get(ctx, noRetry())
	require.NoError(t, err)
	_, err = c.Chats().ByChatId(e.dm).Messages().Get(ctx, noRetry())
	status, ra := retryAfter(t, err)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, []string{"1"}, ra)

	// The limit is per chat: another chat is unaffected.
	_, err = c.Chats().ByChatId(e.group).Messages().Get(ctx, noRetry())
	require.NoError(t, err)

	// A second later the bucket has refilled.
	e.clock.Advance(time.Second)
	_, err = c.Chats().ByChatId(e.dm).Messages().Get(ctx, noRetry())
	require.NoError(t, err)

	// Turned off, the same burst passes.
	e.sim.SetThrottling(false)
	for i := 0; i < 3; i++ {
		_, err = c.Chats().ByChatId(e.dm).Messages().Get(ctx, noRetry())
		require.NoError(t, err)
	}
}

func TestPerTenantLimitThrottlesAcrossChats(t *testing.T) {
	e := newEnv(t, withThrottling)
	c := e.appClient(t)
	// 20 rps per app per tenant on GET /chats/{c}/messages: 21 distinct chats in one instant.
	var ids []string
	for i := 0; i < 21; i++ {
		id, err := e.sim.CreateChat(graphsim.ChatSpec{ChatType: "group", Topic: "t", Members: []string{aliceID, bobID, carolID}})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	for _, id := range ids[:20] {
		_, err := c.Chats().ByChatId(id).Messages().Get(context.Background(), noRetry())
		require.NoError(t, err)
	}
	_, err := c.Chats().ByChatId(ids[20]).Messages().Get(context.Background(), noRetry())
	status, ra := retryAfter(t, err)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, []string{"1"}, ra)
}

func TestInjectedFaults(t *testing.T) {
	const route = "GET /chats/{id}/messages"
	cases := []struct {
		name       string
		fault      graphsim.Fault
		wantStatus int
		wantCode   string
		wantRA     []string
	}{
		{"429 with Retry-After", graphsim.Fault{Route: route, Status: 429, RetryAfter: 42, Count: 1}, 429, "TooManyRequests", []string{"42"}},
		{"503", graphsim.Fault{Route: route, Status: 503, Count: 1}, 503, "ServiceUnavailable", []string{}},
		{"504 by wildcard", graphsim.Fault{Route: "GET /chats/*", Status: 504, Count: 1}, 504, "GatewayTimeout", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.appClient(t)
			e.sim.InjectFault(tc.fault)
			_, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), noRetry())
			status, code, oe := odataErr(t, err)
			assert.Equal(t, tc.wantStatus, status)
			assert.Equal(t, tc.wantCode, code)
			assert.Equal(t, tc.wantRA, oe.GetResponseHeaders().Get("Retry-After"))
			// Count: 1 means the next request passes.
			_, err = c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), noRetry())
			require.NoError(t, err)
		})
	}

	t.Run("SDK retry handler recovers from a counted 503", func(t *testing.T) {
		e := newEnv(t)
		c := e.appClient(t)
		e.sim.InjectFault(graphsim.Fault{Route: route, Status: 503, RetryAfter: 1, Count: 1})
		_, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, 2, e.sim.CallCount(route, "app"))
	})

	t.Run("duration-scoped fault ends", func(t *testing.T) {
		e := newEnv(t)
		c := e.appClient(t)
		e.sim.InjectFault(graphsim.Fault{Route: route, Status: 503, For: time.Minute})
		for i := 0; i < 2; i++ {
			_, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), noRetry())
			status, _, _ := odataErr(t, err)
			assert.Equal(t, 503, status)
		}
		e.clock.Advance(2 * time.Minute)
		_, err := c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), noRetry())
		require.NoError(t, err)
	})

	t.Run("slow answer", func(t *testing.T) {
		e := newEnv(t)
		c := e.appClient(t)
		id := e.sim.InjectFault(graphsim.Fault{Route: route, Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Chats().ByChatId(e.dm).Messages().Get(ctx, noRetry())
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		e.sim.RemoveFault(id)
		_, err = c.Chats().ByChatId(e.dm).Messages().Get(context.Background(), noRetry())
		require.NoError(t, err)
	})
}

func TestCallCountersByRouteAndTokenKind(t *testing.T) {
	e := newEnv(t)
	id, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "x"})
	require.NoError(t, err)
	app := e.appClient(t)
	del := e.delegatedClient(t, aliceID)
	e.sim.ResetCalls()
	_, err = app.Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).Get(context.Background(), nil)
	require.NoError(t, err)
	_, err = del.Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).Get(context.Background(), nil)
	require.NoError(t, err)
	_, err = del.Chats().ByChatId(e.dm).Members().Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, 1, e.sim.CallCount("GET /chats/{id}/messages/{id}", "app"))
	assert.Equal(t, 1, e.sim.CallCount("GET /chats/{id}/messages/{id}", "delegated"))
	assert.Equal(t, 1, e.sim.CallCount("GET /chats/{id}/members"))
	assert.Equal(t, 3, e.sim.GraphCalls(""))
	assert.Equal(t, 2, e.sim.GraphCalls("delegated"))
	e.sim.ResetCalls()
	assert.Equal(t, 0, e.sim.GraphCalls(""))
}
