package teamsreaction

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestToTeams specifies the reactionType Teams receives for a Mattermost
// reaction.
func TestToTeams(t *testing.T) {
	cases := []struct{ name, want string }{
		{"+1", "👍"},
		{"thumbsup", "👍"},
		{"-1", "👎"},
		{"heart", "❤️"},
		{"laughing", "😆"},
		{"joy", "😂"},
		{"open_mouth", "😮"},
		{"cry", "😢"},
		{"angry", "😠"},
		{"rage", "😡"},
		{"tada", "🎉"},
		{":smile:", "😄"},                     // typed with colons
		{"Rocket", "🚀"},                      // any case
		{"+1_medium_skin_tone", "👍🏽"},        // skin tones
		{"man-woman-boy", "👨\u200d👩\u200d👦"}, // zero-width-joiner sequences
		{"flag-us", "🇺🇸"},
		{"hash", "#️⃣"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, notice, ok := ToTeams(tc.name)
			assert.True(t, ok)
			assert.Empty(t, notice)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestToTeamsUnsupported specifies what a user hears when Teams cannot take
// the reaction.
func TestToTeamsUnsupported(t *testing.T) {
	for _, name := range []string{"partyparrot", "mattermost", "", "not an emoji"} {
		t.Run(name, func(t *testing.T) {
			got, notice, ok := ToTeams(name)
			assert.False(t, ok)
			assert.Empty(t, got)
			assert.Contains(t, notice, ":"+name+":")
			assert.Contains(t, notice, "Teams reactions can only be standard emoji")
			for _, example := range []string{"👍 :+1:", "❤️ :heart:", "😆 :laughing:", "😮 :open_mouth:", "😢 :cry:", "😡 :rage:"} {
				assert.Contains(t, notice, example)
			}
		})
	}
	_, notice, _ := ToTeams("partyparrot")
	assert.Equal(t, "Your :partyparrot: reaction was not added in Microsoft Teams: Teams reactions can only be standard emoji, "+
		"such as 👍 :+1:, ❤️ :heart:, 😆 :laughing:, 😂 :joy:, 😮 :open_mouth:, 😢 :cry: and 😡 :rage:. Custom emoji stay in Mattermost.", notice)
}

// TestFromTeams specifies the Mattermost emoji a Teams reaction shows as.
func TestFromTeams(t *testing.T) {
	cases := []struct{ reactionType, want string }{
		// Legacy names older Teams clients write.
		{"like", "+1"},
		{"heart", "heart"},
		{"laugh", "laughing"},
		{"surprised", "open_mouth"},
		{"sad", "cry"},
		{"angry", "rage"},
		{"Like", "+1"},
		// Characters.
		{"👍", "+1"},
		{"❤️", "heart"},
		{"❤", "heart"}, // without the variation selector
		{"😂", "joy"},
		{"😠", "angry"},
		{"💘", "cupid"}, // the example in Microsoft's setReaction doc
		{"👍🏻", "+1_light_skin_tone"},
		{"🇺🇸", "flag-us"},
		{"#️⃣", "hash"},
		{"☺️", "relaxed"},
		{"☺", "relaxed"},
	}
	for _, tc := range cases {
		t.Run(tc.reactionType, func(t *testing.T) {
			got, ok := FromTeams(tc.reactionType)
			assert.True(t, ok)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, unknown := range []string{"custom", "", "x", "thumbsup"} {
		t.Run("unknown "+unknown, func(t *testing.T) {
			got, ok := FromTeams(unknown)
			assert.False(t, ok)
			assert.Empty(t, got)
		})
	}
}

// TestRoundTrip checks that every Mattermost reaction Teams accepts comes
// back from Teams as the same emoji (possibly under its first alias).
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"+1", "thumbsup", "heart", "laughing", "satisfied", "joy", "open_mouth", "cry", "angry", "tada", "eyes", "100"} {
		rt, _, ok := ToTeams(name)
		assert.True(t, ok, name)
		back, ok := FromTeams(rt)
		assert.True(t, ok, name)
		again, _, _ := ToTeams(back)
		assert.Equal(t, rt, again, "%s → %s → %s", name, rt, back)
	}
}
