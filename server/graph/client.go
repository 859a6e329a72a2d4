// Package graph talks to Microsoft Graph for the plugin: it builds the app-only and per-user (delegated) clients
// for the configured cloud, makes the few calls the plugin needs, and returns plain Go structs and errors that keep
// the HTTP status and OData code, so no other package depends on the generated SDK.
package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoft/kiota-abstractions-go/store"
	khttp "github.com/microsoft/kiota-http-go"
	formserialization "github.com/microsoft/kiota-serialization-form-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	multipartserialization "github.com/microsoft/kiota-serialization-multipart-go"
	textserialization "github.com/microsoft/kiota-serialization-text-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/pkg/errors"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/server/config"
)

// Options tune the HTTP behaviour of the clients. The zero value is what production uses.
type Options struct {
	// Timeout bounds one Graph call including the SDK's retries. Zero means 100 s, the SDK default.
	Timeout time.Duration
	// MaxRetries is how often the SDK retries a 429/503/504. Zero keeps the SDK default (3); a negative value
	// turns retries off, so the caller sees the first throttling answer and its Retry-After.
	MaxRetries int
	// MaxRetryWait caps the total time the SDK may sleep on Retry-After before giving up and returning the
	// throttling error (with its RetryAfter) to the caller. Zero means 30 s: a worker should requeue the item and
	// move on rather than sit out a long throttling window inside one call.
	MaxRetryWait time.Duration
	// Transport replaces the TLS transport under the SDK middleware (tests); nil builds one that trusts the
	// system roots plus the configured CA.
	Transport http.RoundTripper
}

// Factory holds what every client for one configuration shares: endpoints, TLS trust, the app credential.
// Build a new Factory when config.Diff reports CredentialsChanged.
type Factory struct {
	endpoints    config.Endpoints
	tenantID     string
	clientID     string
	clientSecret string
	opts         Options

	transport http.RoundTripper // TLS only, no middleware: for identity calls and pre-authenticated downloads
	app       *Client
}

// NewFactory builds the clients for cfg. It does no network I/O; a wrong secret shows up on the first call.
func NewFactory(cfg config.Configuration, opts Options) (*Factory, error) {
	endpoints, err := cfg.Endpoints()
	if err != nil {
		return nil, errors.Wrap(err, "resolve Microsoft cloud endpoints")
	}
	transport := opts.Transport
	if transport == nil {
		transport, err = NewTransport(endpoints.CACertificatePEM)
		if err != nil {
			return nil, err
		}
	}
	f := &Factory{
		endpoints:    endpoints,
		tenantID:     strings.TrimSpace(cfg.TenantID),
		clientID:     strings.TrimSpace(cfg.ClientID),
		clientSecret: cfg.ClientSecret,
		opts:         opts,
		transport:    transport,
	}

	cred, err := azidentity.NewClientSecretCredential(f.tenantID, f.clientID, f.clientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud: cloud.Configuration{
				ActiveDirectoryAuthorityHost: endpoints.AuthorityHost + "/",
				Services:                     map[cloud.ServiceName]cloud.ServiceConfiguration{},
			},
			Transport: &http.Client{Transport: transport, Timeout: 30 * time.Second},
		},
		// MSAL knows the national-cloud authorities; for any other host it would ask login.microsoftonline.com
		// whether the authority exists, which fails for an emulator or an air-gapped deployment.
		DisableInstanceDiscovery: endpoints.DisableInstanceDiscovery,
	})
	if err != nil {
		return nil, errors.Wrap(err, "create app credential")
	}
	f.app, err = f.newClient(cred)
	if err != nil {
		return nil, errors.Wrap(err, "create app-only Graph client")
	}
	f.app.clientID = f.clientID
	f.app.secretHint = secretHint(f.clientSecret)
	return f, nil
}

// Endpoints returns the cloud endpoints the factory was built for.
func (f *Factory) Endpoints() config.Endpoints { return f.endpoints }

// App returns the client that acts as the application itself (client credentials).
func (f *Factory) App() *Client { return f.app }

