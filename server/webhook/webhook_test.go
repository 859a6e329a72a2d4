package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/richnotify"
)

func TestHandshakeEchoesTheDecodedTokenVerbatim(t *testing.T) {
	f := newFixture(t, nil)
	tokens := []string{
		"Validation: Testing client application reachability for subscription Request-Id: 6d4f2ae3-1b9e-4c2a-9d3e-0f5b7a8c9d10",
		"a+b=c&d/e?f#g%h",
		"'quoted' \"double\" <tag>",
		"",
	}
	for _, h := range []http.Handler{f.changes, f.life} {
		for _, token := range tokens {
			// The body is not JSON: the handshake must answer before any parsing.
			rec := post(h, "/changes?validationToken="+url.QueryEscape(token), "not json")
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "text/plain", rec.Header().Get("Content-Type"))
			assert.Equal(t, token, rec.Body.String(), "exactly the decoded token, nothing more")
		}
		// %20 and + both decode to a space, as Graph's own URL decoding does.
		rec := post(h, "/changes?validationToken=a%20b+c%2Bd", "")
		assert.Equal(t, "a b c+d", rec.Body.String())
	}
	assert.Zero(t, f.sink.calls)
}

func TestValidationTokenOversizedOrNonASCIIIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	for _, token := range []string{strings.Repeat("a", 1025), "ünïcødé", "a\nb"} {
		rec := post(f.changes, "/changes?validationToken="+url.QueryEscape(token), "")
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Contains(t, rec.Body.String(), "validationToken rejected")
		assert.NotContains(t, rec.Body.String(), token)
	}
	rec := post(f.changes, "/changes?validationToken="+strings.Repeat("a", 1024), "")
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestOnlyPOSTIsAccepted(t *testing.T) {
	f := newFixture(t, nil)
	for _, h := range []http.Handler{f.changes, f.life} {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, "/changes?validationToken=x", nil))
			assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
			assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
		}
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t, nil, func(o *Options) { o.MaxBodyBytes = 1024 })
	big := batchJSON(t, []map[string]any{note("sub", secret, "19:c@thread.v2", "1", tenantA,
		map[string]any{"pad": strings.Repeat("x", 2048)})}, nil)

	for _, h := range []http.Handler{f.changes, f.life} {
		t.Run("declared length", func(t *testing.T) {
			rec := post(h, "/", big)
			assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
			assert.Contains(t, rec.Body.String(), "exceeds the limit of 1024 bytes")
		})
		t.Run("chunked, length unknown", func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
			req.ContentLength = -1
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		})
	}
	assert.Zero(t, f.sink.calls)
	assert.Equal(t, http.StatusAccepted, post(f.changes, "/", `{"value":[]}`).Code, "small bodies pass")
}

func TestMalformedPayloads(t *testing.T) {
	f := newFixture(t, nil)
	for _, body := range []string{``, `   `, `{`, `[]`, `{}`, `{"value":"x"}`, `{"value":[1]}`, `{"value":[{"changeType":3}]}`, `null`} {
		for _, h := range []http.Handler{f.changes, f.life} {
			rec := post(h, "/", body)
			assert.Equal(t, http.StatusBadRequest, rec.Code, "body %q", body)
			assert.Equal(t, "malformed notification payload\n", rec.Body.String(), "no parser details to the caller")
		}
	}
	assert.Zero(t, f.sink.calls)
}

func TestForgedClientStateIsDroppedAndCounted(t *testing.T) {
	f := newFixture(t, nil)
	body := batchJSON(t, []map[string]any{
		note("sub-1", secret, "19:good@thread.v2", "1700000000001", tenantA, nil),
		note("sub-1", forgedSecret, "19:evil@thread.v2", "1700000000002", tenantA, nil),
		note("sub-1", "", "19:evil@thread.v2", "1700000000003", tenantA, nil),
		note("sub-1", secret+"x", "19:evil@thread.v2", "1700000000004", tenantA, nil),
	}, nil)

	rec := post(f.changes, "/", body)
	assert.Equal(t, http.StatusAccepted, rec.Code, "Graph gets 2xx even for forged items")
	require.Len(t, f.sink.items, 1)
	got := f.sink.items[0]
	assert.Equal(t, Item{
		SubscriptionID: "sub-1", ChangeType: "created", Resource: "chats('19:good@thread.v2')/messages('1700000000001')",
		Kind: KindChatMessage, ChatID: "19:good@thread.v2", MessageID: "1700000000001", TenantID: tenantA,
		SubscriptionExpiration: time.Date(2026, 11, 27, 12, 0, 0, 123456700, time.UTC),
	}, got, "clientState is cleared before storage")
	assert.Equal(t, 3, f.metrics.dropped["changes/client_state"])
	assert.Equal(t, 1, f.metrics.accepted["changes"])

	logged := f.log.text()
	assert.Contains(t, logged, "clientState")
	assert.Contains(t, logged, "count 3 ", "one line per reason and batch, not one per forged item")
	assert.NotContains(t, logged, secret)
	assert.NotContains(t, logged, forgedSecret)
}

