package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	tenantGUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientGUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	secretVal  = "Abc8Q~secret-value-with~tilde.1234"
)

func valid() Configuration {
	c := Defaults()
	c.TenantID = tenantGUID
	c.ClientID = clientGUID
	c.ClientSecret = secretVal
	c.EncryptionKey = "enc-key-0123456789"
	c.WebhookSecret = "hook-secret-0123456789"
	return c
}

func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestDecodeAcceptsWhatMattermostDelivers(t *testing.T) {
	// LoadPluginConfiguration hands over lower-cased keys; numbers may arrive as numbers, floats or strings.
	for _, tc := range []struct {
		name string
		json string
	}{
		{"numbers as numbers", `{"connectedusersallowed": 1000, "connecteduserSmaxpendinginvites": 5, "inviteexpirydays": 7}`},
		{"numbers as strings", `{"connectedusersallowed": "1000", "connectedusersmaxpendinginvites": "5", "inviteexpirydays": " 7 "}`},
		{"numbers as floats", `{"ConnectedUsersAllowed": 1000.0, "ConnectedUsersMaxPendingInvites": 5e0, "InviteExpiryDays": "7.0"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Configuration
			require.NoError(t, json.Unmarshal([]byte(tc.json), &c))
			assert.Equal(t, 1000, c.ConnectedUsersAllowed)
			assert.Equal(t, 5, c.ConnectedUsersMaxPendingInvites)
			assert.Equal(t, 7, c.InviteExpiryDays)
			assert.Empty(t, c.undecodable)
		})
	}
}

func TestDecodeFullManifestShapedMap(t *testing.T) {
	m := map[string]any{
		"tenantid": tenantGUID, "clientid": clientGUID, "clientsecret": secretVal,
		"cloud": "custom", "customauthorityurl": "https://login.emu.test", "customgraphurl": "https://graph.emu.test/v1.0",
		"customcacertificate": "", "encryptionkey": "k", "webhooksecret": "w",
		"evaluationapi": "true", "syncnotifications": false, "richnotifications": "false",
		"connectedusersallowed": float64(25), "connectedusersmaxpendinginvites": "3", "inviteexpirydays": 2,
		"connectedusersrestricted": true, "allowproxyaddresses": "TRUE",
		"connecteduserswhitelist": nil, "unknownkey": []any{1, 2},
	}
	c, err := FromMap(m)
	require.NoError(t, err)
	assert.Equal(t, Configuration{
		TenantID: tenantGUID, ClientID: clientGUID, ClientSecret: secretVal,
		Cloud: "custom", CustomAuthorityURL: "https://login.emu.test", CustomGraphURL: "https://graph.emu.test/v1.0",
		EncryptionKey: "k", WebhookSecret: "w",
		EvaluationAPI: true, SyncNotifications: false, RichNotifications: false,
		ConnectedUsersAllowed: 25, ConnectedUsersMaxPendingInvites: 3, InviteExpiryDays: 2,
		ConnectedUsersRestricted: true, AllowProxyAddresses: true,
	}, c)
}

func TestDecodeKeepsDefaultsForMissingKeys(t *testing.T) {
	c, err := FromMap(map[string]any{"tenantid": tenantGUID})
	require.NoError(t, err)
	assert.Equal(t, 1000, c.ConnectedUsersAllowed)
	assert.Equal(t, 7, c.InviteExpiryDays)
	assert.True(t, c.SyncNotifications)
	assert.False(t, c.ChannelNotifications, "channel notifications stay off until the admin turns them on")
	assert.True(t, c.RichNotifications)
	assert.Equal(t, CloudCommercial, c.Cloud)
}

func TestToMapRoundTrips(t *testing.T) {
	c := valid()
	c.ConnectedUsersMaxPendingInvites = 4
	back, err := FromMap(c.ToMap())
	require.NoError(t, err)
	assert.Equal(t, c, back)
	assert.Len(t, c.ToMap(), 18)
}

func TestValidate(t *testing.T) {
	ca := testCAPEM(t)
	custom := func(mod func(*Configuration)) Configuration {
		c := valid()
		c.Cloud = CloudCustom
		c.CustomAuthorityURL = "https://login.emu.test"
		c.CustomGraphURL = "https://graph.emu.test/v1.0"
		mod(&c)
		return c
	}
	with := func(mod func(*Configuration)) Configuration { c := valid(); mod(&c); return c }

	for _, tc := range []struct {
		name string
		cfg  Configuration
		want string // "" means valid
	}{
		{"commercial defaults", valid(), ""},
		{"tenant as verified domain", with(func(c *Configuration) { c.TenantID = "contoso.onmicrosoft.com" }), ""},
		{"each national cloud", with(func(c *Configuration) { c.Cloud = "DoD" }), ""},
		{"empty cloud means commercial", with(func(c *Configuration) { c.Cloud = "" }), ""},
		{"custom with CA", custom(func(c *Configuration) { c.CustomCACertificate = ca }), ""},
		{"custom Graph on loopback http", custom(func(c *Configuration) {
			c.CustomAuthorityURL = "https://127.0.0.1:8443"
			c.CustomGraphURL = "http://localhost:8080/v1.0/"
		}), ""},
		{"custom URLs ignored under another cloud", with(func(c *Configuration) { c.CustomGraphURL = "ftp://x" }), ""},
		{"zero seats and no invites", with(func(c *Configuration) { c.ConnectedUsersAllowed = 0; c.InviteExpiryDays = 0 }), ""},

		{"tenant missing", with(func(c *Configuration) { c.TenantID = " " }),
			"MS Teams plugin: Tenant ID is required. Copy the Directory (tenant) ID from the app registration's Overview page in Microsoft Entra."},
		{"tenant malformed", with(func(c *Configuration) { c.TenantID = "not a tenant" }),
			`MS Teams plugin: Tenant ID "not a tenant" is neither a GUID nor a domain such as contoso.onmicrosoft.com. Copy the Directory (tenant) ID from the app registration's Overview page in Microsoft Entra.`},
		{"tenant common", with(func(c *Configuration) { c.TenantID = "common" }),
			`MS Teams plugin: Tenant ID "common" is neither a GUID nor a domain such as contoso.onmicrosoft.com. Copy the Directory (tenant) ID from the app registration's Overview page in Microsoft Entra.`},
		{"client missing", with(func(c *Configuration) { c.ClientID = "" }),
			"MS Teams plugin: Client ID is required. Copy the Application (client) ID from the app registration's Overview page in Microsoft Entra."},
		{"client malformed", with(func(c *Configuration) { c.ClientID = "3fa85f64-5717-4562-b3fc" }),
			`MS Teams plugin: Client ID "3fa85f64-5717-4562-b3fc" is not a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47. Copy the Application (client) ID from the app registration's Overview page in Microsoft Entra.`},
		{"secret missing", with(func(c *Configuration) { c.ClientSecret = "" }),
			"MS Teams plugin: Client Secret is required. Create one under Certificates & secrets in the app registration and paste its Value."},
		{"secret id pasted instead of value", with(func(c *Configuration) { c.ClientSecret = "0c9d0b4e-1a6b-4b8e-9f52-3d2c1b0a9f8e" }),
			"MS Teams plugin: Client Secret looks like a Secret ID. Paste the Value column from Certificates & secrets instead, not the Secret ID."},
		{"unknown cloud", with(func(c *Configuration) { c.Cloud = "germany" }),
			`MS Teams plugin: Microsoft cloud "germany" is not known. Choose Commercial, US Government GCC High, US Government DoD, China or Custom.`},
		{"custom without URLs", custom(func(c *Configuration) { c.CustomAuthorityURL = ""; c.CustomGraphURL = "" }),
			"MS Teams plugin: Custom cloud: login authority URL is required when Microsoft cloud is Custom. Enter the https URL of the identity platform host, for example https://login.microsoftonline.com. " +
				"Custom cloud: Microsoft Graph URL is required when Microsoft cloud is Custom. Enter the https URL of Microsoft Graph including the version, for example https://graph.microsoft.com/v1.0."},
		{"custom Graph plain http off loopback", custom(func(c *Configuration) { c.CustomGraphURL = "http://graph.emu.test/v1.0" }),
			"MS Teams plugin: Custom cloud: Microsoft Graph URL must use https; plain http is accepted only for localhost. Enter the https URL of Microsoft Graph including the version, for example https://graph.microsoft.com/v1.0."},
		{"custom authority plain http even on loopback", custom(func(c *Configuration) { c.CustomAuthorityURL = "http://127.0.0.1:8080" }),
			"MS Teams plugin: Custom cloud: login authority URL must use https. Enter the https URL of the identity platform host, for example https://login.microsoftonline.com."},
		{"custom authority with tenant", custom(func(c *Configuration) { c.CustomAuthorityURL = "https://login.emu.test/" + tenantGUID }),
			"MS Teams plugin: Custom cloud: login authority URL must be the host only, without the tenant or any path. Enter the https URL of the identity platform host, for example https://login.microsoftonline.com."},
		{"custom graph without version", custom(func(c *Configuration) { c.CustomGraphURL = "https://graph.emu.test/" }),
			"MS Teams plugin: Custom cloud: Microsoft Graph URL must include the API version. Enter the https URL of Microsoft Graph including the version, for example https://graph.microsoft.com/v1.0."},
		{"custom graph not a URL", custom(func(c *Configuration) { c.CustomGraphURL = "graph.emu.test/v1.0" }),
			`MS Teams plugin: Custom cloud: Microsoft Graph URL "graph.emu.test/v1.0" is not a valid URL. Enter the https URL of Microsoft Graph including the version, for example https://graph.microsoft.com/v1.0.`},
		{"custom graph wrong scheme", custom(func(c *Configuration) { c.CustomGraphURL = "ftp://graph.emu.test/v1.0" }),
			`MS Teams plugin: Custom cloud: Microsoft Graph URL "ftp://graph.emu.test/v1.0" is not an https URL. Enter the https URL of Microsoft Graph including the version, for example https://graph.microsoft.com/v1.0.`},
		{"custom graph with query", custom(func(c *Configuration) { c.CustomGraphURL = "https://graph.emu.test/v1.0?x=1" }),
			"MS Teams plugin: Custom cloud: Microsoft Graph URL must not contain a user name, query or fragment. Enter the https URL of Microsoft Graph including the version, for example https://graph.microsoft.com/v1.0."},
		{"custom CA garbage", custom(func(c *Configuration) {
			c.CustomCACertificate = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"
		}),
			"MS Teams plugin: Custom cloud: CA certificate (PEM) could not be read. Paste the whole PEM block, including the BEGIN CERTIFICATE and END CERTIFICATE lines, or leave it empty."},
		{"generated secrets missing", with(func(c *Configuration) { c.EncryptionKey = ""; c.WebhookSecret = "" }),
			"MS Teams plugin: At-rest encryption key is missing. Select Regenerate next to it in the System Console and save. Webhook secret is missing. Select Regenerate next to it in the System Console and save."},
		{"negative numbers", with(func(c *Configuration) {
			c.ConnectedUsersAllowed = -1
			c.ConnectedUsersMaxPendingInvites = -2
			c.InviteExpiryDays = -3
		}), "MS Teams plugin: Max connected users must be 0 or more, not -1. Max pending invites must be 0 or more, not -2. Invitation expiry (days) must be 0 or more, not -3."},
		{"invites without expiry", with(func(c *Configuration) { c.ConnectedUsersMaxPendingInvites = 10; c.InviteExpiryDays = 0 }),
			"MS Teams plugin: Invitation expiry (days) must be at least 1 while Max pending invites allows invitations."},
		{"everything missing lists every field", Configuration{},
			"MS Teams plugin: Tenant ID is required. Copy the Directory (tenant) ID from the app registration's Overview page in Microsoft Entra. " +
				"Client ID is required. Copy the Application (client) ID from the app registration's Overview page in Microsoft Entra. " +
				"Client Secret is required. Create one under Certificates & secrets in the app registration and paste its Value. " +
				"At-rest encryption key is missing. Select Regenerate next to it in the System Console and save. " +
				"Webhook secret is missing. Select Regenerate next to it in the System Console and save."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.NotContains(t, err.Error(), secretVal)
		})
	}
}

