package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// TestChannelSettingsInChromium: the "Teams channels" settings section in headless Chromium
// (webapp/test/browser/channel_settings.test.mjs), on a real server with the real bundle. While the admin
// setting is off, a connected user's section says channel notifications are not turned on and offers nothing to
// choose. Once it is on, she turns on team, channel and tag mentions there; /msteams channels then reports it,
// and a tag mention in a Teams channel, which did not reach her before, arrives as a DM.
func TestChannelSettingsInChromium(t *testing.T) {
	w := channelWorld(t)
	s, tm := w.Server, w.Teams
	alice := w.NewPair(t, "alice", "Alice Adams")
	bob := w.NewPair(t, "bob", "Bob Brown")
	w.connect(t, alice)

	browserTests := func(phase string) {
		t.Helper()
		out := runBrowserTests(t, s, "channel settings browser tests ("+phase+")",
			"node test/browser/build_host.mjs && node --test --test-concurrency=1 test/browser/channel_settings.test.mjs",
			"E2E_MM_URL="+s.URL,
			"E2E_CHANNELS_USER_TOKEN="+alice.MM.Client.AuthToken,
			"E2E_CHANNELS_PHASE="+phase,
		)
		require.Contains(t, out, "# pass 1", "the %s browser test ran rather than being skipped", phase)
	}

	// The admin setting is off (its default): the section says so.
	browserTests("off")

	s.PatchPluginConfig(map[string]any{"ChannelNotifications": true})
	sim := tm.Sim
	deadline := time.Now().Add(90 * time.Second)
	for !hasChannelSubscription(sim) {
		require.True(t, time.Now().Before(deadline), "no /teams/getAllMessages subscription 90 s after the setting went on")
		time.Sleep(500 * time.Millisecond)
	}
	teamID, err := sim.CreateTeam(graphsim.TeamSpec{TenantID: harness.TeamsTenantID, DisplayName: "Rocket Team",
		Members:  []string{alice.Teams.ID, bob.Teams.ID},
		Channels: []graphsim.ChannelSpec{{DisplayName: "Launch pad"}},
		Tags:     []graphsim.TagSpec{{DisplayName: "launchers", Members: []string{alice.Teams.ID}}}})
	require.NoError(t, err)
	var launchPad, tagID string
	for _, team := range sim.Teams() {
		if team.ID != teamID {
			continue
		}
		if len(team.Tags) > 0 {
			tagID = team.Tags[0].ID
		}
		for _, c := range team.Channels {
			if c.DisplayName == "Launch pad" {
				launchPad = c.ID
			}
		}
	}
	require.NotEmpty(t, launchPad)
	require.NotEmpty(t, tagID)
	tagMessage := func(text string) graphsim.NewMessage {
		return graphsim.NewMessage{From: bob.Teams.ID, HTML: `<p><at id="0">launchers</at> ` + text + `</p>`,
			Mentions: []graphsim.Mention{{ID: 0, MentionText: "launchers", TagID: tagID}}}
	}
	mentionAlice := func(text string) graphsim.NewMessage {
		return graphsim.NewMessage{From: bob.Teams.ID, HTML: `<p><at id="0">Alice Adams</at> ` + text + `</p>`,
			Mentions: []graphsim.Mention{{ID: 0, MentionText: "Alice Adams", UserID: alice.Teams.ID}}}
	}

	// Before her choice: a tag mention does not reach her (a personal mention sent after it does, so the tag
	// mention had its chance).
	_, err = sim.SendChannelMessage(teamID, launchPad, tagMessage("tag before the settings"))
	require.NoError(t, err)
	_, err = sim.SendChannelMessage(teamID, launchPad, mentionAlice("marker before the settings"))
	require.NoError(t, err)
	w.waitForPost(t, alice.MM, "marker before the settings")
	require.Zero(t, w.botPostsContaining(alice.MM, "tag before the settings"), "personal mentions only by default")

	// She turns on team, channel and tag mentions in the settings.
	browserTests("on")
	require.Contains(t, w.Command(t, alice.MM, "/msteams channels"), "Mentions of a team, channel or tag you are in: **on**",
		"the choice made in the settings is the one of /msteams channels")

	_, err = sim.SendChannelMessage(teamID, launchPad, tagMessage("tag after the settings"))
	require.NoError(t, err)
	w.waitForPost(t, alice.MM, "tag after the settings")
}
