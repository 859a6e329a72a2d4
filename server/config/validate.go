package config

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/pkg/errors"
)

// labels are the System Console display names (plugin.json display_name without the trailing colon), so that a
// message names the field exactly as the administrator sees it.
var labels = map[string]string{
	"TenantID":                        "Tenant ID",
	"ClientID":                        "Client ID",
	"ClientSecret":                    "Client Secret",
	"Cloud":                           "Microsoft cloud",
	"CustomAuthorityURL":              "Custom cloud: login authority URL",
	"CustomGraphURL":                  "Custom cloud: Microsoft Graph URL",
	"CustomCACertificate":             "Custom cloud: CA certificate (PEM)",
	"EncryptionKey":                   "At-rest encryption key",
	"WebhookSecret":                   "Webhook secret",
	"EvaluationAPI":                   "Use the evaluation API model",
	"SyncNotifications":               "Sync notifications",
	"RichNotifications":               "Receive message content with notifications",
	"ChannelNotifications":            "Teams channel notifications",
	"ConnectedUsersAllowed":           "Max connected users",
	"ConnectedUsersMaxPendingInvites": "Max pending invites",
	"InviteExpiryDays":                "Invitation expiry (days)",
	"ConnectedUsersRestricted":        "Restrict connections to the whitelist",
	"AllowProxyAddresses":             "Match Microsoft proxy addresses",
}

// Label returns the System Console label of a setting key, or the key itself when it has none.
func Label(key string) string {
	if l, ok := labels[key]; ok {
		return l
	}
	return key
}

var (
	guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// A verified domain such as contoso.onmicrosoft.com is accepted as a tenant by the identity platform.
	domainPattern = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
)

const (
	tenantHint = "Copy the Directory (tenant) ID from the app registration's Overview page in Microsoft Entra."
	clientHint = "Copy the Application (client) ID from the app registration's Overview page in Microsoft Entra."
)

// Validate checks the settings and returns one admin-facing error that names every wrong field by its System
// Console label and says what to do, or nil. Secret values never appear in the message.
func (c Configuration) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// A value that could not be decoded at all is reported first: the checks below would see a zero instead.
	for _, key := range strings.Fields(c.undecodable) {
		switch key {
		case "ConnectedUsersAllowed", "ConnectedUsersMaxPendingInvites", "InviteExpiryDays":
			add("%s must be a whole number.", Label(key))
		case "EvaluationAPI", "SyncNotifications", "RichNotifications", "ChannelNotifications", "ConnectedUsersRestricted", "AllowProxyAddresses":
			add("%s must be true or false.", Label(key))
		default:
			add("%s could not be read. Enter it again in the System Console.", Label(key))
		}
	}

	tenant := strings.TrimSpace(c.TenantID)
	switch {
	case tenant == "":
		add("Tenant ID is required. %s", tenantHint)
	case !guidPattern.MatchString(tenant) && !domainPattern.MatchString(tenant):
		add("Tenant ID %q is neither a GUID nor a domain such as contoso.onmicrosoft.com. %s", tenant, tenantHint)
	}

	client := strings.TrimSpace(c.ClientID)
	switch {
	case client == "":
		add("Client ID is required. %s", clientHint)
	case !guidPattern.MatchString(client):
		add("Client ID %q is not a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47. %s", client, clientHint)
	}

	secret := strings.TrimSpace(c.ClientSecret)
	switch {
	case secret == "":
		add("Client Secret is required. Create one under Certificates & secrets in the app registration and paste its Value.")
	case guidPattern.MatchString(secret):
		// The Secret ID column is a GUID; the Value never is. Pasting the ID is the most common setup mistake.
		add("Client Secret looks like a Secret ID. Paste the Value column from Certificates & secrets instead, not the Secret ID.")
	}

	switch c.cloudName() {
	case CloudCommercial, CloudGCCHigh, CloudDoD, CloudChina:
	case CloudCustom:
		problems = append(problems, c.validateCustomCloud()...)
	default:
		add("Microsoft cloud %q is not known. Choose Commercial, US Government GCC High, US Government DoD, China or Custom.", c.Cloud)
	}

	if strings.TrimSpace(c.EncryptionKey) == "" {
		add("At-rest encryption key is missing. Select Regenerate next to it in the System Console and save.")
	}
	if strings.TrimSpace(c.WebhookSecret) == "" {
		add("Webhook secret is missing. Select Regenerate next to it in the System Console and save.")
	}

	for _, n := range []struct {
		key   string
		value int
	}{
		{"ConnectedUsersAllowed", c.ConnectedUsersAllowed},
		{"ConnectedUsersMaxPendingInvites", c.ConnectedUsersMaxPendingInvites},
		{"InviteExpiryDays", c.InviteExpiryDays},
	} {
		if n.value < 0 {
			add("%s must be 0 or more, not %d.", Label(n.key), n.value)
		}
	}
	if c.ConnectedUsersMaxPendingInvites > 0 && c.InviteExpiryDays == 0 {
		add("Invitation expiry (days) must be at least 1 while Max pending invites allows invitations.")
	}

	if len(problems) == 0 {
		return nil
	}
	return errors.New("MS Teams plugin: " + strings.Join(problems, " "))
}

