package graphsim

import (
	"net/http"
)

// userReq names a user to add to a team, channel or tag.
type userReq struct {
	UserID string `json:"userId"`
	Owner  bool   `json:"owner,omitempty"`
	// UserIDs adds many team members in one call (big teams for benchmarks); team members only.
	UserIDs []string `json:"userIds,omitempty"`
}

// serveTeamControl serves the /_sim/teams/... routes; it reports whether the route was one of them.
//
//	POST   /_sim/teams                                             TeamSpec → {"id","generalChannelId"}
//	GET    /_sim/teams                                             → []TeamInfo
//	POST   /_sim/teams/{t}/members                                 {"userId","owner"} or {"userIds":[…]}
//	DELETE /_sim/teams/{t}/members/{user}
//	POST   /_sim/teams/{t}/channels                                ChannelSpec → {"id"}
//	POST   /_sim/teams/{t}/channels/{c}/members                    {"userId","owner"}
//	DELETE /_sim/teams/{t}/channels/{c}/members/{user}
//	POST   /_sim/teams/{t}/tags                                    TagSpec → {"id"}
//	POST   /_sim/teams/{t}/tags/{g}/members                        {"userId"}
//	DELETE /_sim/teams/{t}/tags/{g}/members/{user}
//	POST   /_sim/teams/{t}/channels/{c}/messages                   NewMessage → {"id"}
//	POST   /_sim/teams/{t}/channels/{c}/messages/{m}/replies       NewMessage → {"id"}
//	GET|PATCH {"html"}|DELETE /_sim/teams/{t}/channels/{c}/messages/{m}[/replies/{r}]
func (s *Sim) serveTeamControl(w http.ResponseWriter, r *http.Request, p []string) bool {
	if len(p) == 0 || p[0] != "teams" {
		return false
	}
	m := r.Method
	ok := func(v any) { writeJSON(w, http.StatusOK, v) }
	answer := func(v any, err error) {
		if err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		ok(v)
	}
	var u userReq
	switch {
	case len(p) == 1 && m == http.MethodPost:
		var spec TeamSpec
		if decode(w, r, &spec) {
			id, err := s.CreateTeam(spec)
			general := ""
			if err == nil {
				s.mu.Lock()
				general = s.teams[id].channels[0].id
				s.mu.Unlock()
			}
			answer(map[string]string{"id": id, "generalChannelId": general}, err)
		}
	case len(p) == 1 && m == http.MethodGet:
		ok(s.Teams())
	case len(p) == 3 && p[2] == "members" && m == http.MethodPost:
		if decode(w, r, &u) {
			var err error
			for _, id := range append(u.UserIDs, u.UserID) {
				if id != "" && err == nil {
					err = s.AddTeamMember(p[1], id, u.Owner)
				}
			}
			answer(u, err)
		}
	case len(p) == 4 && p[2] == "members" && m == http.MethodDelete:
		answer(map[string]string{"userId": p[3]}, s.RemoveTeamMember(p[1], p[3]))
	case len(p) == 3 && p[2] == "channels" && m == http.MethodPost:
		var spec ChannelSpec
		if decode(w, r, &spec) {
			id, err := s.CreateChannel(p[1], spec)
			answer(map[string]string{"id": id}, err)
		}
	case len(p) == 5 && p[2] == "channels" && p[4] == "members" && m == http.MethodPost:
		if decode(w, r, &u) {
			answer(u, s.AddChannelMember(p[1], p[3], u.UserID, u.Owner))
		}
	case len(p) == 6 && p[2] == "channels" && p[4] == "members" && m == http.MethodDelete:
		answer(map[string]string{"userId": p[5]}, s.RemoveChannelMember(p[1], p[3], p[5]))
	case len(p) == 3 && p[2] == "tags" && m == http.MethodPost:
		var spec TagSpec
		if decode(w, r, &spec) {
			id, err := s.CreateTag(p[1], spec)
			answer(map[string]string{"id": id}, err)
		}
	case len(p) == 5 && p[2] == "tags" && p[4] == "members" && m == http.MethodPost:
		if decode(w, r, &u) {
			answer(u, s.AddTagMember(p[1], p[3], u.UserID))
		}
	case len(p) == 6 && p[2] == "tags" && p[4] == "members" && m == http.MethodDelete:
		answer(map[string]string{"userId": p[5]}, s.RemoveTagMember(p[1], p[3], p[5]))
	case len(p) == 5 && p[2] == "channels" && p[4] == "messages" && m == http.MethodPost:
		var nm NewMessage
		if decode(w, r, &nm) {
			id, err := s.SendChannelMessage(p[1], p[3], nm)
			answer(map[string]string{"id": id}, err)
		}
	case len(p) == 7 && p[2] == "channels" && p[4] == "messages" && p[6] == "replies" && m == http.MethodPost:
		var nm NewMessage
		if decode(w, r, &nm) {
			id, err := s.ReplyChannelMessage(p[1], p[3], p[5], nm)
			answer(map[string]string{"id": id}, err)
		}
	case (len(p) == 6 || (len(p) == 8 && p[6] == "replies")) && p[2] == "channels" && p[4] == "messages":
		parent, id := "", p[5]
		if len(p) == 8 {
			parent, id = p[5], p[7]
		}
		switch m {
		case http.MethodGet:
			b, found := s.ChannelMessageJSON(p[1], p[3], parent, id)
			if !found {
				controlError(w, http.StatusNotFound, errNotFound)
				return true
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		case http.MethodPatch:
			var b struct{ HTML string }
			if decode(w, r, &b) {
				answer(map[string]string{"id": id}, s.EditChannelMessage(p[1], p[3], id, b.HTML))
			}
		case http.MethodDelete:
			answer(map[string]string{"id": id}, s.DeleteChannelMessage(p[1], p[3], id))
		default:
			return false
		}
	default:
		return false
	}
	return true
}
