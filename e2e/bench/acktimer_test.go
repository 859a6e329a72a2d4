package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAckTimerTimesOnlyNotificationPosts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		time.Sleep(2 * time.Millisecond) // a measurable answer time, not a timing assertion
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	timer := &AckTimer{Next: http.DefaultTransport}
	client := &http.Client{Transport: timer}

	do := func(method, path string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	do(http.MethodPost, "/plugins/x/changes")
	do(http.MethodPost, "/plugins/x/changes")
	do(http.MethodPost, "/plugins/x/changes?validationToken=abc") // handshake
	do(http.MethodPost, "/plugins/x/lifecycle")
	do(http.MethodGet, "/plugins/x/changes")
	do(http.MethodPost, "/plugins/x/changes?fail=1")

	assert.EqualValues(t, 3, timer.Posts())
	assert.EqualValues(t, 1, timer.Failures())
	s := timer.Latencies.Summary()
	assert.Equal(t, 2, s.N)
	assert.GreaterOrEqual(t, s.P50MS, 2.0)
	timer.Reset()
	assert.Zero(t, timer.Posts())
	assert.Zero(t, timer.Latencies.Summary().N)
}
