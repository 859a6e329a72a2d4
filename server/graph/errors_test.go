package graph

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAPIErrorFromODataAnswersThroughTheSDK(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		code       string
		retryAfter string
		want       APIError
		check      func(error) bool
	}{
		{"unauthorized", 401, "InvalidAuthenticationToken", "", APIError{Status: 401, Code: "InvalidAuthenticationToken", Message: "Access token has expired."}, IsUnauthorized},
		{"forbidden", 403, "Forbidden", "", APIError{Status: 403, Code: "Forbidden", Message: "Missing role permissions."}, IsForbidden},
		{"not found", 404, "NotFound", "", APIError{Status: 404, Code: "NotFound", Message: "Chat not found."}, IsNotFound},
		{"throttled", 429, "TooManyRequests", "7", APIError{Status: 429, Code: "TooManyRequests", Message: "Slow down.", RetryAfter: 7 * time.Second}, IsThrottled},
		{"unavailable", 503, "ServiceUnavailable", "2.5", APIError{Status: 503, Code: "ServiceUnavailable", Message: "Try later.", RetryAfter: 2500 * time.Millisecond}, IsThrottled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := newFakeCloud(t)
			cloud.handle("GET /chats/19:abc@thread.v2", func(w http.ResponseWriter, _ *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				writeODataError(w, tc.status, tc.code, tc.want.Message)
			})
			// Retries off, so the first answer is the one reported (the SDK would otherwise wait Retry-After).
			client := cloud.factory(Options{MaxRetries: -1}).App()

			_, err := client.GetChat(context.Background(), "19:abc@thread.v2")
			require.Error(t, err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.want, *apiErr)
			assert.True(t, tc.check(err))
			assert.Equal(t, tc.status, StatusOf(err))
			assert.Equal(t, tc.want.RetryAfter, RetryAfterOf(err))
			matches := 0
			for _, helper := range []func(error) bool{IsUnauthorized, IsForbidden, IsNotFound, IsThrottled} {
				if helper(err) {
					matches++
				}
			}
			assert.Equal(t, 1, matches, "exactly one classification applies")
			assert.Contains(t, err.Error(), "get chat with members: graph failed with status")
		})
	}
}

func TestSDKRetriesThrottlingBeforeReporting(t *testing.T) {
	cloud := newFakeCloud(t)
	var calls atomic.Int32
	cloud.handle("GET /chats/19:c@thread.v2", func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			writeODataError(w, http.StatusTooManyRequests, "TooManyRequests", "slow down")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "19:c@thread.v2", "chatType": "group", "members": []any{}})
	})
	chat, err := cloud.factory(Options{}).App().GetChat(context.Background(), "19:c@thread.v2")
	require.NoError(t, err)
	assert.Equal(t, "group", chat.Type)
	assert.Equal(t, int32(2), calls.Load())
}

func TestLongRetryAfterIsReturnedNotSlept(t *testing.T) {
	cloud := newFakeCloud(t)
	var calls atomic.Int32
	cloud.handle("GET /chats/19:c@thread.v2", func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "60")
		writeODataError(w, http.StatusTooManyRequests, "TooManyRequests", "slow down")
	})
	_, err := cloud.factory(Options{}).App().GetChat(context.Background(), "19:c@thread.v2")
	require.Error(t, err)
	assert.True(t, IsThrottled(err))
	assert.Equal(t, 60*time.Second, RetryAfterOf(err))
	assert.Equal(t, int32(1), calls.Load(), "a wait beyond MaxRetryWait is left to the caller")
}

func TestErrorHelpersOnOtherErrors(t *testing.T) {
	plain := errors.New("boom")
	for _, f := range []func(error) bool{IsUnauthorized, IsForbidden, IsNotFound, IsThrottled} {
		assert.False(t, f(plain))
		assert.False(t, f(nil))
	}
	assert.Zero(t, StatusOf(plain))
	assert.Zero(t, RetryAfterOf(plain))
	wrapped := errors.Wrap(errors.Wrap(&APIError{Status: 404}, "inner"), "outer")
	assert.True(t, IsNotFound(wrapped))
	// A token endpoint outage is not the user's fault: it must not look like revoked credentials.
	assert.False(t, IsUnauthorized(&APIError{Status: 500, TokenError: true}))
	assert.True(t, IsUnauthorized(&APIError{Status: 400, Code: "invalid_grant", TokenError: true}))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"10", 10 * time.Second},
		{" 1.5 ", 1500 * time.Millisecond},
		{"-3", 0},
		{"Thu, 01 Jan 2026 12:00:30 GMT", 30 * time.Second},
		{"Thu, 01 Jan 2026 11:00:00 GMT", 0},
		{"soon", 0},
	} {
		assert.Equal(t, tc.want, parseRetryAfter(tc.in, now), tc.in)
	}
}
