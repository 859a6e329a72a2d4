package api

import (
	"encoding/csv"
	"net/http"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/accountlink"
	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// putAccountLinks replaces every account link with an uploaded CSV (see accountlink.ParseCSV), or changes nothing
// and reports every bad line. Connections already made stay as they are.
func (h *handler) putAccountLinks(w http.ResponseWriter, r *http.Request) {
	body, ok := csvUpload(w, r, "the account links")
	if !ok {
		return
	}
	rows, bad, err := accountlink.ParseCSV(body)
	if err != nil {
		h.uploadFailed(w, r, err, "The account links file")
		return
	}
	links := make([]store.AccountLink, 0, len(rows))
	for _, row := range rows {
		u, gerr := h.Mattermost.GetUserByEmail(row.Email)
		if errors.Is(gerr, connect.ErrNotFound) {
			bad = append(bad, accountlink.LineError{Line: row.Line, Message: "No Mattermost user has the email \"" + row.Email + "\"."})
			continue
		}
		if gerr != nil {
			h.fail(w, r, errors.Wrap(gerr, "look up a linked user"))
			return
		}
		links = append(links, store.AccountLink{MMUserID: u.Id, MicrosoftAccount: row.MicrosoftAccount})
	}
	if len(bad) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": bad})
		return
	}
	if err := h.Links.ReplaceAccountLinks(r.Context(), links, h.Now().UTC()); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": len(links)})
}

// accountLinksCSV downloads the links in the upload format, so an admin can edit and upload them again.
func (h *handler) accountLinksCSV(w http.ResponseWriter, r *http.Request) {
	links, err := h.Links.ListAccountLinks(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="msteams-account-links.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"email", "microsoft_account"})
	for _, l := range links {
		email := "(deleted user " + l.MMUserID + ")"
		if u, err := h.Mattermost.GetUser(l.MMUserID); err == nil {
			email = u.Email
		}
		_ = cw.Write([]string{email, l.MicrosoftAccount})
	}
	cw.Flush()
}

// deleteAccountLink removes one user's link. A connection made with it stays until the user disconnects.
func (h *handler) deleteAccountLink(w http.ResponseWriter, r *http.Request) {
	removed, err := h.Links.DeleteAccountLink(r.Context(), r.PathValue("userID"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !removed {
		writeError(w, http.StatusNotFound, "This user has no Microsoft account link.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
