package graphsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTeamRoutesAndTheirLimits(t *testing.T) {
	cases := []struct {
		path, route string
		limits      []limit
	}{
		{"/v1.0/teams/t1/channels/19%3Ac%40thread.tacv2/messages/1", "GET /teams/{id}/channels/{id}/messages/{id}",
			[]limit{{"tenant", 20, 20}, {"resource", 1, 2}}},
		{"/v1.0/teams/t1/channels/c/messages/1/replies/2", "GET /teams/{id}/channels/{id}/messages/{id}/replies/{id}",
			[]limit{{"tenant", 20, 20}, {"resource", 1, 2}}},
		{"/v1.0/teams/t1/channels/getAllMessages()", "GET /teams/{id}/channels/getAllMessages", []limit{{"tenant", 200, 200}}},
		{"/v1.0/teams/t1/members", "GET /teams/{id}/members", []limit{{"tenant", 60, 60}, {"team", 4, 4}}},
		{"/v1.0/teams/t1/tags/g/members", "GET /teams/{id}/tags/{id}/members", []limit{{"tenant", 60, 60}, {"team", 4, 4}}},
		{"/v1.0/teams/t1/channels/c", "GET /teams/{id}/channels/{id}", []limit{{"tenant", 60, 60}, {"team", 4, 4}}},
	}
	for _, tc := range cases {
		route := routeName("GET", tc.path)
		assert.Equal(t, tc.route, route, tc.path)
		assert.Equal(t, tc.limits, limitsFor(route), route)
	}
	assert.Equal(t, "t1", teamOf("/v1.0/teams/t1/channels/c"))
}

func TestTheTeamLimitIsSharedByEveryRouteOfATeam(t *testing.T) {
	tr := newTraffic(true)
	tok := TokenInfo{AppID: "a", TenantID: "t", AppOnly: true}
	now := mustTime("2026-03-01T09:00:00Z")
	paths := []string{"/v1.0/teams/t1", "/v1.0/teams/t1/members", "/v1.0/teams/t1/channels", "/v1.0/teams/t1/tags"}
	for _, p := range paths {
		_, throttled := tr.admit(routeName("GET", p), p, tok, now)
		assert.False(t, throttled, p)
	}
	_, throttled := tr.admit("GET /teams/{id}/channels/{id}", "/v1.0/teams/t1/channels/c", tok, now)
	assert.True(t, throttled, "the fifth request on one team within a second")
	_, throttled = tr.admit("GET /teams/{id}/channels/{id}", "/v1.0/teams/t2/channels/c", tok, now)
	assert.False(t, throttled, "another team has its own budget")
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestChannelPermissionsHaveGraphsRoleIDs(t *testing.T) {
	ra := requiredResourceAccess(AppRegistration{AppRoles: []string{"ChannelMessage.Read.All", "TeamworkTag.Read.All"}})
	access := ra[0].(map[string]any)["resourceAccess"].([]any)
	assert.Contains(t, access, map[string]any{"id": "7b2449af-6ccd-4f4d-9f78-e550c193f0d1", "type": "Role"})
	assert.Contains(t, access, map[string]any{"id": "b74fd6c4-4bde-488e-9695-eeb100e4907f", "type": "Role"})
}
