package connect

import "strings"

// accountMatches applies the linking rule: mail or userPrincipalName equals the Mattermost email
// (case-insensitively); with allowProxy, any SMTP proxy address may match as well.
func accountMatches(a Account, mmEmail string, allowProxy bool) bool {
	want := strings.TrimSpace(mmEmail)
	if want == "" {
		return false
	}
	candidates := []string{a.Mail, a.UserPrincipalName}
	if allowProxy {
		for _, p := range a.ProxyAddresses {
			// Only SMTP addresses are mail addresses; SIP/X500/etc. entries are not.
			switch {
			case len(p) > 5 && strings.EqualFold(p[:5], "smtp:"):
				candidates = append(candidates, p[5:])
			case !strings.Contains(p, ":"):
				candidates = append(candidates, p)
			}
		}
	}
	for _, c := range candidates {
		if c != "" && strings.EqualFold(strings.TrimSpace(c), want) {
			return true
		}
	}
	return false
}

// accountEmail is the address shown for an account: its mail, or its userPrincipalName when mail is empty.
func accountEmail(a Account) string {
	if a.Mail != "" {
		return a.Mail
	}
	return a.UserPrincipalName
}
