package changes

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// Test scaffolding: a fake STS key and clock, bearer names mapped to token claims,
// an in-memory resource store, and a webhook receiver.

const (
	tenantA = "11111111-1111-1111-1111-111111111111"
	tenantB = "22222222-2222-2222-2222-222222222222"
	appA    = "aaaaaaaa-0000-0000-0000-000000000001"
	appB    = "bbbbbbbb-0000-0000-0000-000000000002"
	userU   = "99999999-0000-0000-0000-00000000000u"
	chat1   = "19:abc123@thread.v2"
	chat2   = "19:def456@thread.v2"
)

var tokens = map[string]TokenInfo{
	"app":          {TenantID: tenantA, AppID: appA, Roles: []string{"Chat.Read.All"}, AppOnly: true},
	"app-noroles":  {TenantID: tenantA, AppID: appA, AppOnly: true},
	"app-rw":       {TenantID: tenantA, AppID: appA, Roles: []string{"Chat.ReadWrite.All"}, AppOnly: true},
	"app2":         {TenantID: tenantA, AppID: appB, Roles: []string{"Chat.Read.All"}, AppOnly: true},
	"appB":         {TenantID: tenantB, AppID: appB, Roles: []string{"Chat.Read.All"}, AppOnly: true},
	"user":         {TenantID: tenantA, AppID: appA, UserID: userU, Scopes: []string{"Chat.Read", "offline_access"}},
	"app-channel":  {TenantID: tenantA, AppID: appA, Roles: []string{"ChannelMessage.Read.All"}, AppOnly: true},
	"user-channel": {TenantID: tenantA, AppID: appA, UserID: userU, Scopes: []string{"ChannelMessage.Read.All"}},
}

var (
	keyOnce sync.Once
	stsKey  *rsa.PrivateKey
	subKey  *rsa.PrivateKey // the subscriber's certificate key for rich notifications
	subCert *x509.Certificate
)

func keys(t *testing.T) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		stsKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		subKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "notifications"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &subKey.PublicKey, subKey)
		if err != nil {
			panic(err)
		}
		subCert, err = x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
	})
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	m         *Manager
	clock     *fakeClock
	api       *httptest.Server
	mu        sync.Mutex
	resources map[string][]byte
}

func issuerFor(tid string) string { return "https://login.emu.test/" + tid + "/v2.0" }

func newHarness(t *testing.T) *harness {
	t.Helper()
	keys(t)
	h := &harness{
		clock:     &fakeClock{now: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		resources: map[string][]byte{},
	}
	h.m = New(Deps{
		Authorize: func(w http.ResponseWriter, r *http.Request) (TokenInfo, bool) {
			tok, ok := tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				writeError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
			}
			return tok, ok
		},
		Resource: func(p string) ([]byte, bool) {
			h.mu.Lock()
			defer h.mu.Unlock()
			b, ok := h.resources[p]
			return b, ok
		},
		SignJWT: func(claims map[string]any) (string, error) {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
			tok.Header["kid"] = "test-kid"
			return tok.SignedString(stsKey)
		},
		IssuerFor:  issuerFor,
		HTTPClient: &http.Client{},
		Now:        h.clock.Now,
	})
	h.m.SetSettings(Settings{
		HandshakeTimeout: time.Second,
		DeliveryTimeout:  300 * time.Millisecond,
		BatchWindow:      20 * time.Millisecond,
		RetryBase:        20 * time.Millisecond,
		RetryMaxDelay:    200 * time.Millisecond,
	})
	h.m.SetSeed(1)
	mux := http.NewServeMux()
	h.m.Routes(mux)
	h.api = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.m.Close()
		h.api.Close()
	})
	return h
}

func (h *harness) setResource(path string, body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resources[path] = []byte(body)
}

// call sends a Graph request and decodes the JSON reply (nil for empty bodies).
func (h *harness) call(t *testing.T, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.api.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	}
	return resp.StatusCode, out
}

func (h *harness) create(t *testing.T, token string, body map[string]any) (int, map[string]any) {
	t.Helper()
	return h.call(t, token, http.MethodPost, "/v1.0/subscriptions", body)
}

// mustCreate creates a subscription and returns its id.
func (h *harness) mustCreate(t *testing.T, token string, body map[string]any) string {
	t.Helper()
	status, resp := h.create(t, token, body)
	require.Equal(t, http.StatusCreated, status, resp)
	return resp["id"].(string)
}

func (h *harness) in(d time.Duration) string { return h.clock.Now().Add(d).Format(time.RFC3339Nano) }

// subBodyFor is a valid tenant-wide subscription to rcv, two hours long, with a lifecycle URL.
func (h *harness) subBodyFor(rcv *receiver) map[string]any {
	return map[string]any{
		"changeType":               "created,updated,deleted",
		"resource":                 "/chats/getAllMessages",
		"notificationUrl":          rcv.URL() + "/changes?src=graph",
		"lifecycleNotificationUrl": rcv.URL() + "/lifecycle",
		"expirationDateTime":       h.in(2 * time.Hour),
		"clientState":              "s3cret",
	}
}

