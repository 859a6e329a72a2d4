package api

import (
	"html/template"
	"net/http"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/connect"
)

// page is a small standalone HTML page shown in the browser tab that went through the Microsoft sign-in.
var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} - MS Teams for Mattermost</title>
<style>
body { font-family: "Open Sans", -apple-system, "Segoe UI", sans-serif; background: #f4f4f6; color: #3f4350; margin: 0; }
main { max-width: 560px; margin: 12vh auto; background: #fff; border-radius: 8px; padding: 32px 40px; box-shadow: 0 2px 8px rgba(0,0,0,.08); }
h1 { font-size: 22px; margin-top: 0; }
h1.ok { color: #3db887; } h1.refused { color: #d24b4e; }
p { line-height: 1.5; }
</style>
</head>
<body>
<main>
<h1 class="{{if .OK}}ok{{else}}refused{{end}}">{{.Title}}</h1>
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}<p>You can close this page.</p>
</main>
</body>
</html>
`))

type pageData struct {
	OK         bool
	Title      string
	Paragraphs []string
}

func renderPage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = page.Execute(w, d)
}

// refusalPage shows why a connection was refused, or a generic failure for unexpected errors.
func (h *handler) refusalPage(w http.ResponseWriter, r *http.Request, err error) {
	var ref *connect.Refusal
	if errors.As(err, &ref) {
		renderPage(w, http.StatusForbidden, pageData{Title: "Your account was not connected", Paragraphs: []string{ref.Message()}})
		return
	}
	if h.Logger != nil {
		h.Logger.LogError("Connecting a Microsoft account failed", "path", r.URL.Path, "error", err.Error())
	}
	renderPage(w, http.StatusInternalServerError, pageData{Title: "Your account was not connected",
		Paragraphs: []string{"Something went wrong on the server. Please try again later with /msteams connect; if it keeps failing, tell your system administrator."}})
}

// connect starts a sign-in when the user clicks a connect link, so the state is always fresh.
func (h *handler) connect(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(UserHeader)
	if id == "" {
		renderPage(w, http.StatusUnauthorized, pageData{Title: "Please log in to Mattermost",
			Paragraphs: []string{"Log in to Mattermost in this browser, then click the connect link again."}})
		return
	}
	begin := h.Connections.Begin
	if r.URL.Query().Get("renew") == "1" {
		// A connected user signing in again to pick up permissions granted since (replies).
		begin = h.Connections.BeginRenewal
	}
	target, err := begin(r.Context(), id)
	if err != nil {
		h.refusalPage(w, r, err)
		return
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// oauthRedirect is where Microsoft sends the browser back; the path is registered in Entra app registrations.
func (h *handler) oauthRedirect(w http.ResponseWriter, r *http.Request) {
	res, err := h.Connections.Complete(r.Context(), r.Header.Get(UserHeader), r.URL.Query())
	if err != nil {
		h.refusalPage(w, r, err)
		return
	}
	paras := []string{"Your Mattermost account is now connected to the Microsoft Teams account " + res.AccountEmail + "."}
	if !res.Reconnected {
		paras = append(paras, "Teams chat messages you receive while you are away from Teams will arrive as direct messages from the MS Teams bot. The bot has sent you a message explaining how to turn this off.")
	}
	renderPage(w, http.StatusOK, pageData{OK: true, Title: "Your account is connected", Paragraphs: paras})
}
