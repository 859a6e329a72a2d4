package changes_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/graphsim/changes"
)

// These tests drive the subscription API through the whole graphsim (real STS tokens,
// middleware, message store) with the Go SDK, as the plugin will.

const (
	simTenant = "7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	simClient = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	simSecret = "s3cret~value"
	alice     = "a1a1a1a1-0000-4000-8000-000000000001"
	bob       = "b2b2b2b2-0000-4000-8000-000000000002"
)

type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

type simEnv struct {
	sim    *graphsim.Sim
	clock  *simClock
	client *msgraphsdk.GraphServiceClient
	chat   string
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	clock := &simClock{now: time.Now().UTC().Truncate(time.Second)}
	sim, err := graphsim.New(graphsim.Options{Now: clock.Now, DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{TenantID: simTenant, ClientID: simClient, ClientSecret: simSecret, AppRoles: []string{"Chat.Read.All"}}))
	for _, u := range []graphsim.User{
		{ID: alice, TenantID: simTenant, DisplayName: "Alice", Mail: "alice@contoso.test", UserPrincipalName: "alice@contoso.test"},
		{ID: bob, TenantID: simTenant, DisplayName: "Bob", Mail: "bob@contoso.test", UserPrincipalName: "bob@contoso.test"},
	} {
		require.NoError(t, sim.AddUser(u))
	}
	chat, err := sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{alice, bob}})
	require.NoError(t, err)
	sim.Changes().SetSettings(graphsimSettings(sim))

	cred, err := azidentity.NewClientSecretCredential(simTenant, simClient, simSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: sim.AuthorityURL() + "/"}, Transport: sim.HTTPClient()},
		DisableInstanceDiscovery: true,
	})
	require.NoError(t, err)
	u, err := url.Parse(sim.GraphURL())
	require.NoError(t, err)
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{"https://graph.microsoft.com/.default"}, []string{u.Hostname()})
	require.NoError(t, err)
	opts := msgraphcore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(sim.Transport(), msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	require.NoError(t, err)
	adapter.SetBaseUrl(sim.GraphURL())
	return &simEnv{sim: sim, clock: clock, client: msgraphsdk.NewGraphServiceClient(adapter), chat: chat}
}

func graphsimSettings(sim *graphsim.Sim) (s changes.Settings) {
	s = sim.Changes().Settings()
	s.BatchWindow = 10 * time.Millisecond
	s.RetryBase = 20 * time.Millisecond
	return s
}

// webhook answers handshakes and hands over notification bodies.
type webhook struct {
	srv   *httptest.Server
	posts chan []byte
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	wh := &webhook{posts: make(chan []byte, 100)}
	wh.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, tok)
			return
		}
		b, _ := io.ReadAll(r.Body)
		wh.posts <- b
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(wh.srv.Close)
	return wh
}

func (wh *webhook) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-wh.posts:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no notification arrived")
		return nil
	}
}

func selfSignedCert(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mm"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return key, der
}

