package main

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

type channelReadBack struct {
	ID              string
	ReplyToID       *string
	Subject         *string
	DeletedDateTime *string
	Body            struct{ Content string }
	ChannelIdentity struct{ TeamID, ChannelID string }
	Mentions        []struct {
		ID          int
		MentionText string
		Mentioned   struct {
			User         *struct{ ID string }
			Conversation *struct{ ID, ConversationIdentityType string }
			Tag          *struct{ ID, DisplayName string }
		}
	}
}

func TestSendPostsIntoAChannelAndRepliesInAThread(t *testing.T) {
	g := newGraphReader(t)
	channel := func(args ...string) string {
		t.Helper()
		out := mustRun(t, append(append([]string{"send"}, g.common...), append([]string{"--team", graphsim.DemoTeamID, "--channel", graphsim.DemoChannelID}, args...)...)...)
		var sent struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(out), &sent))
		return sent.ID
	}
	msgURL := g.sim.GraphURL() + "/teams/" + graphsim.DemoTeamID + "/channels/" + url.PathEscape(graphsim.DemoChannelID) + "/messages/"
	root := channel("--from", "alice@demo.test", "--subject", "Plan", "--mention", "bob@demo.test", "--mention-team",
		"--mention-channel", "Demo channel", "--mention-tag", graphsim.DemoTagID,
		`<p><at id="0">Bob Brown</at> <at id="1">Demo team</at> <at id="2">Demo channel</at> <at id="3">Demo tag</at></p>`)
	reply := channel("--from", "bob@demo.test", "--thread", root, "<p>ack</p>")

	// The demo app has no ChannelMessage.Read.All until an admin grants it.
	require.NoError(t, g.sim.SetAppRoles(graphsim.DemoClientID, []string{"ChannelMessage.Read.All"}))
	g.token = appToken(t, g.sim)

	var m channelReadBack
	require.NoError(t, json.Unmarshal(g.get(t, msgURL+root), &m))
	assert.Equal(t, "Plan", *m.Subject)
	assert.Equal(t, graphsim.DemoTeamID, m.ChannelIdentity.TeamID)
	require.Len(t, m.Mentions, 4)
	assert.Equal(t, graphsim.DemoBobID, m.Mentions[0].Mentioned.User.ID)
	assert.Equal(t, "team", m.Mentions[1].Mentioned.Conversation.ConversationIdentityType)
	assert.Equal(t, graphsim.DemoChannelID, m.Mentions[2].Mentioned.Conversation.ID)
	assert.Equal(t, "channel", m.Mentions[2].Mentioned.Conversation.ConversationIdentityType)
	assert.Equal(t, "Demo tag", m.Mentions[3].Mentioned.Tag.DisplayName)

	require.NoError(t, json.Unmarshal(g.get(t, msgURL+root+"/replies/"+reply), &m))
	assert.Equal(t, root, *m.ReplyToID)

	target := append(append([]string{}, g.common...), "--team", graphsim.DemoTeamID, "--channel", graphsim.DemoChannelID, "--id", reply)
	mustRun(t, append(append([]string{"edit"}, target...), "<p>done</p>")...)
	require.NoError(t, json.Unmarshal(g.get(t, msgURL+root+"/replies/"+reply), &m))
	assert.Equal(t, "<p>done</p>", m.Body.Content)
	mustRun(t, append([]string{"delete"}, target...)...)
	require.NoError(t, json.Unmarshal(g.get(t, msgURL+root+"/replies/"+reply), &m))
	assert.NotNil(t, m.DeletedDateTime)
}

func TestSendChannelUsageErrors(t *testing.T) {
	_, common := demoSim(t)
	for name, args := range map[string][]string{
		"chat and team":          {"--chat", graphsim.DemoGroupChatID, "--team", graphsim.DemoTeamID, "--channel", graphsim.DemoChannelID},
		"team without channel":   {"--team", graphsim.DemoTeamID},
		"thread in a chat":       {"--chat", graphsim.DemoGroupChatID, "--thread", "1"},
		"quote in a channel":     {"--team", graphsim.DemoTeamID, "--channel", graphsim.DemoChannelID, "--reply-to", "1"},
		"team mention in a chat": {"--chat", graphsim.DemoGroupChatID, "--mention-team"},
	} {
		code, _, errOut := cli(append(append([]string{"send"}, common...), append(args, "--from", "alice@demo.test", "x")...)...)
		assert.Equal(t, 2, code, "%s: %s", name, errOut)
	}
}

// appToken is a fresh client-credentials token of the demo app (with its current roles).
func appToken(t *testing.T, sim *graphsim.Sim) string {
	t.Helper()
	resp, err := sim.HTTPClient().PostForm(sim.TokenURL(graphsim.DemoTenantID), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {graphsim.DemoClientID},
		"client_secret": {graphsim.DemoClientSecret}, "scope": {"https://graph.microsoft.com/.default"},
	})
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}
