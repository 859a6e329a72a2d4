package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The control API (/_sim/...) scripts Teams activity and the switches. It is
// unauthenticated: graphsim is a loopback test tool.

type controlFault struct {
	Route      string `json:"route"`
	Status     int    `json:"status,omitempty"`
	RetryAfter int    `json:"retryAfter,omitempty"`
	DelayMS    int    `json:"delayMs,omitempty"`
	Count      int    `json:"count,omitempty"`
	ForMS      int    `json:"forMs,omitempty"`
}

type reactionReq struct {
	UserID       string `json:"userId"`
	ReactionType string `json:"reactionType"`
}

func controlError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]any{"error": err.Error()})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		controlError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

// Info describes where the Sim listens.
type Info struct {
	AuthorityURL string `json:"authorityUrl"`
	GraphURL     string `json:"graphUrl"`
	JWKSURL      string `json:"jwksUrl"`
	CACertPEM    string `json:"caCertPem"`
}

func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	raw := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.EscapedPath(), "/_sim/"), "/"), "/")
	p := make([]string, len(raw))
	for i, x := range raw {
		p[i], _ = url.PathUnescape(x)
	}
	m := r.Method
	ok := func(v any) { writeJSON(w, http.StatusOK, v) }
	bad := func(err error) { controlError(w, http.StatusBadRequest, err) }
	switch {
	case len(p) == 1 && p[0] == "info" && m == http.MethodGet:
		ok(Info{AuthorityURL: s.AuthorityURL(), GraphURL: s.GraphURL(), JWKSURL: s.JWKSURL(), CACertPEM: string(s.ca.certPEM)})
	case len(p) == 1 && p[0] == "apps" && m == http.MethodPost:
		var a AppRegistration
		if decode(w, r, &a) {
			if err := s.AddApp(a); err != nil {
				bad(err)
				return
			}
			ok(map[string]string{"clientId": a.ClientID})
		}
	case len(p) == 3 && p[0] == "apps" && p[2] == "secret-failure" && m == http.MethodPut:
		var b struct{ Fail bool }
		if decode(w, r, &b) {
			s.FailClientSecret(p[1], b.Fail)
			ok(map[string]bool{"fail": b.Fail})
		}
	case len(p) == 3 && p[0] == "apps" && p[2] == "delegated-scopes" && m == http.MethodPut:
		var b struct {
			Scopes []string `json:"scopes"`
		}
		if decode(w, r, &b) {
			if err := s.SetDelegatedScopes(p[1], b.Scopes); err != nil {
				controlError(w, http.StatusNotFound, err)
				return
			}
			if b.Scopes == nil {
				b.Scopes = []string{}
			}
			ok(map[string][]string{"scopes": b.Scopes})
		}
	case len(p) == 3 && p[0] == "apps" && p[2] == "app-roles" && m == http.MethodPut:
		var b struct {
			Roles []string `json:"roles"`
		}
		if decode(w, r, &b) {
			if err := s.SetAppRoles(p[1], b.Roles); err != nil {
				controlError(w, http.StatusNotFound, err)
				return
			}
			if b.Roles == nil {
				b.Roles = []string{}
			}
			ok(map[string][]string{"roles": b.Roles})
		}
	case len(p) == 1 && p[0] == "users" && m == http.MethodPost:
		var u User
		if decode(w, r, &u) {
			if err := s.AddUser(u); err != nil {
				bad(err)
				return
			}
			ok(map[string]string{"id": u.ID})
		}
	case len(p) == 1 && p[0] == "users" && m == http.MethodGet:
		ok(s.Users())
	case len(p) == 3 && p[0] == "users" && p[2] == "presence" && (m == http.MethodPut || m == http.MethodPost):
		var pr Presence
		if decode(w, r, &pr) {
			if err := s.SetPresence(p[1], pr); err != nil {
				bad(err)
				return
			}
			ok(pr)
		}
	case len(p) == 1 && p[0] == "chats" && m == http.MethodPost:
		var c ChatSpec
		if decode(w, r, &c) {
			id, err := s.CreateChat(c)
			if err != nil {
				bad(err)
				return
			}
			ok(map[string]string{"id": id})
		}
	case len(p) == 1 && p[0] == "chats" && m == http.MethodGet:
		ok(s.Chats())
	case len(p) == 3 && p[0] == "chats" && p[2] == "messages" && m == http.MethodPost:
		var nm NewMessage
		if decode(w, r, &nm) {
			id, err := s.SendMessage(p[1], nm)
			if err != nil {
				bad(err)
				return
			}
			ok(map[string]string{"id": id})
		}
	case len(p) == 4 && p[0] == "chats" && p[2] == "messages" && m == http.MethodGet:
		b, found := s.MessageJSON(p[1], p[3])
		if !found {
			controlError(w, http.StatusNotFound, errNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case len(p) == 4 && p[0] == "chats" && p[2] == "messages" && m == http.MethodPatch:
		var b struct{ HTML string }
		if decode(w, r, &b) {
			if err := s.EditMessage(p[1], p[3], b.HTML); err != nil {
				bad(err)
				return
			}
			ok(map[string]string{"id": p[3]})
		}
	case len(p) == 4 && p[0] == "chats" && p[2] == "messages" && m == http.MethodDelete:
		if err := s.DeleteMessage(p[1], p[3]); err != nil {
			bad(err)
			return
		}
		ok(map[string]string{"id": p[3]})
	case len(p) == 5 && p[0] == "chats" && p[2] == "messages" && p[4] == "reactions" && (m == http.MethodPost || m == http.MethodDelete):
		var b reactionReq
		if decode(w, r, &b) {
			var err error
			if m == http.MethodPost {
				err = s.React(p[1], p[3], b.UserID, b.ReactionType)
			} else {
				err = s.Unreact(p[1], p[3], b.UserID, b.ReactionType)
			}
			if err != nil {
				bad(err)
				return
			}
			ok(b)
		}
	case len(p) == 1 && p[0] == "calls" && m == http.MethodGet:
		ok(s.Calls())
	case len(p) == 1 && p[0] == "calls" && m == http.MethodDelete:
		s.ResetCalls()
		ok(map[string]bool{"reset": true})
	case len(p) == 1 && p[0] == "faults" && m == http.MethodPost:
		var f controlFault
		if decode(w, r, &f) {
			id := s.InjectFault(Fault{Route: f.Route, Status: f.Status, RetryAfter: f.RetryAfter, Count: f.Count,
				Delay: time.Duration(f.DelayMS) * time.Millisecond, For: time.Duration(f.ForMS) * time.Millisecond})
			ok(map[string]string{"id": id})
		}
	case len(p) == 1 && p[0] == "faults" && m == http.MethodDelete:
		s.ClearFaults()
		ok(map[string]bool{"cleared": true})
	case len(p) == 2 && p[0] == "faults" && m == http.MethodDelete:
		s.RemoveFault(p[1])
		ok(map[string]string{"removed": p[1]})
	case len(p) == 1 && p[0] == "throttling" && m == http.MethodPut:
		var b struct{ Enabled bool }
		if decode(w, r, &b) {
			s.SetThrottling(b.Enabled)
			ok(map[string]bool{"enabled": b.Enabled})
		}
	case len(p) == 1 && p[0] == "revoke" && m == http.MethodPost:
		var b struct {
			UserID   string `json:"userId"`
			ClientID string `json:"clientId"`
			Code     int    `json:"code"`
		}
		if decode(w, r, &b) {
			s.RevokeGrant(b.UserID, b.ClientID, b.Code)
			ok(map[string]bool{"revoked": true})
		}
	case len(p) == 1 && p[0] == "expire-tokens" && m == http.MethodPost:
		s.ExpireTokens()
		ok(map[string]bool{"expired": true})
	case len(p) == 1 && p[0] == "consent" && m == http.MethodPut:
		var b struct {
			ClientID string `json:"clientId"`
			UserID   string `json:"userId"`
			Granted  bool   `json:"granted"`
		}
		if decode(w, r, &b) {
			s.SetConsent(b.ClientID, b.UserID, b.Granted)
			ok(map[string]bool{"granted": b.Granted})
		}
	default:
		if !s.serveTeamControl(w, r, p) {
			controlError(w, http.StatusNotFound, errNotFound)
		}
	}
}
