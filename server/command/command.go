// Package command implements the /msteams slash command: connect, disconnect, status, notifications and
// help, answered privately by the bot. Other packages add subcommands (such as admin) with Register.
package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/connect"
)

// Trigger is the slash command's name.
const Trigger = "msteams"

// Connections is the connection service the command drives.
type Connections interface {
	Status(ctx context.Context, mmUserID string) (connect.Status, error)
	// CanConnect returns nil or a *connect.Refusal.
	CanConnect(ctx context.Context, mmUserID string) error
	ConnectURL() string
	// Disconnect returns connect.ErrNotConnected when there is nothing to disconnect.
	Disconnect(ctx context.Context, mmUserID string) error
	Notifications(mmUserID string) (bool, error)
	SetNotifications(mmUserID string, enabled bool) error
}

// Responder shows a message to one user only, from the bot.
type Responder interface {
	SendEphemeral(userID, channelID, rootID, message string)
}

// Logger records failures the user only sees as "something went wrong".
type Logger interface {
	LogError(msg string, keyValuePairs ...any)
}

// Call is one invocation of a subcommand.
type Call struct {
	UserID    string
	ChannelID string
	RootID    string
	// Args are the words after the subcommand's name.
	Args []string
}

// Subcommand is one /msteams subcommand. Run returns the answer shown to the user.
type Subcommand struct {
	Name string
	// Usage is the command as typed after /msteams, e.g. "notifications on|off|status"; Description says what
	// it does. The help shows them as "`/msteams <Usage>`: <Description>".
	Usage        string
	Description  string
	Autocomplete *model.AutocompleteData
	// VisibleTo reports whether the help lists the subcommand for a user (nil: for everyone), so that users
	// are not shown commands they are not allowed to run. Run still checks permissions itself.
	VisibleTo func(userID string) bool
	Run       func(ctx context.Context, c Call) (string, error)
}

// Handler runs /msteams.
type Handler struct {
	conns Connections
	out   Responder
	log   Logger
	subs  map[string]Subcommand
	order []string
}

// New returns the handler with the user subcommands registered.
func New(conns Connections, out Responder, log Logger) *Handler {
	h := &Handler{conns: conns, out: out, log: log, subs: map[string]Subcommand{}}
	h.Register(Subcommand{Name: "connect", Usage: "connect", Description: "connect your Microsoft Teams account",
		Autocomplete: model.NewAutocompleteData("connect", "", "Connect your Microsoft Teams account"), Run: h.connect})
	h.Register(Subcommand{Name: "disconnect", Usage: "disconnect", Description: "disconnect your Microsoft Teams account",
		Autocomplete: model.NewAutocompleteData("disconnect", "", "Disconnect your Microsoft Teams account"), Run: h.disconnect})
	h.Register(Subcommand{Name: "status", Usage: "status", Description: "show whether your Microsoft Teams account is connected",
		Autocomplete: model.NewAutocompleteData("status", "", "Show whether your Microsoft Teams account is connected"), Run: h.status})
	notif := model.NewAutocompleteData("notifications", "on|off|status", "Turn forwarding of your Teams chat messages on or off")
	notif.AddStaticListArgument("", true, []model.AutocompleteListItem{
		{Item: "on", HelpText: "Forward your Teams chat messages to Mattermost"},
		{Item: "off", HelpText: "Stop forwarding your Teams chat messages"},
		{Item: "status", HelpText: "Show whether forwarding is on"},
	})
	h.Register(Subcommand{Name: "notifications", Usage: "notifications on|off|status", Description: "turn forwarding of your Teams chat messages on or off",
		Autocomplete: notif, Run: h.notifications})
	h.Register(Subcommand{Name: "help", Usage: "help", Description: "show this help",
		Autocomplete: model.NewAutocompleteData("help", "", "Show help"), Run: func(_ context.Context, c Call) (string, error) { return h.help(c.UserID), nil }})
	return h
}

// Register adds or replaces a subcommand. Call it before Command() so autocomplete includes it.
func (h *Handler) Register(s Subcommand) {
	if _, ok := h.subs[s.Name]; !ok {
		h.order = append(h.order, s.Name)
	}
	h.subs[s.Name] = s
}

// Command is what the plugin passes to RegisterCommand.
func (h *Handler) Command() *model.Command {
	// The list in the description is the same for everyone, so it names only the commands everyone may see;
	// restricted ones still autocomplete for the users their AutocompleteData.RoleID admits.
	var public []string
	for _, name := range h.order {
		if h.subs[name].VisibleTo == nil {
			public = append(public, name)
		}
	}
	ac := model.NewAutocompleteData(Trigger, "[command]", "Available commands: "+strings.Join(public, ", "))
	for _, name := range h.order {
		if s := h.subs[name]; s.Autocomplete != nil {
			ac.AddCommand(s.Autocomplete)
		}
	}
	return &model.Command{
		Trigger:          Trigger,
		DisplayName:      "MS Teams",
		Description:      "Connect your Microsoft Teams account and control Teams chat notifications.",
		AutoComplete:     true,
		AutoCompleteDesc: "Available commands: " + strings.Join(public, ", "),
		AutoCompleteHint: "[command]",
		AutocompleteData: ac,
	}
}

