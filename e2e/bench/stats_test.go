package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSummarizeUsesNearestRank(t *testing.T) {
	hundred := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one sample is every percentile", []time.Duration{7 * time.Millisecond}, Summary{N: 1, P50MS: 7, P99MS: 7, MaxMS: 7}},
		{"hundred samples, unsorted", hundred, Summary{N: 100, P50MS: 50, P99MS: 99, MaxMS: 100}},
		{"fractions of a millisecond are kept", []time.Duration{1500 * time.Microsecond}, Summary{N: 1, P50MS: 1.5, P99MS: 1.5, MaxMS: 1.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Summarize(tc.in))
		})
	}
}

func TestLatenciesAreSafeForConcurrentWriters(t *testing.T) {
	var l Latencies
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func() {
			for i := 0; i < 250; i++ {
				l.Add(time.Millisecond)
			}
			done <- struct{}{}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
	assert.Equal(t, 1000, l.Summary().N)
	l.Reset()
	assert.Equal(t, 0, l.Summary().N)
}
