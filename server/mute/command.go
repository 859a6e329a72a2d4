package mute

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/command"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Posts reads the root post of the thread a command was run in; *plugin.API implements it.
type Posts interface {
	GetPost(postID string) (*model.Post, *model.AppError)
}

// Commands answers /msteams mute, unmute, muted and mode.
type Commands struct {
	svc       *Service
	posts     Posts
	botUserID string
}

// NewCommands returns the subcommands' handler. botUserID is the bot whose DMs carry the Teams chat id.
func NewCommands(svc *Service, posts Posts, botUserID string) *Commands {
	return &Commands{svc: svc, posts: posts, botUserID: botUserID}
}

// Subcommands are the /msteams subcommands to Register.
func (c *Commands) Subcommands() []command.Subcommand {
	unmute := model.NewAutocompleteData("unmute", "[number|all]", "Unmute a Teams chat: the one of this thread, a number from /msteams muted, or all")
	unmute.AddTextArgument("Leave empty in a thread, or give a number from /msteams muted, or all", "[number|all]", "")
	mode := model.NewAutocompleteData("mode", "all|mentions", "Get every message, or in group chats only messages that mention you")
	mode.AddStaticListArgument("", false, []model.AutocompleteListItem{
		{Item: "all", HelpText: "Forward every message of the chats you have not muted"},
		{Item: "mentions", HelpText: "In group and meeting chats forward only messages that mention you; 1:1 chats in full"},
	})
	return []command.Subcommand{
		{Name: "mute", Usage: "mute", Description: "in the thread of a forwarded Teams message: stop forwarding that Teams chat",
			Autocomplete: model.NewAutocompleteData("mute", "", "Run in the thread of a forwarded message to mute its Teams chat"), Run: c.mute},
		{Name: "unmute", Usage: "unmute [number|all]", Description: "forward a muted Teams chat again",
			Autocomplete: unmute, Run: c.unmute},
		{Name: "muted", Usage: "muted", Description: "list the Teams chats you muted",
			Autocomplete: model.NewAutocompleteData("muted", "", "List the Teams chats you muted"), Run: c.muted},
		{Name: "mode", Usage: "mode all|mentions", Description: "get every message, or in group and meeting chats only messages that mention you",
			Autocomplete: mode, Run: c.mode},
	}
}

const howToMute = "To mute a Teams chat, open the thread of one of its messages from @msteams (click **Reply** on the message) " +
	"and run `/msteams mute` there, or choose **Mute this Teams chat** in the message's **...** menu."

// threadChat returns the Teams chat of the bot DM whose thread the command was run in, "" outside one.
func (c *Commands) threadChat(call command.Call) string {
	if call.RootID == "" {
		return ""
	}
	post, appErr := c.posts.GetPost(call.RootID)
	if appErr != nil || post == nil || post.UserId != c.botUserID || post.ChannelId != call.ChannelID {
		return ""
	}
	id, _ := post.GetProp(delivery.PropChatID).(string)
	return id
}

func (c *Commands) mute(ctx context.Context, call command.Call) (string, error) {
	chatID := c.threadChat(call)
	if chatID == "" {
		return "This command works only in the thread of a Teams message forwarded by @msteams. " + howToMute, nil
	}
	muted, err := c.svc.Mute(ctx, call.UserID, chatID)
	if answer, ok := Explain(err); ok {
		return answer, nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Muted the Teams chat %s: its messages will no longer be forwarded here. "+
		"Run `/msteams unmute` in this thread to undo it, or `/msteams muted` to see every chat you muted.", format.InlineText(muted.Title)), nil
}

// Explain words the service's refusals for the user; ok is false for other errors (and nil).
func Explain(err error) (string, bool) {
	switch {
	case errors.Is(err, ErrNotConnected):
		return "Your account is not connected to Microsoft Teams. Run `/msteams connect` first.", true
	case errors.Is(err, ErrNotMember):
		return "You are not a member of that Teams chat, so there is nothing to mute.", true
	case errors.Is(err, ErrUnavailable):
		return "Microsoft Teams could not be reached to look up that chat. Please try again in a minute.", true
	}
	return "", false
}