// Execute runs the command line in args and answers with an ephemeral bot post.
func (h *Handler) Execute(ctx context.Context, args *model.CommandArgs) *model.CommandResponse {
	answer := h.Answer(ctx, Call{UserID: args.UserId, ChannelID: args.ChannelId, RootID: args.RootId}, args.Command)
	h.out.SendEphemeral(args.UserId, args.ChannelId, args.RootId, answer)
	return &model.CommandResponse{}
}

// Answer runs a command line such as "/msteams notifications off" and returns the text to show.
func (h *Handler) Answer(ctx context.Context, c Call, line string) string {
	fields := strings.Fields(line)
	if len(fields) > 0 && strings.HasPrefix(fields[0], "/") {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return h.help(c.UserID)
	}
	sub, ok := h.subs[strings.ToLower(fields[0])]
	if !ok {
		return fmt.Sprintf("Unknown command `%s`.\n\n%s", fields[0], h.help(c.UserID))
	}
	c.Args = fields[1:]
	answer, err := sub.Run(ctx, c)
	if err != nil {
		h.log.LogError("/msteams command failed", "subcommand", sub.Name, "user_id", c.UserID, "error", err.Error())
		return "Something went wrong. Please try again later; if it keeps happening, tell your system administrator."
	}
	return answer
}

// help lists the commands userID may see: the command in a code span (so it can be copied as is), then
// what it does as plain text.
func (h *Handler) help(userID string) string {
	lines := []string{"Use `/msteams` with one of these commands:"}
	for _, name := range h.order {
		s := h.subs[name]
		if s.VisibleTo != nil && !s.VisibleTo(userID) {
			continue
		}
		usage := s.Usage
		if usage == "" {
			usage = s.Name
		}
		line := "- `/msteams " + usage + "`"
		if s.Description != "" {
			line += ": " + s.Description
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (h *Handler) connect(ctx context.Context, c Call) (string, error) {
	if err := h.conns.CanConnect(ctx, c.UserID); err != nil {
		var r *connect.Refusal
		if errors.As(err, &r) {
			return r.Message(), nil
		}
		return "", err
	}
	return fmt.Sprintf("[Click here to connect your Microsoft Teams account](%s). You will sign in with Microsoft, then you can close the page.", h.conns.ConnectURL()), nil
}

func (h *Handler) disconnect(ctx context.Context, c Call) (string, error) {
	err := h.conns.Disconnect(ctx, c.UserID)
	if errors.Is(err, connect.ErrNotConnected) {
		return "Your account is not connected to Microsoft Teams, so there is nothing to disconnect.", nil
	}
	if err != nil {
		return "", err
	}
	return "Your Microsoft Teams account is disconnected. Your Teams chat messages will no longer be forwarded here. Run `/msteams connect` to connect again.", nil
}

func (h *Handler) status(ctx context.Context, c Call) (string, error) {
	st, err := h.conns.Status(ctx, c.UserID)
	if err != nil {
		return "", err
	}
	if !st.Connected {
		return "Your account is not connected to Microsoft Teams. Run `/msteams connect` to connect it.", nil
	}
	return fmt.Sprintf("Your account is connected to the Microsoft Teams account %s since %s.", st.TeamsEmail, st.ConnectedAt.UTC().Format("2006-01-02 15:04 MST")), nil
}

func (h *Handler) notifications(ctx context.Context, c Call) (string, error) {
	st, err := h.conns.Status(ctx, c.UserID)
	if err != nil {
		return "", err
	}
	if !st.Connected {
		return "Your account is not connected to Microsoft Teams. Run `/msteams connect` first.", nil
	}
	arg := "status"
	if len(c.Args) > 0 {
		arg = strings.ToLower(c.Args[0])
	}
	switch arg {
	case "on", "off":
		if err := h.conns.SetNotifications(c.UserID, arg == "on"); err != nil {
			return "", err
		}
		if arg == "on" {
			return "Notifications are on: your Teams chat messages will be forwarded here while you are away from Teams.", nil
		}
		return "Notifications are off: your Teams chat messages will not be forwarded here. Run `/msteams notifications on` to turn them back on.", nil
	case "status":
		on, err := h.conns.Notifications(c.UserID)
		if err != nil {
			return "", err
		}
		if on {
			return "Notifications are on. Run `/msteams notifications off` to stop them.", nil
		}
		return "Notifications are off. Run `/msteams notifications on` to start them.", nil
	}
	return "Use `/msteams notifications on`, `/msteams notifications off` or `/msteams notifications status`.", nil
}
