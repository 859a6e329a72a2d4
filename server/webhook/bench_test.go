package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type discardSink struct{ n int }

func (s *discardSink) Accept(_ context.Context, items []Item) error { s.n += len(items); return nil }

func BenchmarkChangesHandler(b *testing.B) {
	for _, size := range []int{1, 20} {
		b.Run(fmt.Sprintf("items=%d", size), func(b *testing.B) {
			items := make([]map[string]any, size)
			for i := range items {
				items[i] = note("sub", secret, "19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_5031bb31-22c0-4f6f-9f73-91d34ab2b32d@unq.gbl.spaces",
					fmt.Sprint(1612289765949+i), tenantA, nil)
			}
			body := batchJSON(b, items, nil)
			sink := &discardSink{}
			h, err := NewChangesHandler(sink, nil, Options{ClientStates: Secrets{secret}, Logger: &recLogger{}})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/changes", strings.NewReader(body)))
				if rec.Code != http.StatusAccepted {
					b.Fatalf("status %d", rec.Code)
				}
			}
			if sink.n == 0 {
				b.Fatal("sink got nothing")
			}
		})
	}
}
