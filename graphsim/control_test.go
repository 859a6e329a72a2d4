package graphsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/graphsim/changes"
)

// plainSim is graphsim over plain HTTP (the unit-test mode) with its change
// events recorded.
func plainSim(t *testing.T) (*graphsim.Sim, func() []changes.Event) {
	t.Helper()
	var mu sync.Mutex
	var events []changes.Event
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	sim, err := graphsim.New(graphsim.Options{PlainHTTP: true, CACertPath: caPath, DisableThrottling: true,
		OnChange: func(ev changes.Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	pem, err := os.ReadFile(caPath)
	require.NoError(t, err)
	require.Equal(t, sim.CACertPEM(), pem, "CA PEM is written where the caller asks")
	return sim, func() []changes.Event { mu.Lock(); defer mu.Unlock(); return append([]changes.Event(nil), events...) }
}

func call(t *testing.T, method, u string, body any, into any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil {
		require.NoError(t, json.Unmarshal(b, into), string(b))
	}
	return resp.StatusCode
}

func TestControlAPIScriptsTeamsAndPublishesChanges(t *testing.T) {
	sim, events := plainSim(t)
	ctl := sim.BaseURL() + "/_sim"
	require.Equal(t, 200, call(t, "POST", ctl+"/apps", graphsim.AppRegistration{TenantID: tenantID, ClientID: clientID, ClientSecret: clientSecret, AppRoles: []string{"Chat.Read.All", "Presence.Read.All"}}, nil))
	for _, u := range []graphsim.User{{ID: aliceID, TenantID: tenantID, DisplayName: "Alice"}, {ID: bobID, TenantID: tenantID, DisplayName: "Bob"}} {
		require.Equal(t, 200, call(t, "POST", ctl+"/users", u, nil))
	}
	var chat struct{ ID string }
	require.Equal(t, 200, call(t, "POST", ctl+"/chats", graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{aliceID, bobID}}, &chat))
	msgs := ctl + "/chats/" + url.PathEscape(chat.ID) + "/messages"

	var sent struct{ ID string }
	require.Equal(t, 200, call(t, "POST", msgs, graphsim.NewMessage{From: aliceID, HTML: "<p>hi</p>",
		CodeSnippets: []graphsim.CodeSnippet{{Language: "go", Code: "fmt.Println(1)"}}}, &sent))
	require.Equal(t, 200, call(t, "PATCH", msgs+"/"+sent.ID, map[string]string{"html": "<p>hi!</p>"}, nil))
	require.Equal(t, 200, call(t, "POST", msgs+"/"+sent.ID+"/reactions", map[string]string{"userId": bobID, "reactionType": "❤️"}, nil))
	require.Equal(t, 200, call(t, "DELETE", msgs+"/"+sent.ID+"/reactions", map[string]string{"userId": bobID, "reactionType": "❤️"}, nil))
	var rendered map[string]any
	require.Equal(t, 200, call(t, "GET", msgs+"/"+sent.ID, nil, &rendered))
	assert.Equal(t, map[string]any{"contentType": "html", "content": "<p>hi!</p>"}, rendered["body"])
	att := rendered["attachments"].([]any)[0].(map[string]any)
	assert.Equal(t, "application/vnd.microsoft.card.codesnippet", att["contentType"])
	assert.Contains(t, att["content"], sim.GraphURL()+"/chats/"+chat.ID+"/messages/"+sent.ID+"/hostedContents/")
	require.Equal(t, 200, call(t, "DELETE", msgs+"/"+sent.ID, nil, nil))
	require.Equal(t, 400, call(t, "PATCH", msgs+"/"+sent.ID, map[string]string{"html": "x"}, nil), "a deleted message cannot be edited")

	var kinds []string
	for _, ev := range events() {
		kinds = append(kinds, ev.ChangeType)
		assert.Equal(t, chat.ID, ev.ChatID)
		assert.Equal(t, sent.ID, ev.MessageID)
		assert.Equal(t, aliceID, ev.SenderUserID)
		assert.ElementsMatch(t, []string{aliceID, bobID}, ev.MemberUserIDs)
		assert.Equal(t, tenantID, ev.TenantID)
	}
	assert.Equal(t, []string{"created", "updated", "updated", "updated", "deleted"}, kinds)

	// Presence, faults, counters and switches through HTTP, observed through Graph.
	require.Equal(t, 200, call(t, "PUT", ctl+"/users/"+bobID+"/presence", graphsim.Presence{Availability: "Away", Activity: "Away"}, nil))
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret, TokenURL: sim.TokenURL(tenantID), Scopes: []string{"https://graph.microsoft.com/.default"}}
	graph := cc.Client(context.Background())
	var presence map[string]any
	resp, err := graph.Get(sim.GraphURL() + "/communications/presences/" + bobID)
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&presence))
	resp.Body.Close()
	assert.Equal(t, "Away", presence["availability"])

	var fault struct{ ID string }
	require.Equal(t, 200, call(t, "POST", ctl+"/faults", map[string]any{"route": "GET /communications/presences/{id}", "status": 503, "count": 1}, &fault))
	resp, err = graph.Get(sim.GraphURL() + "/communications/presences/" + bobID)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)

	var calls []graphsim.CallCount
	require.Equal(t, 200, call(t, "GET", ctl+"/calls", nil, &calls))
	assert.Contains(t, calls, graphsim.CallCount{Route: "GET /communications/presences/{id}", Kind: "app", Count: 2})
	require.Equal(t, 200, call(t, "DELETE", ctl+"/calls", nil, nil))
	assert.Equal(t, 0, sim.GraphCalls(""))

	require.Equal(t, 200, call(t, "POST", ctl+"/expire-tokens", nil, nil))
	resp, err = graph.Get(sim.GraphURL() + "/communications/presences/" + bobID)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode, "the cached token was expired early")

	require.Equal(t, 200, call(t, "PUT", ctl+"/apps/"+clientID+"/secret-failure", map[string]bool{"fail": true}, nil))
	_, err = cc.Token(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS7000215")

	require.Equal(t, 404, call(t, "GET", ctl+"/nope", nil, nil))
}

// The notification fault switches are part of the same control API, so `make bench-faults` and a person with
// curl can turn them on in a running graphsim.
func TestControlAPIReachesNotificationFaults(t *testing.T) {
	sim, _ := plainSim(t)
	ctl := sim.BaseURL() + "/_sim/changes"
	require.Equal(t, 204, call(t, "PUT", ctl+"/faults", map[string]any{"dropPercent": 10, "duplicatePercent": 20}, nil))
	require.Equal(t, changes.Faults{DropPercent: 10, DuplicatePercent: 20}, sim.Changes().Faults())
	var subs struct{ Value []any }
	require.Equal(t, 200, call(t, "GET", ctl+"/subscriptions", nil, &subs))
	require.Empty(t, subs.Value)
}