// Delegated returns a client that acts as the user whose tokens ts yields. ts should refresh by itself (the
// TokenSource of OAuth2Config); it is wrapped in a ReuseTokenSource so concurrent calls share one token.
func (f *Factory) Delegated(ts oauth2.TokenSource) (*Client, error) {
	c, err := f.newClient(&tokenSourceCredential{ts: oauth2.ReuseTokenSource(nil, ts)})
	if err != nil {
		return nil, errors.Wrap(err, "create delegated Graph client")
	}
	return c, nil
}

// OAuth2Config is the authorization-code flow for users connecting their Microsoft account. The scopes ask for
// everything consented for the app on this cloud's Graph host plus a refresh token.
func (f *Factory) OAuth2Config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     f.clientID,
		ClientSecret: f.clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:  f.endpoints.AuthorizeURL(f.tenantID),
			TokenURL: f.endpoints.TokenURL(f.tenantID),
			// Entra accepts both; auto-detection would first send Basic and retry on failure (doubling
			// failed-login noise), while the form body is what the identity platform documents.
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURL,
		Scopes:      []string{f.endpoints.GraphScope, "offline_access"},
	}
}

// OAuth2Context returns ctx carrying the HTTP client x/oauth2 must use for token exchange and refresh, so that
// those calls trust the custom CA too. Pass it to Exchange and TokenSource.
func (f *Factory) OAuth2Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, f.HTTPClient())
}

// HTTPClient is a plain client with the factory's TLS trust and no Graph middleware or credentials: for the
// identity platform and for pre-authenticated download URLs, which must not receive a Graph token.
func (f *Factory) HTTPClient() *http.Client {
	return &http.Client{Transport: f.transport, Timeout: 60 * time.Second}
}

func (f *Factory) newClient(cred azcore.TokenCredential) (*Client, error) {
	// Without the Graph host in the allow-list the provider silently sends no Authorization header at all.
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		cred, []string{f.endpoints.GraphScope}, []string{f.endpoints.GraphHost})
	if err != nil {
		return nil, errors.Wrap(err, "create Graph authentication provider")
	}

	options := defaultClientOptions()
	middleware := msgraphcore.GetDefaultMiddlewaresWithOptions(&options)
	middleware = replaceRetryHandler(middleware, khttp.NewRetryHandlerWithOptions(f.retryOptions()))
	timeout := f.opts.Timeout
	if timeout == 0 {
		timeout = 100 * time.Second
	}
	hc := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(f.transport, middleware...),
		// The redirect middleware follows redirects itself (and drops Authorization across origins).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
	adapter, err := newGraphAdapter(auth, hc, f.endpoints.GraphBaseURL)
	if err != nil {
		return nil, errors.Wrap(err, "create Graph request adapter")
	}
	return &Client{
		adapter:    adapter,
		pathParams: map[string]string{"baseurl": adapter.GetBaseUrl()},
		httpClient: hc,
		download:   f.HTTPClient(),
	}, nil
}

// defaultClientOptions are the options msgraph-sdk-go's root package (GetDefaultClientOptions) gives the adapter
// and the middleware: v1.0 (no service version in the telemetry header) and the SDK version this module requires.
// The root package is not imported because it pulls in every request builder of Graph (minutes of compile time).
func defaultClientOptions() msgraphcore.GraphClientOptions {
	return msgraphcore.GraphClientOptions{
		GraphServiceVersion:        "",
		GraphServiceLibraryVersion: "1.89.0",
	}
}

var registerSerializers sync.Once