func TestValidateNamesUndecodableValues(t *testing.T) {
	c := valid()
	require.NoError(t, json.Unmarshal([]byte(`{"ConnectedUsersAllowed":"lots","InviteExpiryDays":7.5,"SyncNotifications":"maybe"}`), &c))
	err := c.Validate()
	require.Error(t, err)
	assert.Equal(t, "MS Teams plugin: Sync notifications must be true or false. Max connected users must be a whole number. Invitation expiry (days) must be a whole number.", err.Error())
}

func TestEndpointsPerCloud(t *testing.T) {
	for _, tc := range []struct {
		cloud string
		want  Endpoints
	}{
		{"commercial", Endpoints{AuthorityHost: "https://login.microsoftonline.com", GraphBaseURL: "https://graph.microsoft.com/v1.0", GraphHost: "graph.microsoft.com", GraphScope: "https://graph.microsoft.com/.default"}},
		{"", Endpoints{AuthorityHost: "https://login.microsoftonline.com", GraphBaseURL: "https://graph.microsoft.com/v1.0", GraphHost: "graph.microsoft.com", GraphScope: "https://graph.microsoft.com/.default"}},
		{"gcchigh", Endpoints{AuthorityHost: "https://login.microsoftonline.us", GraphBaseURL: "https://graph.microsoft.us/v1.0", GraphHost: "graph.microsoft.us", GraphScope: "https://graph.microsoft.us/.default"}},
		{"dod", Endpoints{AuthorityHost: "https://login.microsoftonline.us", GraphBaseURL: "https://dod-graph.microsoft.us/v1.0", GraphHost: "dod-graph.microsoft.us", GraphScope: "https://dod-graph.microsoft.us/.default"}},
		{"China", Endpoints{AuthorityHost: "https://login.chinacloudapi.cn", GraphBaseURL: "https://microsoftgraph.chinacloudapi.cn/v1.0", GraphHost: "microsoftgraph.chinacloudapi.cn", GraphScope: "https://microsoftgraph.chinacloudapi.cn/.default"}},
	} {
		t.Run(tc.cloud, func(t *testing.T) {
			c := valid()
			c.Cloud = tc.cloud
			c.CustomGraphURL = "https://ignored.test/v1.0"
			got, err := c.Endpoints()
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("custom", func(t *testing.T) {
		c := valid()
		c.Cloud = CloudCustom
		c.CustomAuthorityURL = "HTTPS://login.emu.test:8443/"
		c.CustomGraphURL = "https://graph.emu.test:9443/v1.0/"
		c.CustomCACertificate = "\n PEM \n"
		got, err := c.Endpoints()
		require.NoError(t, err)
		assert.Equal(t, Endpoints{
			AuthorityHost:            "https://login.emu.test:8443",
			GraphBaseURL:             "https://graph.emu.test:9443/v1.0",
			GraphHost:                "graph.emu.test",
			GraphScope:               "https://graph.microsoft.com/.default",
			DisableInstanceDiscovery: true,
			CACertificatePEM:         "PEM",
		}, got)
		assert.Equal(t, "https://login.emu.test:8443/contoso.onmicrosoft.com/oauth2/v2.0/token", got.TokenURL("contoso.onmicrosoft.com"))
		assert.Equal(t, "https://login.emu.test:8443/"+tenantGUID+"/oauth2/v2.0/authorize", got.AuthorizeURL(tenantGUID))
	})

	t.Run("unknown and broken", func(t *testing.T) {
		c := valid()
		c.Cloud = "mars"
		_, err := c.Endpoints()
		assert.EqualError(t, err, `unknown Microsoft cloud "mars"`)
		c.Cloud = CloudCustom
		c.CustomAuthorityURL = "https://login.emu.test"
		_, err = c.Endpoints()
		assert.Error(t, err)
	})
}

func TestGenerateSecrets(t *testing.T) {
	c := valid()
	c.EncryptionKey = ""
	c.WebhookSecret = ""
	filled, changed, err := GenerateSecrets(c)
	require.NoError(t, err)
	assert.True(t, changed)
	for _, s := range []string{filled.EncryptionKey, filled.WebhookSecret} {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err)
		assert.Len(t, raw, 32)
	}
	assert.NotEqual(t, filled.EncryptionKey, filled.WebhookSecret)
	assert.Empty(t, c.EncryptionKey, "the input is not modified")

	again, changed, err := GenerateSecrets(filled)
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, filled, again)

	half := valid()
	half.WebhookSecret = ""
	out, changed, err := GenerateSecrets(half)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, half.EncryptionKey, out.EncryptionKey, "an existing key is kept")
	assert.NotEmpty(t, out.WebhookSecret)
}