func (c *Commands) unmute(ctx context.Context, call command.Call) (string, error) {
	if len(call.Args) == 0 {
		chatID := c.threadChat(call)
		if chatID == "" {
			return "Run `/msteams unmute` in the thread of a message from the muted chat, or run `/msteams muted` to see your muted chats and unmute one by its number.", nil
		}
		ok, err := c.svc.Unmute(ctx, call.UserID, chatID)
		if err != nil {
			return "", err
		}
		if !ok {
			return "This Teams chat is not muted.", nil
		}
		return "Unmuted this Teams chat: its new messages will be forwarded here again.", nil
	}
	arg := strings.ToLower(call.Args[0])
	if arg == "all" {
		n, err := c.svc.UnmuteAll(ctx, call.UserID)
		if err != nil {
			return "", err
		}
		if n == 0 {
			return "You have not muted any Teams chat.", nil
		}
		return fmt.Sprintf("Unmuted %d Teams %s: new messages will be forwarded here again.", n, plural(n, "chat", "chats")), nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 {
		return "Use `/msteams unmute` in a thread, `/msteams unmute 2` with a number from `/msteams muted`, or `/msteams unmute all`.", nil
	}
	chats, err := c.svc.Muted(ctx, call.UserID)
	if err != nil {
		return "", err
	}
	if n > len(chats) {
		if len(chats) == 0 {
			return "You have not muted any Teams chat.", nil
		}
		return fmt.Sprintf("There is no muted chat number %d. Run `/msteams muted` to see the list.", n), nil
	}
	chat := chats[n-1]
	if _, err := c.svc.Unmute(ctx, call.UserID, chat.ChatID); err != nil {
		return "", err
	}
	return fmt.Sprintf("Unmuted the Teams chat %s: its new messages will be forwarded here again.", format.InlineText(chat.Title)), nil
}

func (c *Commands) muted(ctx context.Context, call command.Call) (string, error) {
	chats, err := c.svc.Muted(ctx, call.UserID)
	if err != nil {
		return "", err
	}
	if len(chats) == 0 {
		return "You have not muted any Teams chat. " + howToMute, nil
	}
	lines := []string{"You muted these Teams chats:"}
	for i, chat := range chats {
		lines = append(lines, fmt.Sprintf("%d. %s (since %s)", i+1, format.InlineText(chat.Title), chat.MutedAt.UTC().Format("2006-01-02")))
	}
	lines = append(lines, "", "Run `/msteams unmute 1` to unmute the first one, or `/msteams unmute all` to unmute them all.")
	return strings.Join(lines, "\n"), nil
}

func (c *Commands) mode(ctx context.Context, call command.Call) (string, error) {
	if len(call.Args) == 0 {
		mode, err := c.svc.Mode(ctx, call.UserID)
		if err != nil {
			return "", err
		}
		if mode == store.ModeMentions {
			return "You get only messages that mention you in group and meeting chats, and every message of 1:1 chats. Run `/msteams mode all` to get every message.", nil
		}
		return "You get every message of the Teams chats you have not muted. Run `/msteams mode mentions` to get only messages that mention you in group and meeting chats.", nil
	}
	mode := store.MessageMode(strings.ToLower(call.Args[0]))
	if !mode.Valid() {
		return "Use `/msteams mode all` to get every message, or `/msteams mode mentions` to get only messages that mention you in group and meeting chats.", nil
	}
	err := c.svc.SetMode(ctx, call.UserID, mode)
	if answer, ok := Explain(err); ok {
		return answer, nil
	}
	if err != nil {
		return "", err
	}
	if mode == store.ModeMentions {
		return "From now on, in group and meeting chats only messages that mention you are forwarded here; 1:1 chats still arrive in full. Run `/msteams mode all` to get every message again.", nil
	}
	return "From now on every message of the Teams chats you have not muted is forwarded here.", nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
