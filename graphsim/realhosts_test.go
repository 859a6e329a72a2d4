package graphsim_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// TestClientsKeepingMicrosoftHostNames points "DNS" (a dialer) for
// login.microsoftonline.com and graph.microsoft.com at graphsim and trusts its
// CA; azidentity and the Graph SDK otherwise run with their defaults, instance
// discovery included.
func TestClientsKeepingMicrosoftHostNames(t *testing.T) {
	sim, err := graphsim.New(graphsim.Options{Hostnames: []string{"login.microsoftonline.com", "graph.microsoft.com"}, DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret, AppRoles: []string{"Chat.Read.All"}}))
	require.NoError(t, sim.AddUser(graphsim.User{ID: aliceID, TenantID: tenantID, DisplayName: "Alice"}))
	require.NoError(t, sim.AddUser(graphsim.User{ID: bobID, TenantID: tenantID, DisplayName: "Bob"}))
	chatID, err := sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{aliceID, bobID}})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err = sim.SendMessage(chatID, graphsim.NewMessage{From: aliceID, HTML: "hi"})
		require.NoError(t, err)
	}

	simAddr := strings.TrimPrefix(sim.BaseURL(), "https://")
	tr := sim.Transport()
	var mu sync.Mutex
	var dialed []string
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, network, simAddr)
	}
	hc := &http.Client{Transport: tr}

	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, clientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: hc},
	})
	require.NoError(t, err)
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProvider(cred)
	require.NoError(t, err)
	opts := msgraphcore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	graphHC := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(tr, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...), Timeout: 30 * time.Second}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, graphHC)
	require.NoError(t, err)
	client := msgraphsdk.NewGraphServiceClient(adapter)

	top := int32(2)
	page, err := client.Chats().ByChatId(chatID).Messages().Get(context.Background(), &chats.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ItemMessagesRequestBuilderGetQueryParameters{Top: &top},
	})
	require.NoError(t, err)
	assert.Len(t, page.GetValue(), 2)
	next, err := url.Parse(*page.GetOdataNextLink())
	require.NoError(t, err)
	assert.Equal(t, "graph.microsoft.com", next.Host, "links stay on the host the client addressed")
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, dialed, "login.microsoftonline.com:443")
	assert.Contains(t, dialed, "graph.microsoft.com:443")
}