func TestStringRedactsSecrets(t *testing.T) {
	c := valid()
	c.Cloud = CloudCustom
	c.CustomCACertificate = testCAPEM(t)
	secrets := []string{c.ClientSecret, c.EncryptionKey, c.WebhookSecret}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, value := range []any{c, &c} {
			out := fmt.Sprintf(format, value)
			for _, s := range secrets {
				assert.NotContains(t, out, s, format)
			}
			assert.NotContains(t, out, "BEGIN CERTIFICATE", format)
			assert.Contains(t, out, tenantGUID, format)
			assert.Contains(t, out, "ClientSecret=(set)", format)
		}
	}
	c.ClientSecret = ""
	assert.Contains(t, c.String(), "ClientSecret=(empty)")
	assert.True(t, strings.HasPrefix(c.String(), "{TenantID="))
}

func TestConfigurationIsComparable(t *testing.T) {
	a, b := valid(), valid()
	assert.True(t, a == b)
	b.InviteExpiryDays++
	assert.False(t, a == b)
}

func TestDiff(t *testing.T) {
	base := valid()
	customBase := valid()
	customBase.Cloud = CloudCustom
	customBase.CustomAuthorityURL = "https://login.emu.test"
	customBase.CustomGraphURL = "https://graph.emu.test/v1.0"

	for _, tc := range []struct {
		name string
		old  Configuration
		mod  func(*Configuration)
		want Changes
	}{
		{"nothing", base, func(*Configuration) {}, Changes{}},
		{"client secret rotated", base, func(c *Configuration) { c.ClientSecret = "new" }, Changes{CredentialsChanged: true}},
		{"tenant", base, func(c *Configuration) { c.TenantID = "contoso.onmicrosoft.com" }, Changes{CredentialsChanged: true, SubscriptionNeedsRecreate: true}},
		{"client id", base, func(c *Configuration) { c.ClientID = tenantGUID }, Changes{CredentialsChanged: true, SubscriptionNeedsRecreate: true}},
		{"cloud", base, func(c *Configuration) { c.Cloud = CloudGCCHigh }, Changes{CredentialsChanged: true, SubscriptionNeedsRecreate: true}},
		{"cloud case only", base, func(c *Configuration) { c.Cloud = "Commercial" }, Changes{}},
		{"custom URL under commercial", base, func(c *Configuration) { c.CustomGraphURL = "https://x.test/v1.0" }, Changes{}},
		{"custom graph URL under custom", customBase, func(c *Configuration) { c.CustomGraphURL = "https://x.test/v1.0" }, Changes{CredentialsChanged: true, SubscriptionNeedsRecreate: true}},
		{"custom CA under custom", customBase, func(c *Configuration) { c.CustomCACertificate = "pem" }, Changes{CredentialsChanged: true, SubscriptionNeedsRecreate: true}},
		{"encryption key", base, func(c *Configuration) { c.EncryptionKey = "other" }, Changes{EncryptionKeyChanged: true}},
		{"webhook secret", base, func(c *Configuration) { c.WebhookSecret = "other" }, Changes{SubscriptionNeedsRecreate: true}},
		{"rich notifications", base, func(c *Configuration) { c.RichNotifications = false }, Changes{SubscriptionNeedsRecreate: true}},
		{"sync notifications", base, func(c *Configuration) { c.SyncNotifications = false }, Changes{NotificationsToggled: true}},
		{"channel notifications", base, func(c *Configuration) { c.ChannelNotifications = true }, Changes{ChannelNotificationsToggled: true}},
		{"evaluation API is inert", base, func(c *Configuration) { c.EvaluationAPI = true }, Changes{}},
		{"seats", base, func(c *Configuration) { c.ConnectedUsersAllowed = 5 }, Changes{LimitsChanged: true}},
		{"proxy addresses", base, func(c *Configuration) { c.AllowProxyAddresses = true }, Changes{LimitsChanged: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.old
			tc.mod(&n)
			got := Diff(tc.old, n)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.want != Changes{}, got.Any())
		})
	}
}

