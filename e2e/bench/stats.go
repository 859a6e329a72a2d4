// Package bench drives the whole stack (graphsim, a real Mattermost server, PostgreSQL and the plugin) at fixed
// offered rates and in bursts, and measures what users and administrators care about: webhook acknowledgement
// latency, delivery delay, throughput, Graph calls per delivered DM, plugin memory and CPU, and an exact count of
// lost and duplicated DMs. It is run by `make bench` and `make bench-faults` (see bench.mk).
package bench

import (
	"math"
	"sort"
	"sync"
	"time"
)

// Latencies collects durations from many goroutines.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one observation.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Reset forgets every observation (between runs).
func (l *Latencies) Reset() {
	l.mu.Lock()
	l.d = nil
	l.mu.Unlock()
}

// Summary of the observations so far.
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	d := append([]time.Duration(nil), l.d...)
	l.mu.Unlock()
	return Summarize(d)
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	N     int     `json:"n"`
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}

// Summarize computes nearest-rank percentiles: p99 of 100 samples is the 99th smallest, so one slow outlier
// in a hundred does not hide.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return Summary{N: len(d), P50MS: ms(rank(d, 50)), P99MS: ms(rank(d, 99)), MaxMS: ms(d[len(d)-1])}
}

func rank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*100) / 100 }
