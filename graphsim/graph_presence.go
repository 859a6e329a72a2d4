package graphsim

import (
	"encoding/json"
	"net/http"
)

func renderPresence(u *userState) map[string]any {
	return map[string]any{
		"id":                  u.ID,
		"availability":        u.presence.Availability,
		"activity":            u.presence.Activity,
		"statusMessage":       nil,
		"outOfOfficeSettings": map[string]any{"message": nil, "isOutOfOffice": false},
	}
}

func (s *Sim) servePresence(w http.ResponseWriter, r *http.Request, ti TokenInfo, userID string) {
	if !requirePerm(w, r, ti, presenceApp, presenceDelegated) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok || u.TenantID != ti.TenantID {
		writeODataError(w, r, http.StatusNotFound, "NotFound", "User not found.")
		return
	}
	out := renderPresence(u)
	out["@odata.context"] = s.graphBase(r) + "/$metadata#communications/presences/$entity"
	writeJSON(w, http.StatusOK, out)
}

// maxPresenceIDs is the documented cap of getPresencesByUserId.
const maxPresenceIDs = 650

func (s *Sim) servePresenceBatch(w http.ResponseWriter, r *http.Request, ti TokenInfo) {
	if !requirePerm(w, r, ti, presenceApp, []string{"Presence.Read.All"}) {
		return
	}
	var body struct {
		IDs []string `json:"ids"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Request body is not valid JSON.")
		return
	}
	if len(body.IDs) == 0 || len(body.IDs) > maxPresenceIDs {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "The number of ids must be between 1 and 650.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []any{}
	for _, id := range body.IDs {
		if u, ok := s.users[id]; ok && u.TenantID == ti.TenantID {
			items = append(items, renderPresence(u))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": s.graphBase(r) + "/$metadata#Collection(microsoft.graph.presence)", "value": items})
}
