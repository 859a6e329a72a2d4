package config

import (
	"strings"

	"github.com/pkg/errors"
)

// TokenIssuers say who signs the validationTokens of rich change notifications in one cloud. Microsoft Graph's
// change-tracking app gets them from Entra ID of the subscribing tenant's cloud, so the issuer is that cloud's
// token service, which is not always the host the plugin signs in at.
//
// Sources (checked 2026-12 with the docs search):
//   - https://learn.microsoft.com/graph/change-notifications-with-resource-data#validation-tokens-in-the-change-notification:
//     a ver 1.0 token with "iss": "https://sts.windows.net/{tid}/" and "appid" 0bf30f3b-…, keys from the
//     authority's common discovery keys.
//   - https://learn.microsoft.com/answers/questions/1190472/what-are-the-token-issuers-for-the-sovereign-cloud
//     (Microsoft Q&A, answered by Microsoft): v1 / v2 issuer prefixes are https://sts.windows.net /
//     https://login.microsoftonline.com (global), https://sts.windows.net / https://login.microsoftonline.us
//     (US Government: GCC High and DoD share Entra ID) and https://sts.chinacloudapi.cn /
//     https://login.partner.microsoftonline.cn (21Vianet). China's v2 issuer is therefore not the
//     login.chinacloudapi.cn host we sign in at (see Endpoints), and its v1 issuer is not sts.windows.net.
type TokenIssuers struct {
	// V1Prefix and V2Prefix end with "/": the issuer of a ver 1.0 token is V1Prefix+tid+"/", of a ver 2.0 one
	// V2Prefix+tid+"/v2.0".
	V1Prefix string
	V2Prefix string
	// JWKSURL serves the signing keys.
	JWKSURL string
}

var nationalIssuers = map[string]TokenIssuers{
	CloudCommercial: {V1Prefix: "https://sts.windows.net/", V2Prefix: "https://login.microsoftonline.com/"},
	CloudGCCHigh:    {V1Prefix: "https://sts.windows.net/", V2Prefix: "https://login.microsoftonline.us/"},
	CloudDoD:        {V1Prefix: "https://sts.windows.net/", V2Prefix: "https://login.microsoftonline.us/"},
	CloudChina:      {V1Prefix: "https://sts.chinacloudapi.cn/", V2Prefix: "https://login.partner.microsoftonline.cn/"},
}

// TokenIssuers resolves the validation-token issuers of the configured cloud. A custom cloud (an emulator or
// private STS) issues both versions from its authority host.
func (c Configuration) TokenIssuers() (TokenIssuers, error) {
	ep, err := c.Endpoints()
	if err != nil {
		return TokenIssuers{}, errors.Wrap(err, "resolve the cloud endpoints")
	}
	authority := strings.TrimRight(ep.AuthorityHost, "/") + "/"
	iss, ok := nationalIssuers[c.cloudName()]
	if !ok {
		iss = TokenIssuers{V1Prefix: authority, V2Prefix: authority}
	}
	iss.JWKSURL = authority + "common/discovery/v2.0/keys"
	return iss, nil
}