func TestAllItemsForgedStillAnswers202WithoutTouchingTheSink(t *testing.T) {
	f := newFixture(t, nil)
	rec := post(f.changes, "/", batchJSON(t, []map[string]any{note("s", forgedSecret, "19:x@thread.v2", "1", tenantA, nil)}, nil))
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Zero(t, f.sink.calls)
}

func TestSecretRotationAcceptsEitherSecret(t *testing.T) {
	f := newFixture(t, nil, func(o *Options) { o.ClientStates = Secrets{"new-secret", "", secret} })
	rec := post(f.changes, "/", batchJSON(t, []map[string]any{
		note("old-sub", secret, "19:a@thread.v2", "1", tenantA, nil),
		note("new-sub", "new-secret", "19:a@thread.v2", "2", tenantA, nil),
		note("odd-sub", "", "19:a@thread.v2", "3", tenantA, nil),
	}, nil))
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Len(t, f.sink.items, 2, "an empty configured secret never matches an empty clientState")
}

func TestSinkFailureAsksGraphToRetry(t *testing.T) {
	f := newFixture(t, nil)
	f.sink.err = errors.New("inbox: connection refused")
	body := batchJSON(t, []map[string]any{note("s", secret, "19:a@thread.v2", "1", tenantA, nil)}, nil)
	rec := post(f.changes, "/", body)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Zero(t, f.metrics.accepted["changes"])
	assert.Contains(t, f.log.text(), "connection refused", "the log says why")

	rec = post(f.life, "/", `{"value":[{"subscriptionId":"s","lifecycleEvent":"reauthorizationRequired","clientState":"`+secret+`","tenantId":"t"}]}`)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

func TestSinkGetsADeadlineInsideGraphs3Seconds(t *testing.T) {
	var deadline time.Time
	var ok bool
	sink := sinkFunc(func(ctx context.Context, _ []Item) error {
		deadline, ok = ctx.Deadline()
		return nil
	})
	h, err := NewChangesHandler(sink, nil, Options{ClientStates: Secrets{secret}, Logger: &recLogger{}})
	require.NoError(t, err)
	start := time.Now()
	rec := post(h, "/", batchJSON(t, []map[string]any{note("s", secret, "19:a@thread.v2", "1", tenantA, nil)}, nil))
	assert.Equal(t, http.StatusAccepted, rec.Code)
	require.True(t, ok)
	assert.WithinDuration(t, start.Add(DefaultTimeout), deadline, time.Second)
	assert.Less(t, DefaultTimeout, 3*time.Second)
}

type sinkFunc func(context.Context, []Item) error

func (f sinkFunc) Accept(ctx context.Context, items []Item) error { return f(ctx, items) }

func TestUnsupportedAndUnknownResourcesAreDropped(t *testing.T) {
	f := newFixture(t, nil)
	channel := note("s", secret, "x", "y", tenantA, map[string]any{
		"resource": "teams('t1')/channels('19:ch@thread.tacv2')/messages('1')", "resourceData": nil})
	unknown := note("s", secret, "x", "y", tenantA, map[string]any{
		"resource": "users('u')/events('e')", "resourceData": nil})
	misrouted := note("s", secret, "19:a@thread.v2", "1", tenantA, map[string]any{"lifecycleEvent": "missed"})
	good := note("s", secret, "19:a@thread.v2", "2", tenantA, nil)

	rec := post(f.changes, "/", batchJSON(t, []map[string]any{channel, unknown, misrouted, good}, nil))
	assert.Equal(t, http.StatusAccepted, rec.Code)
	require.Len(t, f.sink.items, 1)
	assert.Equal(t, "2", f.sink.items[0].MessageID)
	assert.Equal(t, 1, f.metrics.dropped["changes/unsupported_resource"])
	assert.Equal(t, 1, f.metrics.dropped["changes/unknown_resource"])
	assert.Equal(t, 1, f.metrics.dropped["changes/misrouted"])
}

func TestLifecycleEvents(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"value":[
		{"subscriptionId":"s1","subscriptionExpirationDateTime":"2026-11-27T12:00:00Z","tenantId":"` + tenantA + `","clientState":"` + secret + `","lifecycleEvent":"reauthorizationRequired"},
		{"subscriptionId":"s2","tenantId":"` + tenantA + `","clientState":"` + secret + `","lifecycleEvent":"subscriptionRemoved"},
		{"subscriptionId":"s3","tenantId":"` + tenantA + `","clientState":"` + forgedSecret + `","lifecycleEvent":"subscriptionRemoved"},
		{"subscriptionId":"s4","tenantId":"` + tenantA + `","clientState":"` + secret + `"}
	]}`
	rec := post(f.life, "/", body)
	assert.Equal(t, http.StatusAccepted, rec.Code)
	assert.Equal(t, []LifecycleEvent{
		{SubscriptionID: "s1", LifecycleEvent: LifecycleReauthorizationRequired, TenantID: tenantA,
			SubscriptionExpiration: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)},
		{SubscriptionID: "s2", LifecycleEvent: LifecycleSubscriptionRemoved, TenantID: tenantA},
	}, f.sink.events)
	assert.Equal(t, 1, f.metrics.dropped["lifecycle/client_state"])
	assert.Equal(t, 1, f.metrics.dropped["lifecycle/misrouted"])
	assert.Equal(t, 2, f.metrics.accepted["lifecycle"])
	assert.NotContains(t, f.log.text(), secret)
	assert.NotContains(t, f.log.text(), forgedSecret)
}

func TestConstructorsCheckTheirInputs(t *testing.T) {
	good := Options{ClientStates: Secrets{secret}, Logger: &recLogger{}}
	_, err := NewChangesHandler(nil, nil, good)
	assert.Error(t, err)
	_, err = NewChangesHandler(&memSink{}, nil, Options{Logger: &recLogger{}})
	assert.Error(t, err)
	_, err = NewLifecycleHandler(&memSink{}, Options{ClientStates: Secrets{secret}})
	assert.Error(t, err)
	_, err = NewLifecycleHandler(nil, good)
	assert.Error(t, err)
}

func TestMatchesAny(t *testing.T) {
	assert.True(t, MatchesAny("a", "b", "a"))
	assert.False(t, MatchesAny("a", "b", "c"))
	assert.False(t, MatchesAny("", ""))
	assert.False(t, MatchesAny("a"))
	assert.False(t, MatchesAny("A", "a"), "case matters")
	assert.True(t, ClientStateFunc(func(sub, cs string) bool { return sub == "s" && MatchesAny(cs, secret) }).VerifyClientState("s", secret))
}

// Rich items: the TokenValidator decides, with the tenants of the rich items only.
type fakeValidator struct {
	err     error
	tokens  []string
	tenants []string
	calls   int
}

func (v *fakeValidator) ValidateBatch(_ context.Context, tokens, tenants []string) error {
	v.calls++
	v.tokens, v.tenants = tokens, tenants
	return v.err
}

func richNote(sub, chat, msg, tenant string) map[string]any {
	return note(sub, secret, chat, msg, tenant, map[string]any{"encryptedContent": map[string]any{
		"data": "ZGF0YQ==", "dataSignature": "c2ln", "dataKey": "a2V5",
		"encryptionCertificateId": "cert-1", "encryptionCertificateThumbprint": "ABCDEF",
	}})
}

func TestRichItems(t *testing.T) {
	body := func(t *testing.T) string {
		return batchJSON(t, []map[string]any{
			richNote("s1", "19:a@thread.v2", "1", tenantA),
			richNote("s2", "19:b@thread.v2", "2", tenantB),
			richNote("s1", "19:a@thread.v2", "3", tenantA),
			note("s3", secret, "19:c@thread.v2", "4", tenantB, nil),
			note("s3", forgedSecret, "19:c@thread.v2", "5", "cccccccc-0000-0000-0000-000000000003", map[string]any{"encryptedContent": map[string]any{"data": "x"}}),
		}, []string{"tok-a", "tok-b"})
	}

	t.Run("valid tokens", func(t *testing.T) {
		v := &fakeValidator{}
		f := newFixture(t, v)
		rec := post(f.changes, "/", body(t))
		assert.Equal(t, http.StatusAccepted, rec.Code)
		require.Len(t, f.sink.items, 4)
		assert.Equal(t, &richnotify.EncryptedContent{Data: "ZGF0YQ==", DataSignature: "c2ln", DataKey: "a2V5",
			EncryptionCertificateID: "cert-1", EncryptionCertificateThumbprint: "ABCDEF"}, f.sink.items[0].EncryptedContent)
		assert.Nil(t, f.sink.items[3].EncryptedContent)
		assert.Equal(t, []string{"tok-a", "tok-b"}, v.tokens)
		assert.Equal(t, []string{tenantA, tenantB}, v.tenants, "tenants of accepted rich items, once each; forged items do not count")
	})
	t.Run("invalid tokens: the rich items go on as plain ones", func(t *testing.T) {
		v := &fakeValidator{err: errors.Wrap(richnotify.ErrInvalidToken, "aud mismatch")}
		f := newFixture(t, v)
		rec := post(f.changes, "/", body(t))
		assert.Equal(t, http.StatusAccepted, rec.Code)
		require.Len(t, f.sink.items, 4, "nothing lost: delivery fetches the messages from Graph")
		for _, it := range f.sink.items {
			assert.Nil(t, it.EncryptedContent, "content that could not be vouched for is never decrypted")
		}
		assert.Equal(t, 3, f.metrics.plain["changes/invalid_tokens"])
		assert.Equal(t, int64(3), f.changes.UnverifiedRich().Count)
		assert.Equal(t, UnverifiedInvalidTokens, f.changes.UnverifiedRich().LastReason)
		assert.Contains(t, f.log.text(), "aud mismatch", "the reason is logged")
		assert.Contains(t, f.log.text(), "Assignment required", "with the fix")
	})
	t.Run("keys unavailable asks Graph to retry", func(t *testing.T) {
		v := &fakeValidator{err: errors.Wrap(richnotify.ErrKeysUnavailable, "jwks: 503")}
		f := newFixture(t, v)
		rec := post(f.changes, "/", body(t))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
		assert.Zero(t, f.sink.calls, "nothing stored, nothing lost: Graph redelivers")
	})
	t.Run("no validator is not consulted for plain batches", func(t *testing.T) {
		v := &fakeValidator{err: richnotify.ErrNoTokens}
		f := newFixture(t, v)
		rec := post(f.changes, "/", batchJSON(t, []map[string]any{note("s", secret, "19:a@thread.v2", "1", tenantA, nil)}, nil))
		assert.Equal(t, http.StatusAccepted, rec.Code)
		assert.Zero(t, v.calls)
		assert.Len(t, f.sink.items, 1)
	})
}

// rpcBody behaves like the request body Mattermost gives a plugin: each Read made while nothing is in flight is
// a round trip to the server process asking for len(p) bytes, which then stream back in chunks of up to 32 KB.
// When the server runs out of body it ends the stream.
type rpcBody struct {
	data    []byte
	pending int // bytes asked for and not yet read
	trips   int
}

func (b *rpcBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	if b.pending == 0 {
		b.trips++
		b.pending = min(len(p), len(b.data))
	}
	n := copy(p, b.data[:min(len(p), b.pending, 32<<10)])
	b.data, b.pending = b.data[n:], b.pending-n
	return n, nil
}

func TestABatchBodyCrossesFromTheServerInTwoRoundTrips(t *testing.T) {
	batch := func(n int) string {
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = note("sub", secret, "19:c@thread.v2", strconv.Itoa(i), tenantA, map[string]any{"pad": strings.Repeat("x", 4000)})
		}
		return batchJSON(t, items, nil)
	}
	busy, full := batch(40), batch(100) // ~160 KB, a batch at 500 messages/s; ~420 KB, graphsim's largest batch

	for _, tc := range []struct {
		name          string
		batch         string
		declared      int64
		maxRoundTrips int
	}{
		{"declared length (Graph sends one)", busy, int64(len(busy)), 2},
		{"length unknown", busy, -1, 5},
		{"graphsim's largest batch", full, int64(len(full)), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			body := &rpcBody{data: []byte(tc.batch)}
			req := httptest.NewRequest(http.MethodPost, "/", body)
			req.ContentLength = tc.declared
			rec := httptest.NewRecorder()
			f.changes.ServeHTTP(rec, req)

			assert.Equal(t, http.StatusAccepted, rec.Code)
			batch, err := ParseChanges([]byte(tc.batch))
			require.NoError(t, err)
			assert.Len(t, f.sink.items, len(batch.Items), "every item read and stored")
			assert.LessOrEqual(t, body.trips, tc.maxRoundTrips, "round trips to the server for the body")
		})
	}
}

// stalling sends a few bytes of a body whose declared length is large, then stops (a slow or hostile sender).
type stalling struct{ sent bool }

func (s *stalling) Read(p []byte) (int, error) {
	if s.sent {
		return 0, io.ErrUnexpectedEOF
	}
	s.sent = true
	return copy(p, `{"value":[`), nil
}

func TestADeclaredLengthIsNotReservedBeforeTheBodyArrives(t *testing.T) {
	buf, err := readAll(&stalling{}, 900<<10)
	require.Error(t, err)
	assert.Equal(t, `{"value":[`, string(buf))
	assert.LessOrEqual(t, cap(buf), 16<<10, "a sender that declared 900 KiB and sent 10 bytes holds a small buffer")
}
