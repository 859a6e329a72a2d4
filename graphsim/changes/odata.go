package changes

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// writeError writes Graph's OData error envelope.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	reqID := newUUID()
	body := map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": message,
			"innerError": map[string]any{
				"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
				"request-id":        reqID,
				"client-request-id": clientRequestID(r, reqID),
			},
		},
	}
	w.Header().Set("request-id", reqID)
	writeJSON(w, status, body)
}

func clientRequestID(r *http.Request, fallback string) string {
	if r != nil {
		if id := r.Header.Get("client-request-id"); id != "" {
			return id
		}
	}
	return fallback
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// graphTime renders a timestamp the way Graph does in subscription bodies: UTC, 7 fractional digits.
func graphTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

// notificationTime renders subscriptionExpirationDateTime as notifications carry it: with an explicit offset.
func notificationTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000-07:00")
}