// The official MS Teams plugin has the same id, so its stored settings are what this plugin finds after an admin
// uploads it in its place: they must activate it without an edit.
func TestTheOfficialPluginsStoredSettingsActivateThisPlugin(t *testing.T) {
	official := map[string]any{
		"tenantid": tenantGUID, "clientid": clientGUID, "clientsecret": secretVal,
		"encryptionkey": "Zq3vN8xLr2TgW5bYc7HkP1sDf4JmA6eU", // generated by the official plugin: 32 characters
		"webhooksecret": "hook-secret",                      // any non-empty value was fine there
		"evaluationapi": false, "syncnotifications": true,
		"connectedusersallowed": 500, "connectedusersmaxpendinginvites": 20, "connectedusersrestricted": true,
		"maxsizeforcompletedownload": 20, "buffersizeforfilestreaming": 20, "connecteduserswhitelist": nil,
	}
	c, err := FromMap(official)
	require.NoError(t, err)
	require.NoError(t, c.Validate(), "activation accepts the official settings as they are")
	assert.Equal(t, "Zq3vN8xLr2TgW5bYc7HkP1sDf4JmA6eU", c.EncryptionKey)
	assert.Equal(t, "hook-secret", c.WebhookSecret, "the official subscription's clientState keeps working")
	assert.Equal(t, 500, c.ConnectedUsersAllowed)
	assert.True(t, c.ConnectedUsersRestricted)
	assert.Equal(t, CloudCommercial, c.Cloud, "settings the official plugin did not have take their defaults")
	assert.True(t, c.RichNotifications)
	assert.Equal(t, 7, c.InviteExpiryDays)

	_, changed, err := GenerateSecrets(c)
	require.NoError(t, err)
	assert.False(t, changed, "the carried-over key and secret are kept, not regenerated")
	require.NoError(t, c.ValidateChange(c), "an unchanged weak secret is not refused")
	assert.NotEmpty(t, c.Warnings(), "but the admin is told to regenerate it")
}