func TestSDKSubscriptionLifecycleThroughGraphsim(t *testing.T) {
	e := newSimEnv(t)
	wh := newWebhook(t)
	key, der := selfSignedCert(t)
	ctx := context.Background()

	sub := models.NewSubscription()
	sub.SetChangeType(ptr("created,updated,deleted"))
	sub.SetResource(ptr("/chats/getAllMessages"))
	sub.SetNotificationUrl(ptr(wh.srv.URL + "/changes"))
	sub.SetLifecycleNotificationUrl(ptr(wh.srv.URL + "/lifecycle"))
	sub.SetExpirationDateTime(ptr(e.clock.Now().Add(2 * time.Hour)))
	sub.SetClientState(ptr("cs-1"))
	sub.SetIncludeResourceData(ptr(true))
	sub.SetEncryptionCertificate(ptr(base64.StdEncoding.EncodeToString(der)))
	sub.SetEncryptionCertificateId(ptr("mm-key-1"))

	created, err := e.client.Subscriptions().Post(ctx, sub, nil)
	require.NoError(t, err)
	id := *created.GetId()
	assert.Equal(t, simClient, *created.GetApplicationId())
	assert.Equal(t, "/chats/getAllMessages", *created.GetResource())
	assert.WithinDuration(t, e.clock.Now().Add(2*time.Hour), *created.GetExpirationDateTime(), time.Millisecond)

	msgID, err := e.sim.SendMessage(e.chat, graphsim.NewMessage{From: alice, HTML: "<p>hello from Teams</p>"})
	require.NoError(t, err)

	var payload struct {
		Value []struct {
			SubscriptionID   string `json:"subscriptionId"`
			ChangeType       string `json:"changeType"`
			ClientState      string `json:"clientState"`
			Resource         string `json:"resource"`
			TenantID         string `json:"tenantId"`
			EncryptedContent struct {
				Data, DataSignature, DataKey string
			} `json:"encryptedContent"`
		} `json:"value"`
		ValidationTokens []string `json:"validationTokens"`
	}
	require.NoError(t, json.Unmarshal(wh.next(t), &payload))
	require.Len(t, payload.Value, 1)
	item := payload.Value[0]
	assert.Equal(t, id, item.SubscriptionID)
	assert.Equal(t, "created", item.ChangeType)
	assert.Equal(t, "cs-1", item.ClientState)
	assert.Equal(t, simTenant, item.TenantID)
	assert.Equal(t, "chats('"+e.chat+"')/messages('"+msgID+"')", item.Resource)

	var message struct {
		ID   string                   `json:"id"`
		Body struct{ Content string } `json:"body"`
	}
	require.NoError(t, json.Unmarshal(decrypt(t, key, item.EncryptedContent.Data, item.EncryptedContent.DataSignature, item.EncryptedContent.DataKey), &message))
	assert.Equal(t, msgID, message.ID)
	assert.Contains(t, message.Body.Content, "hello from Teams")

	require.Len(t, payload.ValidationTokens, 1)
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(payload.ValidationTokens[0], claims, jwksKeyfunc(t, e.sim),
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(simClient), jwt.WithIssuer(e.sim.IssuerFor(simTenant)))
	require.NoError(t, err, "the validation token verifies against graphsim's JWKS")
	assert.Equal(t, "0bf30f3b-4a52-48df-9a82-234910c4a086", claims["azp"])

	renew := models.NewSubscription()
	renew.SetExpirationDateTime(ptr(e.clock.Now().Add(3 * time.Hour)))
	patched, err := e.client.Subscriptions().BySubscriptionId(id).Patch(ctx, renew, nil)
	require.NoError(t, err)
	assert.WithinDuration(t, e.clock.Now().Add(3*time.Hour), *patched.GetExpirationDateTime(), time.Millisecond)
	require.NoError(t, e.client.Subscriptions().BySubscriptionId(id).Reauthorize().Post(ctx, nil))

	list, err := e.client.Subscriptions().Get(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list.GetValue(), 1)

	require.NoError(t, e.client.Subscriptions().BySubscriptionId(id).Delete(ctx, nil))
	_, err = e.client.Subscriptions().BySubscriptionId(id).Get(ctx, nil)
	var odataErr *odataerrors.ODataError
	require.True(t, errors.As(err, &odataErr), "%v", err)
	assert.Equal(t, http.StatusNotFound, odataErr.ResponseStatusCode)
}

func TestSDKSeesValidationFailureAsODataError(t *testing.T) {
	e := newSimEnv(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(broken.Close)

	sub := models.NewSubscription()
	sub.SetChangeType(ptr("created"))
	sub.SetResource(ptr("/chats/getAllMessages"))
	sub.SetNotificationUrl(ptr(broken.URL + "/changes"))
	sub.SetExpirationDateTime(ptr(e.clock.Now().Add(time.Hour)))
	_, err := e.client.Subscriptions().Post(context.Background(), sub, nil)
	var odataErr *odataerrors.ODataError
	require.True(t, errors.As(err, &odataErr), "%v", err)
	assert.Equal(t, http.StatusBadRequest, odataErr.ResponseStatusCode)
	require.NotNil(t, odataErr.GetErrorEscaped())
	assert.Equal(t, "InvalidRequest", *odataErr.GetErrorEscaped().GetCode())
	assert.Equal(t, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.", *odataErr.GetErrorEscaped().GetMessage())
}

func ptr[T any](v T) *T { return &v }

// decrypt is the subscriber's side of the rich-notification scheme (spec §4).
func decrypt(t *testing.T, key *rsa.PrivateKey, data64, sig64, key64 string) []byte {
	t.Helper()
	wrapped, err := base64.StdEncoding.DecodeString(key64)
	require.NoError(t, err)
	aesKey, err := rsa.DecryptOAEP(sha1.New(), nil, key, wrapped, nil)
	require.NoError(t, err)
	data, err := base64.StdEncoding.DecodeString(data64)
	require.NoError(t, err)
	sig, err := base64.StdEncoding.DecodeString(sig64)
	require.NoError(t, err)
	mac := hmac.New(sha256.New, aesKey)
	mac.Write(data)
	require.True(t, hmac.Equal(sig, mac.Sum(nil)))
	block, err := aes.NewCipher(aesKey)
	require.NoError(t, err)
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, aesKey[:16]).CryptBlocks(out, data)
	return out[:len(out)-int(out[len(out)-1])]
}

// jwksKeyfunc fetches graphsim's published keys, as the plugin does with the real JWKS.
func jwksKeyfunc(t *testing.T, sim *graphsim.Sim) jwt.Keyfunc {
	t.Helper()
	resp, err := sim.HTTPClient().Get(sim.JWKSURL())
	require.NoError(t, err)
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		require.NoError(t, err)
		e, err := base64.RawURLEncoding.DecodeString(k.E)
		require.NoError(t, err)
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid " + kid)
	}
}