// newGraphAdapter does what msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient
// followed by msgraphsdk.NewGraphServiceClient do: a Graph core adapter over the default (global) serializer
// registries, the JSON/text/form/multipart (de)serializers registered in them, the base URL set, and the backing
// store enabled.
func newGraphAdapter(auth absauth.AuthenticationProvider, hc *http.Client, baseURL string) (*msgraphcore.GraphRequestAdapterBase, error) {
	registerSerializers.Do(func() {
		abstractions.RegisterDefaultSerializer(func() serialization.SerializationWriterFactory {
			return jsonserialization.NewJsonSerializationWriterFactory()
		})
		abstractions.RegisterDefaultSerializer(func() serialization.SerializationWriterFactory {
			return textserialization.NewTextSerializationWriterFactory()
		})
		abstractions.RegisterDefaultSerializer(func() serialization.SerializationWriterFactory {
			return formserialization.NewFormSerializationWriterFactory()
		})
		abstractions.RegisterDefaultSerializer(func() serialization.SerializationWriterFactory {
			return multipartserialization.NewMultipartSerializationWriterFactory()
		})
		abstractions.RegisterDefaultDeserializer(func() serialization.ParseNodeFactory {
			return jsonserialization.NewJsonParseNodeFactory()
		})
		abstractions.RegisterDefaultDeserializer(func() serialization.ParseNodeFactory {
			return textserialization.NewTextParseNodeFactory()
		})
		abstractions.RegisterDefaultDeserializer(func() serialization.ParseNodeFactory {
			return formserialization.NewFormParseNodeFactory()
		})
	})
	// nil factories select serialization.DefaultParseNodeFactoryInstance and DefaultSerializationWriterFactoryInstance,
	// the registries filled above.
	adapter, err := msgraphcore.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, defaultClientOptions(), nil, nil, hc)
	if err != nil {
		return nil, err
	}
	if baseURL == "" {
		baseURL = "https://graph.microsoft.com/v1.0"
	}
	adapter.SetBaseUrl(baseURL)
	adapter.EnableBackingStore(store.BackingStoreFactoryInstance)
	return adapter, nil
}

// retryOptions keeps the SDK's retry handler (429/503/504, Retry-After honoured) but stops before the summed
// waits would exceed MaxRetryWait, so a long throttling window surfaces as an APIError instead of a hung call or a
// client timeout that has lost the status.
func (f *Factory) retryOptions() khttp.RetryHandlerOptions {
	budget := f.opts.MaxRetryWait
	if budget == 0 {
		budget = 30 * time.Second
	}
	return khttp.RetryHandlerOptions{
		MaxRetries: max(f.opts.MaxRetries, 0),
		ShouldRetry: func(waited time.Duration, attempt int, _ *http.Request, resp *http.Response) bool {
			if f.opts.MaxRetries < 0 {
				return false
			}
			next := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			if resp.Header.Get("Retry-After") == "" {
				// The SDK's own backoff: 3 s doubling per attempt, plus up to 1 s of jitter.
				next = 3*time.Second<<attempt + time.Second
			}
			return waited+next <= budget
		},
	}
}

func replaceRetryHandler(in []khttp.Middleware, retry *khttp.RetryHandler) []khttp.Middleware {
	out := make([]khttp.Middleware, 0, len(in))
	for _, m := range in {
		switch m.(type) {
		case *khttp.RetryHandler, khttp.RetryHandler:
			out = append(out, retry)
		default:
			out = append(out, m)
		}
	}
	return out
}

// NewTransport returns an HTTP transport that trusts the system roots and, when caPEM is not empty, the
// certificates in it as well.
func NewTransport(caPEM string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if strings.TrimSpace(caPEM) == "" {
		return t, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, errors.New("custom CA certificate: no PEM certificate could be parsed")
	}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		t.TLSClientConfig = t.TLSClientConfig.Clone()
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}

// tokenSourceCredential lets a user's x/oauth2 token drive the SDK's azcore-based authentication provider.
type tokenSourceCredential struct {
	ts oauth2.TokenSource
}

func (c *tokenSourceCredential) GetToken(_ context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.ts.Token()
	if err != nil {
		return azcore.AccessToken{}, errors.Wrap(err, "get user token")
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: tok.Expiry}, nil
}

// secretHint is what Entra shows as passwordCredential.hint: the first three characters of the secret.
func secretHint(secret string) string {
	if len(secret) < 3 {
		return ""
	}
	return secret[:3]
}
