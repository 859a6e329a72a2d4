package command

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/connect"
)

// conns is an in-memory connection service: the command's job is parsing and wording, the service's
// behaviour is specified in package connect.
type conns struct {
	connected     bool
	refusal       error
	notifications bool
	disconnects   int
}

func (c *conns) Status(context.Context, string) (connect.Status, error) {
	if !c.connected {
		return connect.Status{}, nil
	}
	return connect.Status{Connected: true, TeamsEmail: "ada@contoso.com", ConnectedAt: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}, nil
}
func (c *conns) CanConnect(context.Context, string) error { return c.refusal }
func (c *conns) ConnectURL() string {
	return "https://mm.test/plugins/com.mattermost.msteams-sync/connect"
}
func (c *conns) Disconnect(context.Context, string) error {
	if !c.connected {
		return connect.ErrNotConnected
	}
	c.connected = false
	c.disconnects++
	return nil
}
func (c *conns) Notifications(string) (bool, error) { return c.notifications, nil }
func (c *conns) SetNotifications(_ string, on bool) error {
	c.notifications = on
	return nil
}

type ephemeral struct{ userID, channelID, message string }

type responder struct{ posts []ephemeral }

func (r *responder) SendEphemeral(userID, channelID, _, message string) {
	r.posts = append(r.posts, ephemeral{userID, channelID, message})
}

type logger struct{ errors int }

func (l *logger) LogError(string, ...any) { l.errors++ }

func TestAnswers(t *testing.T) {
	tests := []struct {
		name      string
		conns     conns
		line      string
		want      []string
		wantConns *conns // nil: the command changes nothing
	}{
		{name: "connect gives a link to the plugin's connect route", line: "/msteams connect",
			want: []string{"https://mm.test/plugins/com.mattermost.msteams-sync/connect"}},
		{name: "connect when already connected says so", conns: conns{refusal: &connect.Refusal{Reason: connect.ReasonAlreadyConnected}}, line: "/msteams connect",
			want: []string{"already connected"}},
		{name: "connect with no seat left says so", conns: conns{refusal: &connect.Refusal{Reason: connect.ReasonNoSeat}}, line: "/msteams connect",
			want: []string{"places for connected users are taken"}},
		{name: "status when connected names the account", conns: conns{connected: true}, line: "/msteams status",
			want: []string{"ada@contoso.com", "2026-01-02"}},
		{name: "status when not connected", line: "/msteams status", want: []string{"not connected", "/msteams connect"}},
		{name: "disconnect", conns: conns{connected: true}, line: "/msteams disconnect",
			want: []string{"disconnected"}, wantConns: &conns{disconnects: 1}},
		{name: "disconnect when not connected", line: "/msteams disconnect", want: []string{"nothing to disconnect"}},
		{name: "notifications off", conns: conns{connected: true, notifications: true}, line: "/msteams notifications off",
			want: []string{"Notifications are off"}, wantConns: &conns{connected: true}},
		{name: "notifications on", conns: conns{connected: true}, line: "/msteams notifications ON",
			want: []string{"Notifications are on"}, wantConns: &conns{connected: true, notifications: true}},
		{name: "notifications status", conns: conns{connected: true, notifications: true}, line: "/msteams notifications status",
			want: []string{"Notifications are on"}, wantConns: &conns{connected: true, notifications: true}},
		{name: "notifications need a connection", conns: conns{notifications: true}, line: "/msteams notifications off",
			want: []string{"not connected"}, wantConns: &conns{notifications: true}},
		{name: "notifications with a bad argument explains usage", conns: conns{connected: true}, line: "/msteams notifications maybe",
			want: []string{"/msteams notifications on"}, wantConns: &conns{connected: true}},
		{name: "unknown subcommand gets the help", line: "/msteams frobnicate", want: []string{"Unknown command `frobnicate`", "/msteams connect", "/msteams notifications on|off|status"}},
		{name: "no subcommand gets the help", line: "/msteams", want: []string{"/msteams disconnect", "/msteams help"}},
		{name: "help", line: "/msteams help", want: []string{"- `/msteams status`: show whether your Microsoft Teams account is connected",
			"- `/msteams notifications on|off|status`: turn forwarding"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.conns
			out := &responder{}
			h := New(&c, out, &logger{})
			resp := h.Execute(context.Background(), &model.CommandArgs{UserId: "u1", ChannelId: "ch1", Command: tt.line})
			require.NotNil(t, resp)
			require.Len(t, out.posts, 1, "every answer is one ephemeral post")
			assert.Equal(t, "u1", out.posts[0].userID)
			assert.Equal(t, "ch1", out.posts[0].channelID)
			for _, w := range tt.want {
				assert.Contains(t, out.posts[0].message, w)
			}
			want := tt.conns
			if tt.wantConns != nil {
				want = *tt.wantConns
			}
			assert.Equal(t, want, c)
		})
	}
}

