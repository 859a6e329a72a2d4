// Package teamsreaction maps reactions between Mattermost emoji names and the
// reactionType of Microsoft Teams chat message reactions.
//
// Graph's setReaction and unsetReaction take the reactionType "as unicode"
// (the emoji character itself), so ToTeams sends characters, never the
// legacy names. Messages read from Graph carry either a character, "custom"
// (a tenant's own emoji, which has no Mattermost name), or one of the six
// legacy names older Teams clients still write (like, heart, laugh,
// surprised, sad, angry); FromTeams reads all of them.
//
// Names and characters come from Mattermost's own emoji table
// (model.SystemEmojis), so every standard emoji a Mattermost user can react
// with maps, skin tones and flags included. Custom Mattermost emoji have no
// Teams equivalent.
package teamsreaction

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

// legacy maps the reaction names older Teams clients write to the Mattermost
// emoji Teams showed for them.
var legacy = map[string]string{
	"like":      "+1",         // 👍
	"heart":     "heart",      // ❤️
	"laugh":     "laughing",   // 😆
	"surprised": "open_mouth", // 😮
	"sad":       "cry",        // 😢
	"angry":     "rage",       // 😡
}

// examples is the list shown to a user whose reaction Teams cannot take.
const examples = "👍 :+1:, ❤️ :heart:, 😆 :laughing:, 😂 :joy:, 😮 :open_mouth:, 😢 :cry: and 😡 :rage:"

// ToTeams returns the reactionType for Graph's setReaction and unsetReaction
// for a Mattermost emoji name (with or without colons). When Teams has no
// such reaction, ok is false and notice is a sentence to show the user.
func ToTeams(name string) (reactionType, notice string, ok bool) {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), ":"))
	if hex, found := model.SystemEmojis[name]; found {
		if char, isChar := fromHex(hex); isChar {
			return char, "", true
		}
	}
	return "", fmt.Sprintf("Your :%s: reaction was not added in Microsoft Teams: Teams reactions can only be standard emoji, such as %s. Custom emoji stay in Mattermost.", name, examples), false
}

// FromTeams returns the Mattermost emoji name for a reactionType read from
// Graph; ok is false for "custom" reactions and characters Mattermost has no
// emoji for.
func FromTeams(reactionType string) (name string, ok bool) {
	if name, found := legacy[strings.ToLower(reactionType)]; found {
		return name, true
	}
	hex := toHex(reactionType)
	if hex == "" {
		return "", false
	}
	// Mattermost keys some emoji with the U+FE0F variation selector
	// ("2764-fe0f") and others without; Teams sends either form.
	bare := strings.ReplaceAll(hex, "-fe0f", "")
	for _, key := range []string{hex, bare, bare + "-fe0f"} {
		if name, count := model.GetEmojiNameFromUnicode(key); count > 0 {
			return name, true
		}
	}
	return "", false
}

// fromHex turns Mattermost's "1f44d-1f3fb" code point notation into the
// characters; ok is false for entries that are images ("mattermost").
func fromHex(hex string) (string, bool) {
	var b strings.Builder
	for _, part := range strings.Split(hex, "-") {
		cp, err := strconv.ParseUint(part, 16, 32)
		if err != nil {
			return "", false
		}
		b.WriteRune(rune(cp))
	}
	return b.String(), true
}

// toHex is the inverse of fromHex.
func toHex(s string) string {
	parts := make([]string, 0, 4)
	for _, r := range s {
		parts = append(parts, strconv.FormatInt(int64(r), 16))
	}
	// Mattermost pads code points below U+1000 to four digits ("0023-fe0f-20e3").
	for i, p := range parts {
		if len(p) < 4 {
			parts[i] = strings.Repeat("0", 4-len(p)) + p
		}
	}
	return strings.Join(parts, "-")
}
