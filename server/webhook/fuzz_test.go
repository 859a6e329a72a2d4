package webhook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseChanges: any body either parses or yields ErrMalformed; never a panic, and a chat item always has both ids.
func FuzzParseChanges(f *testing.F) {
	f.Add(`{"value":[{"subscriptionId":"s","changeType":"created","clientState":"c","resource":"chats('19:a@thread.v2')/messages('1')","tenantId":"t"}]}`)
	f.Add(`{"value":[{"resource":"teams('t')/channels('c')/messages('1')/replies('2')","encryptedContent":{"data":"x"}}],"validationTokens":["a"]}`)
	f.Add(`{"value":[{"resource":"x","resourceData":{"@odata.id":"chats/19%3Aa/messages/1"}}]}`)
	f.Add(`{"value":[{"lifecycleEvent":"missed","subscriptionExpirationDateTime":"2026-01-01T00:00:00.1234567+01:00"}]}`)
	f.Add(`{"value":null}`)
	f.Add(`{`)
	f.Add(``)
	f.Add(`{"value":[{"resource":"chats('it''s')/messages('%41')"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		b, err := ParseChanges([]byte(body))
		if err != nil {
			return
		}
		for _, it := range b.Items {
			if it.Kind == KindChatMessage && (it.ChatID == "" || it.MessageID == "") {
				t.Fatalf("chat item without ids: %+v", it)
			}
		}
		if _, err := ParseLifecycle([]byte(body)); err != nil {
			t.Fatalf("lifecycle parser refused a body the change parser took: %v", err)
		}
	})
}

// FuzzParseResource checks the resource grammar on its own.
func FuzzParseResource(f *testing.F) {
	for _, s := range []string{
		"chats('19:a@thread.v2')/messages('1')", "chats/19%3Aa/messages/1", "teams('t')/channels('c')/messages('1')",
		"users('u')/chats('c')/messages('m')", "me/chats('c')/messages('m')", "chats('a''b')/messages(1)", "(((", "/'/'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResource(s)
		if err != nil && r.Kind != KindUnknown {
			t.Fatalf("error with kind %q", r.Kind)
		}
		if err == nil && r.Kind == KindChatMessage && (r.ChatID == "" || r.MessageID == "") {
			t.Fatalf("chat message without ids: %+v", r)
		}
	})
}

// FuzzChangesHandler: whatever the body, the handler answers 202, 400 or 413 and stores only verified chat items.
func FuzzChangesHandler(f *testing.F) {
	f.Add(`{"value":[{"clientState":"` + secret + `","resource":"chats('a')/messages('1')"}]}`)
	f.Add(`{"value":[{"clientState":"nope","resource":"chats('a')/messages('1')"}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		fx := newFixture(t, nil, func(o *Options) { o.MaxBodyBytes = 4096 })
		rec := httptest.NewRecorder()
		fx.changes.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
		switch rec.Code {
		case http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		for _, it := range fx.sink.items {
			if it.ClientState != "" || it.Kind != KindChatMessage {
				t.Fatalf("stored %+v", it)
			}
		}
	})
}