func errorOf(t *testing.T, body map[string]any) (code, message string) {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	require.True(t, ok, "OData error envelope expected: %v", body)
	inner, ok := e["innerError"].(map[string]any)
	require.True(t, ok, "innerError expected: %v", body)
	require.NotEmpty(t, inner["request-id"])
	require.NotEmpty(t, inner["date"])
	require.NotEmpty(t, inner["client-request-id"])
	return e["code"].(string), e["message"].(string)
}

// notification is one value[] entry as the spec (§3, §5) describes it.
type notification struct {
	SubscriptionID                 string `json:"subscriptionId"`
	SubscriptionExpirationDateTime string `json:"subscriptionExpirationDateTime"`
	ChangeType                     string `json:"changeType"`
	ClientState                    string `json:"clientState"`
	Resource                       string `json:"resource"`
	ResourceData                   *struct {
		ID        string `json:"id"`
		ODataType string `json:"@odata.type"`
		ODataID   string `json:"@odata.id"`
	} `json:"resourceData"`
	TenantID         string `json:"tenantId"`
	LifecycleEvent   string `json:"lifecycleEvent"`
	EncryptedContent *struct {
		Data                            string `json:"data"`
		DataSignature                   string `json:"dataSignature"`
		DataKey                         string `json:"dataKey"`
		EncryptionCertificateID         string `json:"encryptionCertificateId"`
		EncryptionCertificateThumbprint string `json:"encryptionCertificateThumbprint"`
	} `json:"encryptedContent"`
}

type post struct {
	path, rawQuery, contentType string
	raw                         []byte
	Value                       []notification `json:"value"`
	ValidationTokens            []string       `json:"validationTokens"`
	at                          time.Time
}

// receiver is the app's webhook: it answers validation handshakes and records notification POSTs.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	// onValidate answers a handshake; nil echoes the token correctly.
	onValidate func(w http.ResponseWriter, r *http.Request, token string)
	// onNotify answers a notification POST (after it is recorded); nil answers 202.
	onNotify    func(w http.ResponseWriter, r *http.Request, n int)
	notified    int
	validations chan *http.Request
	posts       chan post
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rcv := &receiver{validations: make(chan *http.Request, 1000), posts: make(chan post, 1000)}
	rcv.srv = httptest.NewServer(http.HandlerFunc(rcv.serve))
	t.Cleanup(rcv.srv.Close)
	return rcv
}

func (rcv *receiver) URL() string { return rcv.srv.URL }

func (rcv *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if token := r.URL.Query().Get("validationToken"); token != "" {
		rcv.validations <- r
		rcv.mu.Lock()
		fn := rcv.onValidate
		rcv.mu.Unlock()
		if fn != nil {
			fn(w, r, token)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, token)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	p := post{path: r.URL.Path, rawQuery: r.URL.RawQuery, contentType: r.Header.Get("Content-Type"), raw: raw, at: time.Now()}
	if err := json.Unmarshal(raw, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rcv.mu.Lock()
	rcv.notified++
	n, fn := rcv.notified, rcv.onNotify
	rcv.mu.Unlock()
	rcv.posts <- p
	if fn != nil {
		fn(w, r, n)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (rcv *receiver) setValidate(fn func(w http.ResponseWriter, r *http.Request, token string)) {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	rcv.onValidate = fn
}

func (rcv *receiver) setNotify(fn func(w http.ResponseWriter, r *http.Request, n int)) {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	rcv.onNotify = fn
}

// next waits for the next notification POST.
func (rcv *receiver) next(t *testing.T) post {
	t.Helper()
	select {
	case p := <-rcv.posts:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no notification POST arrived")
		return post{}
	}
}

// nextItems collects notification items until n have arrived.
func (rcv *receiver) nextItems(t *testing.T, n int) []notification {
	t.Helper()
	var out []notification
	for len(out) < n {
		out = append(out, rcv.next(t).Value...)
	}
	require.Len(t, out, n)
	return out
}

func (rcv *receiver) drainValidations() []*http.Request {
	var out []*http.Request
	for {
		select {
		case r := <-rcv.validations:
			out = append(out, r)
		default:
			return out
		}
	}
}

// eventually waits for cond (a state reached by the background sender), failing after 10 s.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting: " + msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func certB64() string { return base64.StdEncoding.EncodeToString(subCert.Raw) }

func msgEvent(changeType, chatID, msgID string, members ...string) Event {
	return Event{ChangeType: changeType, TenantID: tenantA, ChatID: chatID, MessageID: msgID, SenderUserID: userU, MemberUserIDs: members}
}

// smallCert is a self-signed certificate with a 1024-bit key, below Graph's 2048-bit minimum.
func smallCert(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(8), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	return der
}
