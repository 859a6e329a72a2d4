package channeldelivery

import (
	"context"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/command"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// ChoiceStore keeps the users' channel choices; *store.Store satisfies it.
type ChoiceStore interface {
	GetChannelChoice(ctx context.Context, mmUserID string) (store.ChannelChoice, error)
	SetChannelGroupMentions(ctx context.Context, mmUserID string, on bool) error
	SetChannelThreadReplies(ctx context.Context, mmUserID string, on bool) error
}

// Subcommands are the /msteams subcommands to Register: "channels", to show and change which Teams channel
// messages reach the user. Delivery reads the choices from the store with every message, so a change holds at
// once on every node.
func Subcommands(choices ChoiceStore) []command.Subcommand {
	auto := model.NewAutocompleteData("channels", "[mentions personal|all] [replies on|off]", "Choose which Teams channel messages you get")
	mentions := model.NewAutocompleteData("mentions", "personal|all", "Personal mentions only, or also mentions of your teams, channels and tags")
	mentions.AddStaticListArgument("", true, []model.AutocompleteListItem{
		{Item: "personal", HelpText: "Only messages that mention you by name"},
		{Item: "all", HelpText: "Also mentions of a team, channel or tag you are in"},
	})
	replies := model.NewAutocompleteData("replies", "on|off", "Replies in channel threads you started or replied in")
	replies.AddStaticListArgument("", true, []model.AutocompleteListItem{
		{Item: "on", HelpText: "Get replies in threads you are in"},
		{Item: "off", HelpText: "Do not get them (mentions still arrive)"},
	})
	auto.AddCommand(mentions)
	auto.AddCommand(replies)
	c := channelsCommand{choices: choices}
	return []command.Subcommand{{
		Name: "channels", Usage: "channels [mentions personal|all] [replies on|off]",
		Description:  "show or choose which Teams channel messages you get: mentions of you, of your teams, channels and tags, replies in your threads",
		Autocomplete: auto, Run: c.run,
	}}
}

type channelsCommand struct{ choices ChoiceStore }

const channelsUsage = "Use `/msteams channels mentions personal|all` or `/msteams channels replies on|off`."

func (c channelsCommand) run(ctx context.Context, call command.Call) (string, error) {
	if len(call.Args) == 0 {
		return c.show(ctx, call.UserID)
	}
	if len(call.Args) != 2 {
		return channelsUsage, nil
	}
	var err error
	switch what, value := strings.ToLower(call.Args[0]), strings.ToLower(call.Args[1]); {
	case what == "mentions" && (value == "personal" || value == "all"):
		err = c.choices.SetChannelGroupMentions(ctx, call.UserID, value == "all")
	case what == "replies" && (value == "on" || value == "off"):
		err = c.choices.SetChannelThreadReplies(ctx, call.UserID, value == "on")
	default:
		return channelsUsage, nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return "Your account is not connected to Microsoft Teams. Run `/msteams connect` first.", nil
	}
	if err != nil {
		return "", err
	}
	return c.show(ctx, call.UserID)
}

func (c channelsCommand) show(ctx context.Context, mmUserID string) (string, error) {
	choice, err := c.choices.GetChannelChoice(ctx, mmUserID)
	if err != nil {
		return "", err
	}
	lines := []string{"From Teams channels you get messages that mention you by name."}
	if choice.GroupMentions {
		lines = append(lines, "- Mentions of a team, channel or tag you are in: **on** (`/msteams channels mentions personal` to stop)")
	} else {
		lines = append(lines, "- Mentions of a team, channel or tag you are in: **off** (`/msteams channels mentions all` to get them)")
	}
	if choice.ThreadReplies {
		lines = append(lines, "- Replies in threads you started or replied in: **on** (`/msteams channels replies off` to stop)")
	} else {
		lines = append(lines, "- Replies in threads you started or replied in: **off** (`/msteams channels replies on` to get them)")
	}
	lines = append(lines, "As for chats, nothing is forwarded while you are active in Teams or while `/msteams notifications` is off.")
	return strings.Join(lines, "\n"), nil
}