func TestFailureIsLoggedAndAnsweredPlainly(t *testing.T) {
	out, log := &responder{}, &logger{}
	h := New(&conns{}, out, log)
	h.Register(Subcommand{Name: "boom", Usage: "boom", Run: func(context.Context, Call) (string, error) {
		return "", assertErr("database is down")
	}})
	h.Execute(context.Background(), &model.CommandArgs{UserId: "u1", Command: "/msteams boom"})
	require.Len(t, out.posts, 1)
	assert.Contains(t, out.posts[0].message, "Something went wrong")
	assert.NotContains(t, out.posts[0].message, "database")
	assert.Equal(t, 1, log.errors)
}

type assertErr string

func (e assertErr) Error() string { return string(e) }

func TestRegisteredSubcommandIsRunAndAutocompleted(t *testing.T) {
	out := &responder{}
	h := New(&conns{}, out, &logger{})
	var got Call
	h.Register(Subcommand{Name: "admin", Usage: "admin ...", Description: "administration",
		Autocomplete: model.NewAutocompleteData("admin", "", "Administration"),
		Run: func(_ context.Context, c Call) (string, error) {
			got = c
			return "admin done", nil
		}})
	h.Execute(context.Background(), &model.CommandArgs{UserId: "u1", ChannelId: "c", Command: "/msteams admin whitelist add x@y.z"})
	assert.Equal(t, []string{"whitelist", "add", "x@y.z"}, got.Args)
	assert.Equal(t, "u1", got.UserID)
	assert.Equal(t, "admin done", out.posts[0].message)

	cmd := h.Command()
	assert.Equal(t, "msteams", cmd.Trigger)
	assert.True(t, cmd.AutoComplete)
	require.NoError(t, cmd.AutocompleteData.IsValid())
	var names []string
	for _, sub := range cmd.AutocompleteData.SubCommands {
		names = append(names, sub.Trigger)
	}
	assert.Equal(t, "connect disconnect status notifications help admin", strings.Join(names, " "))
}

func TestHelpListsRestrictedCommandsOnlyToThoseAllowed(t *testing.T) {
	h := New(&conns{}, &responder{}, &logger{})
	h.Register(Subcommand{Name: "admin", Usage: "admin status", Description: "integration status",
		VisibleTo: func(userID string) bool { return userID == "sysadmin" },
		Run:       func(context.Context, Call) (string, error) { return "ok", nil }})

	user := h.Answer(context.Background(), Call{UserID: "u1"}, "/msteams help")
	assert.Contains(t, user, "- `/msteams connect`: connect your Microsoft Teams account")
	assert.NotContains(t, user, "admin")

	admin := h.Answer(context.Background(), Call{UserID: "sysadmin"}, "/msteams help")
	assert.Contains(t, admin, "- `/msteams connect`: connect your Microsoft Teams account")
	assert.Contains(t, admin, "- `/msteams admin status`: integration status")
	assert.NotContains(t, admin, " - ", "descriptions follow a colon, outside the code span")
}
