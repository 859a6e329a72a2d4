package inbox_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

// BenchmarkSinkAccept measures what the webhook waits for before answering Graph: one INSERT of a batch.
func BenchmarkSinkAccept(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			s := storetest.NewStore(b)
			sink := inbox.NewSink(s)
			ctx := context.Background()
			enc := &richnotify.EncryptedContent{Data: string(make([]byte, 2048)), DataKey: string(make([]byte, 344)), DataSignature: "sig", EncryptionCertificateID: "cert"}
			batch := make([]webhook.Item, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j] = chatItem("created", "19:bench@thread.v2", strconv.Itoa(i*n+j))
					batch[j].EncryptedContent = enc
				}
				if err := sink.Accept(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimComplete measures the per-job database cost of a worker: claim one, delete it.
func BenchmarkClaimComplete(b *testing.B) {
	s := storetest.NewStore(b)
	ctx := context.Background()
	enqueueN(b, s, "bench", b.N)
	now := time.Now().Add(time.Minute)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		items, err := s.ClaimInbox(ctx, "bench", 1, now, time.Minute)
		if err != nil || len(items) != 1 {
			b.Fatalf("claim: %v (%d items)", err, len(items))
		}
		if err := s.CompleteInbox(ctx, items[0].ID); err != nil {
			b.Fatal(err)
		}
	}
}
