package graphsim

import (
	"crypto/sha1" // name-based (RFC 4122 version 5) UUIDs, not a security use
	"fmt"
	"net/http"
	"strings"
)

// graphResourceAppID is Microsoft Graph's appId, the resourceAppId of its permissions.
const graphResourceAppID = "00000003-0000-0000-c000-000000000000"

// graphScopeIDs and graphRoleIDs are the ids Microsoft Graph publishes for its
// delegated permissions (oauth2PermissionScopes) and application permissions
// (appRoles), as listed in the Graph permissions reference.
var graphScopeIDs = map[string]string{
	"User.Read":            "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
	"User.ReadBasic.All":   "b340eb25-3456-403f-be2f-af7a0d370277",
	"User.Read.All":        "a154be20-db9c-4678-8ab7-66f6cc099a59",
	"Chat.Read":            "f501c180-9344-439a-bca0-6cbf209fd270",
	"Chat.ReadWrite":       "9ff7295e-131b-4d94-90e1-69fde507ac11",
	"Chat.ReadBasic":       "9547fcb5-d03f-419d-9948-5928bbf71b0f",
	"ChatMessage.Read":     "cdcdac3a-fd45-410d-83ef-554db620e5c7",
	"ChatMember.Read":      "c5a9e2b1-faf6-41d4-8875-d381aa549b24",
	"ChatMessage.Send":     "116b7235-7cc6-461e-b163-8e55691d839e",
	"Presence.Read":        "76bc735e-aecd-4a1d-8b4c-2b915deabb79",
	"Presence.Read.All":    "9c7a330d-35b3-4aa1-963d-cb2b9f927841",
	"Files.Read":           "10465720-29dd-4523-a11a-6a75c743c9d9",
	"Files.Read.All":       "df85f4d6-205c-4ac5-a5ea-6bf408dba283",
	"Sites.Read.All":       "205e70e5-aba6-4c52-a976-6d2d46c48043",
	"Directory.Read.All":   "06da0dbc-49e2-44d2-8312-53f166ab848a",
	"Application.Read.All": "c79f8feb-a9db-4090-85f9-90d820caa0eb",
	"offline_access":       "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
	"openid":               "37f7f235-527c-4136-accd-4a02d197296e",
	"profile":              "14dad69e-099b-42c9-810b-d002981feec1",
	"email":                "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
}

var graphRoleIDs = map[string]string{
	"Chat.Read.All":           "6b7d71aa-70aa-4810-a8d9-5d9fb2830017",
	"ChannelMessage.Read.All": "7b2449af-6ccd-4f4d-9f78-e550c193f0d1",
	"Channel.ReadBasic.All":   "59a6b24b-4225-4393-8165-ebaec5f55d7a",
	"ChannelMember.Read.All":  "3b55498e-47ec-484f-8136-9013221c06a9",
	"TeamMember.Read.All":     "660b7406-55f1-41ca-a0ed-0b035e182f3e",
	"Team.ReadBasic.All":      "2280dda6-0bfd-44ee-a2f4-cb867cfc4c1e",
	"TeamworkTag.Read.All":    "b74fd6c4-4bde-488e-9695-eeb100e4907f",
	"Chat.ReadWrite.All":      "294ce7c9-31ba-490a-ad7d-97a7d075e4ed",
	"Chat.ReadBasic.All":      "b2e060da-3baf-4687-9611-f4ebc0f0cbde",
	"ChatMessage.Read.All":    "b9bb2381-47a4-46cd-aafb-00cb12f68504",
	"ChatMember.Read.All":     "a3410be2-8e48-4f32-8454-c29a7465209d",
	"Presence.Read.All":       "a70e0c2d-e793-494c-94c4-118fa0a67f42",
	"Presence.ReadWrite.All":  "83cded22-8297-4ff6-a7fa-e97e9545a259",
	"User.Read.All":           "df021288-bdef-4463-88db-98f22de89214",
	"User.ReadBasic.All":      "97235f07-e226-4f63-ace3-39588e11d3a1",
	"Files.Read.All":          "01d4889c-1287-42c6-ac1f-5d1e02578ef6",
	"Files.ReadWrite.All":     "75359482-378d-4052-8f01-80520e7db3cd",
	"Sites.Read.All":          "332a536c-c7ef-4017-ab91-336970924f0d",
	"Directory.Read.All":      "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
	"Application.Read.All":    "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
}

// permissionID is the published id of a Graph permission. A name graphsim does
// not know gets a stable name-based UUID, so any registration still renders.
func permissionID(name, kind string, known map[string]string) string {
	if id, ok := known[name]; ok {
		return id
	}
	h := sha1.Sum([]byte("graphsim:" + kind + ":" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// requiredResourceAccess is the registration's configured Graph permissions:
// delegated ones as type Scope, application ones as type Role.
func requiredResourceAccess(a AppRegistration) []any {
	access := []any{}
	for _, sc := range a.DelegatedScopes {
		access = append(access, map[string]any{"id": permissionID(sc, "Scope", graphScopeIDs), "type": "Scope"})
	}
	for _, r := range a.AppRoles {
		access = append(access, map[string]any{"id": permissionID(r, "Role", graphRoleIDs), "type": "Role"})
	}
	return []any{map[string]any{"resourceAppId": graphResourceAppID, "resourceAccess": access}}
}

// serveAppRegistration serves GET /applications(appId='…'): the registration,
// its secret's metadata and its configured permissions.
func (s *Sim) serveAppRegistration(w http.ResponseWriter, r *http.Request, ti TokenInfo, seg string) {
	if !requirePerm(w, r, ti, appReadPerms, appReadPerms) {
		return
	}
	appID := strings.Trim(strings.TrimSuffix(strings.TrimPrefix(seg, "applications(appId="), ")"), "'")
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appID]
	if !ok || a.TenantID != ti.TenantID {
		writeODataError(w, r, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+appID+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	hint := a.ClientSecret
	if len(hint) > 3 {
		hint = hint[:3]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": s.graphBase(r) + "/$metadata#applications/$entity",
		"id":             a.secretKeyID,
		"appId":          a.ClientID,
		"displayName":    a.DisplayName,
		"signInAudience": "AzureADMyOrg",
		"passwordCredentials": []any{map[string]any{
			"customKeyIdentifier": nil,
			"displayName":         "graphsim secret",
			"endDateTime":         fmtTime(a.SecretExpires),
			"hint":                hint,
			"keyId":               a.secretKeyID,
			"secretText":          nil,
			"startDateTime":       fmtTime(a.created),
		}},
		"requiredResourceAccess": requiredResourceAccess(a.AppRegistration),
	})
}
