package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/connect"
)

type meResponse struct {
	Connected     bool       `json:"connected"`
	TeamsEmail    string     `json:"teams_email"`
	ConnectedAt   *time.Time `json:"connected_at"`
	Notifications bool       `json:"notifications"`
}

func (h *handler) me(w http.ResponseWriter, r *http.Request) {
	st, err := h.Connections.Status(r.Context(), userID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	on, err := h.Connections.Notifications(userID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := meResponse{Connected: st.Connected, TeamsEmail: st.TeamsEmail, Notifications: on}
	if st.Connected {
		at := st.ConnectedAt.UTC()
		resp.ConnectedAt = &at
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *handler) setNotifications(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Enabled == nil {
		writeError(w, http.StatusBadRequest, `The body must be JSON like {"enabled": true}.`)
		return
	}
	st, err := h.Connections.Status(r.Context(), userID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !st.Connected {
		writeError(w, http.StatusConflict, "Your account is not connected to Microsoft Teams.")
		return
	}
	if err := h.Connections.SetNotifications(userID(r), *body.Enabled); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"notifications": *body.Enabled})
}

func (h *handler) disconnect(w http.ResponseWriter, r *http.Request) {
	err := h.Connections.Disconnect(r.Context(), userID(r))
	if errors.Is(err, connect.ErrNotConnected) {
		writeError(w, http.StatusConflict, "Your account is not connected to Microsoft Teams.")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"connected": false})
}

// invite lets the webapp ask, e.g. once per session, whether the user should be invited to connect.
func (h *handler) invite(w http.ResponseWriter, r *http.Request) {
	sent, err := h.Connections.MaybeInvite(r.Context(), userID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"invited": sent})
}