func (c Configuration) validateCustomCloud() []string {
	var problems []string
	if msg := checkURL(Label("CustomAuthorityURL"), c.CustomAuthorityURL, false, false,
		"Enter the https URL of the identity platform host, for example https://login.microsoftonline.com."); msg != "" {
		problems = append(problems, msg)
	}
	if msg := checkURL(Label("CustomGraphURL"), c.CustomGraphURL, true, true,
		"Enter the https URL of Microsoft Graph including the version, for example https://graph.microsoft.com/v1.0."); msg != "" {
		problems = append(problems, msg)
	}
	if pem := strings.TrimSpace(c.CustomCACertificate); pem != "" {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(pem)) {
			problems = append(problems, Label("CustomCACertificate")+" could not be read. Paste the whole PEM block, including the BEGIN CERTIFICATE and END CERTIFICATE lines, or leave it empty.")
		}
	}
	return problems
}

// checkURL returns a message when raw is not a usable base URL for a custom cloud, or "". wantPath says whether
// the URL must carry a path (Graph needs its version segment; the authority must not carry one because the
// identity library appends the tenant to it). loopbackHTTP allows plain http to localhost, for test setups: the
// Graph SDK sends tokens over http only to loopback hosts, and azidentity refuses any http authority.
func checkURL(label, raw string, wantPath, loopbackHTTP bool, hint string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return fmt.Sprintf("%s is required when Microsoft cloud is Custom. %s", label, hint)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return fmt.Sprintf("%s %q is not a valid URL. %s", label, raw, hint)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopbackHTTP {
			return fmt.Sprintf("%s must use https. %s", label, hint)
		}
		if !isLoopback(u.Hostname()) {
			return fmt.Sprintf("%s must use https; plain http is accepted only for localhost. %s", label, hint)
		}
	default:
		return fmt.Sprintf("%s %q is not an https URL. %s", label, raw, hint)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%s must not contain a user name, query or fragment. %s", label, hint)
	}
	path := strings.Trim(u.Path, "/")
	if wantPath && path == "" {
		return fmt.Sprintf("%s must include the API version. %s", label, hint)
	}
	if !wantPath && path != "" {
		return fmt.Sprintf("%s must be the host only, without the tenant or any path. %s", label, hint)
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// cloudName normalises the Cloud setting; an empty value (settings saved before the dropdown existed) means the
// manifest default.
func (c Configuration) cloudName() string {
	name := strings.ToLower(strings.TrimSpace(c.Cloud))
	if name == "" {
		return CloudCommercial
	}
	return name
}

// Warnings lists admin-facing problems that do not stop the plugin: a stored webhook secret that is too weak is
// reported (log and admin status) rather than refused, so a deployment whose secret predates the strength rule
// keeps receiving notifications until the administrator regenerates it.
func (c Configuration) Warnings() []string {
	if secret := strings.TrimSpace(c.WebhookSecret); secret != "" {
		if p := WebhookSecretProblem(secret); p != "" {
			return []string{p}
		}
	}
	return nil
}

// ValidateChange is Validate for a configuration replacing prev: a webhook secret the administrator has just
// changed must also be strong, since a new value is a choice made now, unlike one already in use.
func (c Configuration) ValidateChange(prev Configuration) error {
	err := c.Validate()
	secret := strings.TrimSpace(c.WebhookSecret)
	if secret == "" || secret == strings.TrimSpace(prev.WebhookSecret) {
		return err
	}
	p := WebhookSecretProblem(secret)
	switch {
	case p == "":
		return err
	case err == nil:
		return errors.New(p)
	default:
		return errors.Errorf("%s %s", err.Error(), p)
	}
}
