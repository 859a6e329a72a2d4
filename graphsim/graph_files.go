package graphsim

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// ShareID encodes a sharing URL as Graph's /shares/{id}: "u!" + unpadded base64url.
func ShareID(sharingURL string) string {
	return "u!" + base64.RawURLEncoding.EncodeToString([]byte(sharingURL))
}

func (s *Sim) serveShare(w http.ResponseWriter, r *http.Request, ti TokenInfo, shareID string, content bool) {
	if !requirePerm(w, r, ti, filesApp, filesDelegated) {
		return
	}
	if !strings.HasPrefix(shareID, "u!") {
		writeODataError(w, r, http.StatusBadRequest, "invalidRequest", "Invalid shares key.")
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(shareID[2:], "="))
	if err != nil {
		writeODataError(w, r, http.StatusBadRequest, "invalidRequest", "Invalid shares key.")
		return
	}
	s.mu.Lock()
	f, ok := s.files[string(raw)]
	readable := ok && f.readableBy(ti)
	s.mu.Unlock()
	if !ok {
		writeODataError(w, r, http.StatusNotFound, "itemNotFound", "The sharing link no longer exists, or you do not have permission to access it.")
		return
	}
	if !readable {
		writeODataError(w, r, http.StatusForbidden, "accessDenied", "Access denied")
		return
	}
	download := f.url + "?download=1&tempauth=" + randomToken(24)
	if content {
		http.Redirect(w, r, download, http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context":               s.graphBase(r) + "/$metadata#shares('" + shareID + "')/driveItem/$entity",
		"@microsoft.graph.downloadUrl": download,
		"id":                           strings.ToUpper(strings.ReplaceAll(f.id, "-", "")),
		"name":                         f.name,
		"size":                         len(f.bytes),
		"webUrl":                       f.url,
		"createdDateTime":              fmtTime(f.created),
		"lastModifiedDateTime":         fmtTime(f.created),
		"file":                         map[string]any{"mimeType": f.contentType},
	})
}

// serveFileDownload serves the SharePoint-like file URLs (and their
// pre-authenticated download variants) without authentication.
func (s *Sim) serveFileDownload(w http.ResponseWriter, r *http.Request) {
	u := s.baseURL() + r.URL.EscapedPath()
	s.mu.Lock()
	f, ok := s.files[u]
	s.mu.Unlock()
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.bytes)))
	_, _ = w.Write(f.bytes)
}
