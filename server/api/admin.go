package api

import (
	"encoding/csv"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/store"
)

const (
	defaultPerPage = 50
	maxPerPage     = 200
	// maxWhitelistBytes bounds an uploaded whitelist; 5 MiB is well over 100,000 addresses.
	maxWhitelistBytes = 5 << 20
)

type connectedUser struct {
	MMUserID    string    `json:"mm_user_id"`
	Username    string    `json:"username"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Email       string    `json:"email"`
	TeamsUserID string    `json:"teams_user_id"`
	TeamsEmail  string    `json:"teams_email"`
	ConnectedAt time.Time `json:"connected_at"`
}

func (h *handler) describe(u store.User) connectedUser {
	c := connectedUser{MMUserID: u.MMUserID, TeamsUserID: u.TeamsUserID, TeamsEmail: u.TeamsEmail, ConnectedAt: u.ConnectedAt.UTC()}
	// A user deleted from Mattermost still holds a seat; report them with what the plugin knows.
	if mm, err := h.Mattermost.GetUser(u.MMUserID); err == nil {
		c.Username, c.FirstName, c.LastName, c.Email = mm.Username, mm.FirstName, mm.LastName, mm.Email
	}
	return c
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// eachConnected walks connected users in id order, stopping when fn returns false.
func (h *handler) eachConnected(r *http.Request, fn func(store.User) bool) error {
	after := ""
	for {
		users, err := h.Store.ListConnectedUsers(r.Context(), after, maxPerPage)
		if err != nil {
			return err
		}
		for _, u := range users {
			if !fn(u) {
				return nil
			}
		}
		if len(users) < maxPerPage {
			return nil
		}
		after = users[len(users)-1].MMUserID
	}
}

func (h *handler) connectedUsers(w http.ResponseWriter, r *http.Request) {
	page, ok1 := intParam(r, "page", 0, 0, 1<<20)
	perPage, ok2 := intParam(r, "per_page", defaultPerPage, 1, maxPerPage)
	if !ok1 || !ok2 {
		writeError(w, http.StatusBadRequest, "page must be 0 or more and per_page between 1 and "+strconv.Itoa(maxPerPage)+".")
		return
	}
	total, err := h.Store.CountConnectedUsers(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	skip := page * perPage
	users := []connectedUser{}
	err = h.eachConnected(r, func(u store.User) bool {
		if skip > 0 {
			skip--
			return true
		}
		users = append(users, h.describe(u))
		return len(users) < perPage
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "page": page, "per_page": perPage, "total": total})
}

func (h *handler) connectedUsersCSV(w http.ResponseWriter, r *http.Request) {
	var rows [][]string
	err := h.eachConnected(r, func(u store.User) bool {
		c := h.describe(u)
		rows = append(rows, []string{c.FirstName, c.LastName, c.Email, c.Username, c.MMUserID, c.TeamsUserID, c.TeamsEmail, c.ConnectedAt.Format(time.RFC3339)})
		return true
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeCSV(w, "connected-users.csv", []string{"First Name", "Last Name", "Email", "Username", "Mattermost User ID", "Teams User ID", "Teams Email", "Connected At"}, rows)
}

func writeCSV(w http.ResponseWriter, filename string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for _, row := range rows {
		for i, f := range row {
			row[i] = defuseFormula(f)
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

// defuseFormula keeps spreadsheet programs from running user-controlled fields (names) as formulas.
func defuseFormula(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (h *handler) whitelistCSV(w http.ResponseWriter, r *http.Request) {
	ids, err := h.Store.ListWhitelist(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows := make([][]string, 0, len(ids))
	for _, id := range ids {
		u, err := h.Mattermost.GetUser(id)
		if err != nil {
			// A user deleted from Mattermost since; their email is unknown now, so they cannot be listed.
			continue
		}
		rows = append(rows, []string{u.Email})
	}
	writeCSV(w, "whitelist.csv", []string{"email"}, rows)
}

type lineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// csvUpload returns an uploaded CSV file of at most 5 MB, or answers 400 naming what to upload.
func csvUpload(w http.ResponseWriter, r *http.Request, what string) (io.Reader, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxWhitelistBytes)
	body, err := whitelistBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Upload "+what+" as a CSV file (at most 5 MB) in the form field \"file\", or as the request body.")
		return nil, false
	}
	return body, true
}

// uploadFailed answers a failed read of an uploaded file: 413 when it was over the limit.
func (h *handler) uploadFailed(w http.ResponseWriter, r *http.Request, err error, what string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, what+" is larger than 5 MB.")
		return
	}
	h.fail(w, r, err)
}

// whitelistBody returns the uploaded CSV: a multipart "file" part (as the System Console uploads it) or the raw body.
func whitelistBody(r *http.Request) (io.Reader, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return r.Body, nil
	}
	if err := r.ParseMultipartForm(maxWhitelistBytes); err != nil {
		return nil, err
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return nil, err
	}
	return f, nil
}

// putWhitelist replaces the whole whitelist with a CSV of emails, or changes nothing and reports every bad line.
func (h *handler) putWhitelist(w http.ResponseWriter, r *http.Request) {
	body, ok := csvUpload(w, r, "the whitelist")
	if !ok {
		return
	}
	ids, lineErrs, err := h.parseWhitelist(body)
	if err != nil {
		h.uploadFailed(w, r, err, "The whitelist file")
		return
	}
	if len(lineErrs) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": lineErrs})
		return
	}
	if err := h.Store.ReplaceWhitelist(r.Context(), ids, h.Now().UTC()); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": len(ids)})
}

// parseWhitelist reads a CSV with the header "email" and one address per line. Each bad line is reported
// with its line number in the file; err is for failures that are not the file's fault.
func (h *handler) parseWhitelist(body io.Reader) (ids []string, bad []lineError, err error) {
	cr := csv.NewReader(body)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	seen := map[string]int{}
	first := true
	for {
		rec, rerr := cr.Read()
		if rerr == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		var perr *csv.ParseError
		if errors.As(rerr, &perr) {
			bad = append(bad, lineError{Line: perr.Line, Message: "This line is not valid CSV."})
			continue
		}
		if rerr != nil {
			return nil, nil, errors.Wrap(rerr, "read whitelist")
		}
		if first {
			first = false
			if len(rec) != 1 || !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(rec[0], "\ufeff")), "email") {
				bad = append(bad, lineError{Line: line, Message: `The first line must be the header "email".`})
			}
			continue
		}
		if len(rec) != 1 {
			bad = append(bad, lineError{Line: line, Message: "Each line must hold exactly one email address."})
			continue
		}
		email := strings.TrimSpace(rec[0])
		if email == "" {
			continue
		}
		if a, perr := mail.ParseAddress(email); perr != nil || a.Address != email {
			bad = append(bad, lineError{Line: line, Message: "\"" + email + "\" is not an email address."})
			continue
		}
		key := strings.ToLower(email)
		if prev, dup := seen[key]; dup {
			bad = append(bad, lineError{Line: line, Message: "\"" + email + "\" is already on line " + strconv.Itoa(prev) + "."})
			continue
		}
		seen[key] = line
		u, gerr := h.Mattermost.GetUserByEmail(email)
		if errors.Is(gerr, connect.ErrNotFound) {
			bad = append(bad, lineError{Line: line, Message: "No Mattermost user has the email \"" + email + "\"."})
			continue
		}
		if gerr != nil {
			return nil, nil, errors.Wrap(gerr, "look up whitelisted user")
		}
		ids = append(ids, u.Id)
	}
	if first {
		bad = append(bad, lineError{Line: 1, Message: `The file is empty; it must start with the header "email".`})
	}
	return ids, bad, nil
}

type statsResponse struct {
	Connected      int  `json:"connected"`
	PendingInvites int  `json:"pending_invites"`
	WhitelistSize  int  `json:"whitelist_size"`
	SeatsAllowed   int  `json:"seats_allowed"`
	SeatsAvailable int  `json:"seats_available"`
	InvitePoolSize int  `json:"invite_pool_size"`
	Restricted     bool `json:"restricted"`
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	st := h.Settings()
	var resp statsResponse
	var err error
	if resp.Connected, err = h.Store.CountConnectedUsers(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	if resp.PendingInvites, err = h.Store.CountPendingInvites(r.Context(), h.Now().UTC()); err != nil {
		h.fail(w, r, err)
		return
	}
	if resp.WhitelistSize, err = h.Store.CountWhitelist(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	resp.SeatsAllowed, resp.InvitePoolSize, resp.Restricted = st.ConnectedUsersAllowed, st.MaxPendingInvites, st.Restricted
	resp.SeatsAvailable = max(0, st.ConnectedUsersAllowed-resp.Connected-resp.PendingInvites)
	writeJSON(w, http.StatusOK, resp)
}
