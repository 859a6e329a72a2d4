package graphsim_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// The registration's configured permissions come back as requiredResourceAccess
// with Microsoft Graph's published permission ids.
func TestApplicationListsItsConfiguredPermissions(t *testing.T) {
	e := newEnv(t)
	app, err := e.appClient(t).ApplicationsWithAppId(ptr(clientID)).Get(context.Background(), nil)
	require.NoError(t, err)
	rra := app.GetRequiredResourceAccess()
	require.Len(t, rra, 1)
	require.NotNil(t, rra[0].GetResourceAppId())
	assert.Equal(t, "00000003-0000-0000-c000-000000000000", *rra[0].GetResourceAppId())
	got := map[string]string{}
	for _, ra := range rra[0].GetResourceAccess() {
		got[ra.GetId().String()] = *ra.GetTypeEscaped()
	}
	want := map[string]string{
		// application permissions (AppRoles of the test registration)
		"6b7d71aa-70aa-4810-a8d9-5d9fb2830017": "Role", // Chat.Read.All
		"a70e0c2d-e793-494c-94c4-118fa0a67f42": "Role", // Presence.Read.All
		"df021288-bdef-4463-88db-98f22de89214": "Role", // User.Read.All
		"01d4889c-1287-42c6-ac1f-5d1e02578ef6": "Role", // Files.Read.All
		"9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30": "Role", // Application.Read.All
		// delegated permissions (graphsim.DefaultDelegatedScopes)
		"e1fe6dd8-ba31-4d61-89e7-88639da4683d": "Scope", // User.Read
		"b340eb25-3456-403f-be2f-af7a0d370277": "Scope", // User.ReadBasic.All
		"f501c180-9344-439a-bca0-6cbf209fd270": "Scope", // Chat.Read
		"cdcdac3a-fd45-410d-83ef-554db620e5c7": "Scope", // ChatMessage.Read
		"9c7a330d-35b3-4aa1-963d-cb2b9f927841": "Scope", // Presence.Read.All
		"df85f4d6-205c-4ac5-a5ea-6bf408dba283": "Scope", // Files.Read.All
		"116b7235-7cc6-461e-b163-8e55691d839e": "Scope", // ChatMessage.Send
		"7427e0e9-2fba-42fe-b0c0-848c9e6a8182": "Scope", // offline_access
		"37f7f235-527c-4136-accd-4a02d197296e": "Scope", // openid
		"14dad69e-099b-42c9-810b-d002981feec1": "Scope", // profile
	}
	assert.Equal(t, want, got)
}

// A client that addresses graphsim by another name (here localhost instead of
// 127.0.0.1, as a client using graph.microsoft.com through DNS would) sees that
// name in every @odata.context, expanded collections included.
func TestODataContextUsesTheHostTheClientAddressed(t *testing.T) {
	e := newEnv(t)
	u, err := url.Parse(e.sim.GraphURL())
	require.NoError(t, err)
	base := "https://localhost:" + u.Port() + "/v1.0"
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(e.credential(t, clientSecret), graphScope, []string{"localhost"})
	require.NoError(t, err)
	opts := msgraphcore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(e.sim.Transport(), msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	require.NoError(t, err)
	adapter.SetBaseUrl(base)
	c := msgraphsdk.NewGraphServiceClient(adapter)
	_, err = e.sim.SendMessage(e.group, graphsim.NewMessage{From: aliceID, HTML: "<p>hi</p>"})
	require.NoError(t, err)

	chat, err := c.Chats().ByChatId(e.group).Get(context.Background(), &chats.ChatItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ChatItemRequestBuilderGetQueryParameters{Expand: []string{"members"}},
	})
	require.NoError(t, err)
	require.Len(t, chat.GetMembers(), 3)
	contexts := map[string]any{"members@odata.context": chat.GetAdditionalData()["members@odata.context"], "chat": chat.GetAdditionalData()["@odata.context"]}

	msgs, err := c.Chats().ByChatId(e.group).Messages().Get(context.Background(), nil)
	require.NoError(t, err)
	contexts["messages"] = msgs.GetAdditionalData()["@odata.context"]
	members, err := c.Chats().ByChatId(e.group).Members().Get(context.Background(), nil)
	require.NoError(t, err)
	contexts["members"] = members.GetAdditionalData()["@odata.context"]

	for name, v := range contexts {
		s, ok := v.(*string)
		require.True(t, ok && s != nil, "%s: no @odata.context (%T)", name, v)
		assert.True(t, strings.HasPrefix(*s, base+"/$metadata#"), "%s: %s", name, *s)
	}
}

// Instance discovery answers with the clouds and aliases Microsoft documents (and
// builds into MSAL), and tenant discovery on the host that was asked about.
func TestInstanceDiscoveryAnswersMicrosoftsCloudMetadata(t *testing.T) {
	e := newEnv(t)
	type meta struct {
		PreferredNetwork string   `json:"preferred_network"`
		PreferredCache   string   `json:"preferred_cache"`
		Aliases          []string `json:"aliases"`
	}
	var inst struct {
		TenantDiscoveryEndpoint string `json:"tenant_discovery_endpoint"`
		APIVersion              string `json:"api-version"`
		Metadata                []meta `json:"metadata"`
	}
	microsoft := []meta{
		{"login.microsoftonline.com", "login.windows.net", []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
		{"login.partner.microsoftonline.cn", "login.partner.microsoftonline.cn", []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
		{"login.microsoftonline.de", "login.microsoftonline.de", []string{"login.microsoftonline.de"}},
		{"login.microsoftonline.us", "login.microsoftonline.us", []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
		{"login-us.microsoftonline.com", "login-us.microsoftonline.com", []string{"login-us.microsoftonline.com"}},
	}
	ask := func(authorize string) {
		q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {authorize}}
		require.Equal(t, http.StatusOK, getJSON(t, e, e.sim.AuthorityURL()+"/common/discovery/instance?"+q.Encode(), &inst))
	}

	for _, host := range []string{"login.microsoftonline.com", "login.windows.net"} {
		ask("https://" + host + "/" + tenantID + "/oauth2/v2.0/authorize")
		assert.Equal(t, "https://"+host+"/"+tenantID+"/v2.0/.well-known/openid-configuration", inst.TenantDiscoveryEndpoint)
		assert.Equal(t, "1.1", inst.APIVersion)
		assert.Equal(t, microsoft, inst.Metadata, host)
	}

	// graphsim's own host is not a Microsoft cloud: it is listed as one more.
	ask(e.sim.AuthorizeURL(tenantID))
	self := strings.TrimPrefix(e.sim.AuthorityURL(), "https://")
	assert.Equal(t, append(microsoft, meta{self, self, []string{self}}), inst.Metadata)
}

// createdDateTime is when the message was created even when many share a
// millisecond; only the ids move forward to stay unique.
func TestCreatedDateTimeIsTheRealTimeInABurst(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	var ids []string
	for i := 0; i < 5; i++ {
		id, err := e.sim.SendMessage(e.dm, graphsim.NewMessage{From: aliceID, HTML: "<p>burst</p>"})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	e.clock.Advance(time.Second)
	for i, id := range ids {
		m, err := e.appClient(t).Chats().ByChatId(e.dm).Messages().ByChatMessageId(id).Get(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, now, m.GetCreatedDateTime().UTC(), "message %d", i)
		if i > 0 {
			assert.Greater(t, id, ids[i-1], "ids stay unique and increasing")
		}
	}
}
