package config

import (
	"net/url"
	"strings"

	"github.com/pkg/errors"
)

// Endpoints are the hosts one Microsoft cloud uses for sign-in and for Microsoft Graph.
//
// Sources (checked 2026-11 with the docs search):
//   - learn.microsoft.com/graph/deployments, "App registration and token service root endpoints": Microsoft Entra ID
//     is https://login.microsoftonline.com (global), https://login.microsoftonline.us (US Government, both GCC High
//     and DoD) and https://login.chinacloudapi.cn (21Vianet). The Entra page "authentication-national-cloud" now
//     lists https://login.partner.microsoftonline.cn for China; MSAL treats both China hosts as trusted aliases and
//     azcore's cloud.AzureChina still uses login.chinacloudapi.cn, so we keep that one.
//   - same page, "Microsoft Graph and Graph Explorer service root endpoints": https://graph.microsoft.com (global),
//     https://graph.microsoft.us (US Government L4, GCC High), https://dod-graph.microsoft.us (US Government L5, DoD),
//     https://microsoftgraph.chinacloudapi.cn (21Vianet).
//   - learn.microsoft.com/graph/sdks/national-clouds: a .default scope must use the Graph host of the national
//     cloud it is sent to.
type Endpoints struct {
	// AuthorityHost is the identity platform host as scheme://host[:port], without a trailing slash or tenant.
	AuthorityHost string
	// GraphBaseURL is the Graph root including the version, without a trailing slash.
	GraphBaseURL string
	// GraphHost is the Graph host name without port: the SDK's allowed-hosts list compares host names only.
	GraphHost string
	// GraphScope is the .default scope for Graph in this cloud (for a custom cloud: global Graph's).
	GraphScope string
	// DisableInstanceDiscovery is true when MSAL must not ask login.microsoftonline.com whether the authority
	// exists. MSAL ships metadata for the national-cloud hosts, so only custom hosts need it.
	DisableInstanceDiscovery bool
	// CACertificatePEM is extra trust for the custom hosts, or "".
	CACertificatePEM string
}

// AuthorizeURL is the v2.0 authorize endpoint of tenant.
func (e Endpoints) AuthorizeURL(tenant string) string {
	return e.AuthorityHost + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/authorize"
}

// TokenURL is the v2.0 token endpoint of tenant.
func (e Endpoints) TokenURL(tenant string) string {
	return e.AuthorityHost + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

const commercialGraphScope = "https://graph.microsoft.com/.default"

var nationalClouds = map[string]Endpoints{
	CloudCommercial: {
		AuthorityHost: "https://login.microsoftonline.com",
		GraphBaseURL:  "https://graph.microsoft.com/v1.0",
		GraphHost:     "graph.microsoft.com",
		GraphScope:    "https://graph.microsoft.com/.default",
	},
	CloudGCCHigh: {
		AuthorityHost: "https://login.microsoftonline.us",
		GraphBaseURL:  "https://graph.microsoft.us/v1.0",
		GraphHost:     "graph.microsoft.us",
		GraphScope:    "https://graph.microsoft.us/.default",
	},
	CloudDoD: {
		AuthorityHost: "https://login.microsoftonline.us",
		GraphBaseURL:  "https://dod-graph.microsoft.us/v1.0",
		GraphHost:     "dod-graph.microsoft.us",
		GraphScope:    "https://dod-graph.microsoft.us/.default",
	},
	CloudChina: {
		AuthorityHost: "https://login.chinacloudapi.cn",
		GraphBaseURL:  "https://microsoftgraph.chinacloudapi.cn/v1.0",
		GraphHost:     "microsoftgraph.chinacloudapi.cn",
		GraphScope:    "https://microsoftgraph.chinacloudapi.cn/.default",
	},
}

// Endpoints resolves the hosts of the configured cloud. It fails only for an unknown cloud or unusable custom
// URLs, which Validate reports in admin terms.
func (c Configuration) Endpoints() (Endpoints, error) {
	name := c.cloudName()
	if e, ok := nationalClouds[name]; ok {
		return e, nil
	}
	if name != CloudCustom {
		return Endpoints{}, errors.Errorf("unknown Microsoft cloud %q", c.Cloud)
	}

	if msg := checkURL(Label("CustomAuthorityURL"), c.CustomAuthorityURL, false, false, ""); msg != "" {
		return Endpoints{}, errors.New(strings.TrimSpace(msg))
	}
	if msg := checkURL(Label("CustomGraphURL"), c.CustomGraphURL, true, true, ""); msg != "" {
		return Endpoints{}, errors.New(strings.TrimSpace(msg))
	}
	authority, _ := url.Parse(strings.TrimSpace(c.CustomAuthorityURL))
	graph, _ := url.Parse(strings.TrimSpace(c.CustomGraphURL))
	return Endpoints{
		AuthorityHost: strings.ToLower(authority.Scheme) + "://" + authority.Host,
		GraphBaseURL:  strings.ToLower(graph.Scheme) + "://" + graph.Host + strings.TrimRight(graph.EscapedPath(), "/"),
		GraphHost:     strings.ToLower(graph.Hostname()),
		// A scope names a resource (an application ID URI), not a host. A custom host is either an emulator or a
		// proxy in front of global Graph, and both expect Graph's own identifier; graphsim enforces exactly this.
		GraphScope:               commercialGraphScope,
		DisableInstanceDiscovery: true,
		CACertificatePEM:         strings.TrimSpace(c.CustomCACertificate),
	}, nil
}
