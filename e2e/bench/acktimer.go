package bench

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// AckTimer wraps the transport graphsim posts change notifications with, and times every POST to the plugin's
// /changes route from the first byte sent to the response headers: the acknowledgement latency Graph sees.
// Lifecycle posts and validation handshakes are not timed.
type AckTimer struct {
	Next      http.RoundTripper
	Latencies Latencies
	posts     atomic.Int64
	failures  atomic.Int64
}

// RoundTrip implements http.RoundTripper.
func (a *AckTimer) RoundTrip(r *http.Request) (*http.Response, error) {
	timed := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/changes") && r.URL.Query().Get("validationToken") == ""
	start := time.Now()
	resp, err := a.Next.RoundTrip(r)
	if !timed {
		return resp, err
	}
	a.posts.Add(1)
	if err != nil || resp.StatusCode/100 != 2 {
		a.failures.Add(1)
		return resp, err
	}
	a.Latencies.Add(time.Since(start))
	return resp, err
}

// Posts is the number of notification POSTs made; Failures those not answered 2xx.
func (a *AckTimer) Posts() int64    { return a.posts.Load() }
func (a *AckTimer) Failures() int64 { return a.failures.Load() }

// Reset starts a new measurement window.
func (a *AckTimer) Reset() {
	a.Latencies.Reset()
	a.posts.Store(0)
	a.failures.Store(0)
}
