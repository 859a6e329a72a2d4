package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// deliveryWait bounds how long a forwarded Teams message may take to show up as a DM.
const deliveryWait = 30 * time.Second

// world is a stack with Alice connected and two Teams colleagues who write to her.
type world struct {
	*harness.Stack
	alice, bob, carol harness.Pair
	oneOnOne, group   string // chat ids: Bob↔Alice, and Alice+Bob+Carol
}

func newWorld(t *testing.T, version string) *world {
	st := harness.StartStack(t, version)
	// Undelivered notifications come back within about a second instead of Graph's 10 s, 20 s, 40 s...
	cs := st.Teams.Sim.Changes().Settings()
	cs.RetryBase, cs.RetryMaxDelay = 200*time.Millisecond, time.Second
	st.Teams.Sim.Changes().SetSettings(cs)
	w := &world{Stack: st}
	w.alice = st.NewPair(t, "alice", "Alice Adams")
	w.bob = st.NewPair(t, "bob", "Bob Brown")
	w.carol = st.NewPair(t, "carol", "Carol Clark")
	w.oneOnOne = st.Teams.Chat(t, "", w.bob.Teams, w.alice.Teams)
	w.group = st.Teams.Chat(t, "Launch plans", w.alice.Teams, w.bob.Teams, w.carol.Teams)
	return w
}

// newestVersion is the one server version the scenarios that do not depend on the server's plugin lifecycle run on.
func newestVersion() string { return harness.Versions()[0] }

// connect connects a pair and returns the bot DMs they then have (the welcome message).
func (w *world) connect(t *testing.T, p harness.Pair) []*model.Post {
	t.Helper()
	w.ConnectUser(t, p.MM, p.Teams)
	posts := w.WaitDirectPosts(p.MM, w.Bot.Id, 1, deliveryWait)
	require.NotEmpty(t, posts, "a connected user gets a welcome DM from the bot")
	return posts
}

// connectAlice connects Alice and returns the bot DMs she has then (the welcome message).
func (w *world) connectAlice(t *testing.T) []*model.Post {
	w.ConnectUser(t, w.alice.MM, w.alice.Teams)
	posts := w.WaitDirectPosts(w.alice.MM, w.Bot.Id, 1, deliveryWait)
	require.NotEmpty(t, posts, "a connected user gets a welcome DM from the bot")
	return posts
}

// waitForPost waits until a bot DM to the user contains text and returns it.
func (w *world) waitForPost(t *testing.T, u *harness.User, text string) *model.Post {
	t.Helper()
	deadline := time.Now().Add(deliveryWait)
	for {
		for _, p := range w.DirectPosts(u, w.Bot.Id) {
			if strings.Contains(p.Message, text) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bot DM to %s containing %q within %s; the DM channel holds:\n%s", u.Username, text, deliveryWait, dump(w.DirectPosts(u, w.Bot.Id)))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// botPostsContaining counts the bot DMs to the user containing text.
func (w *world) botPostsContaining(u *harness.User, text string) int {
	n := 0
	for _, p := range w.DirectPosts(u, w.Bot.Id) {
		if strings.Contains(p.Message, text) {
			n++
		}
	}
	return n
}

// settle sends a marker message and waits for it: the pipeline is in order per chat, so once the marker is in,
// anything sent before it in that chat had its chance to arrive.
func (w *world) settle(t *testing.T, chatID string, from graphsim.User, to *harness.User, marker string) {
	t.Helper()
	w.Teams.Send(t, chatID, graphsim.NewMessage{From: from.ID, HTML: marker})
	w.waitForPost(t, to, marker)
}

func dump(posts []*model.Post) string {
	var b strings.Builder
	for _, p := range posts {
		fmt.Fprintf(&b, "  - %s (files %d, reply %t)\n", strings.ReplaceAll(p.Message, "\n", "⏎"), len(p.FileIds), p.RootId != "")
	}
	return b.String()
}

// fileNames reads the names of a post's files. Mattermost links a file to its post's channel just after the post
// is stored, so a post read at once may name a file whose info still answers 404 for a moment: that is retried.
func fileNames(t *testing.T, c *model.Client4, p *model.Post) []string {
	t.Helper()
	var names []string
	for _, id := range p.FileIds {
		deadline := time.Now().Add(5 * time.Second)
		for {
			info, resp, err := c.GetFileInfo(context.Background(), id)
			if err == nil {
				names = append(names, info.Name)
				break
			}
			require.True(t, resp != nil && resp.StatusCode == http.StatusNotFound && time.Now().Before(deadline), "file %s: %v", id, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	return names
}

// TestConnectThroughSignIn: /msteams connect answers with the connect link, and following it through graphsim's
// sign-in page and back to /oauth-redirect connects the account (status says so, the bot welcomes the user).
func TestConnectThroughSignIn(t *testing.T) {
	for _, version := range harness.Versions() {
		t.Run(version, func(t *testing.T) {
			w := newWorld(t, version)
			out := w.Command(t, w.alice.MM, "/msteams connect")
			require.Contains(t, out, "/plugins/"+harness.PluginID+"/connect", "the command answers with the connect link")
			w.connectAlice(t)
			require.Contains(t, w.Command(t, w.alice.MM, "/msteams status"), w.alice.Teams.Mail)
		})
	}
}

// pngImage is a small real PNG (the server makes previews of images, so it must decode).
func pngImage(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < 8; i++ {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// attachmentsOf waits for the bot's reply carrying the files of the DM and returns the file names.
func (w *world) attachmentsOf(t *testing.T, u *harness.User, dm *model.Post, want int) []string {
	t.Helper()
	deadline := time.Now().Add(deliveryWait)
	var names []string
	for {
		names = names[:0]
		for _, p := range w.DirectPosts(u, w.Bot.Id) {
			if p.Id == dm.Id || p.RootId == dm.Id {
				names = append(names, fileNames(t, u.Client, p)...)
			}
		}
		if len(names) >= want || time.Now().After(deadline) {
			return names
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestTeamsMessagesArriveAsDirectMessages: 1:1 and group messages with an inline image and a file arrive as bot
// DMs with the sender, the chat, the text as Markdown, and both attachments as Mattermost files.
func TestTeamsMessagesArriveAsDirectMessages(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	img := pngImage(t)
	report := []byte("quarterly numbers\n1,2,3\n")

	w.Teams.Send(t, w.oneOnOne, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "<p>Hello <b>Alice</b>, the plan is attached</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: img}},
		Files:  []graphsim.FileRef{{Name: "plan.txt", ContentType: "text/plain", Bytes: report}}})
	dm := w.waitForPost(t, w.alice.MM, "Hello **Alice**, the plan is attached")
	require.Contains(t, dm.Message, "Bob Brown", "the DM names the sender")
	require.Contains(t, dm.Message, "sent you a message in a Teams chat")
	names := w.attachmentsOf(t, w.alice.MM, dm, 2)
	require.Len(t, names, 2, "the image and the file are attached: %v; the DM channel holds:\n%s", names, dump(w.DirectPosts(w.alice.MM, w.Bot.Id)))
	require.Contains(t, names, "plan.txt")

	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.carol.Teams.ID, HTML: "<p>Launch is <i>Tuesday</i></p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: img}},
		Files:  []graphsim.FileRef{{Name: "checklist.txt", ContentType: "text/plain", Bytes: report}}})
	dm = w.waitForPost(t, w.alice.MM, "Launch is *Tuesday*")
	require.Contains(t, dm.Message, "Carol Clark")
	require.Contains(t, dm.Message, "Launch plans", "a group chat DM names the chat")
	names = w.attachmentsOf(t, w.alice.MM, dm, 2)
	require.Len(t, names, 2, "the image and the file are attached: %v; the DM channel holds:\n%s", names, dump(w.DirectPosts(w.alice.MM, w.Bot.Id)))
	require.Contains(t, names, "checklist.txt")

	require.Zero(t, w.botPostsContaining(w.bob.MM, "Launch is"), "Bob is not connected: he gets nothing")
}

// TestNotificationsOffStopsDirectMessages: after /msteams notifications off a message reaches the other connected
// member of the chat but not Alice; after on, Alice gets messages again.
func TestNotificationsOffStopsDirectMessages(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	w.connect(t, w.carol)
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams notifications off"), "Notifications are off")

	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "while you were muted"})
	w.waitForPost(t, w.carol.MM, "while you were muted") // the same job decided for Alice
	require.Zero(t, w.botPostsContaining(w.alice.MM, "while you were muted"))

	w.Command(t, w.alice.MM, "/msteams notifications on")
	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "welcome back"})
	w.waitForPost(t, w.alice.MM, "welcome back")
}

// TestEditAndDeleteFollow: editing a Teams message rewrites the DM and marks it edited; deleting it replaces the
// text with a note, keeping who wrote it.
func TestEditAndDeleteFollow(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	id := w.Teams.Send(t, w.oneOnOne, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "meeting at 3"})
	dm := w.waitForPost(t, w.alice.MM, "meeting at 3")

	require.NoError(t, w.Teams.Sim.EditMessage(w.oneOnOne, id, "meeting at 4"))
	edited := w.waitForPost(t, w.alice.MM, "meeting at 4")
	require.Equal(t, dm.Id, edited.Id, "the edit rewrites the same DM")
	require.Contains(t, edited.Message, "(edited)")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "meeting at 3"))

	require.NoError(t, w.Teams.Sim.DeleteMessage(w.oneOnOne, id))
	deleted := w.waitForPost(t, w.alice.MM, "This message was deleted in Teams")
	require.Equal(t, dm.Id, deleted.Id)
	require.Contains(t, deleted.Message, "Bob Brown", "the deleted DM keeps its header")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "meeting at 4"))
}

// TestMessagesWhilePluginDisabledArriveOnce: Teams keeps retrying notifications the disabled plugin could not take
// (and catch-up covers longer gaps); once it is enabled again every missed message arrives exactly once.
func TestMessagesWhilePluginDisabledArriveOnce(t *testing.T) {
	for _, version := range harness.Versions() {
		t.Run(version, func(t *testing.T) {
			w := newWorld(t, version)
			w.connect(t, w.alice)
			w.DisablePlugin()
			w.Teams.Send(t, w.oneOnOne, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "sent while disabled 1"})
			w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.carol.Teams.ID, HTML: "sent while disabled 2"})
			// Only enable once Teams has really failed to deliver them, so the test is about missed messages.
			deadline := time.Now().Add(deliveryWait)
			for w.Teams.Sim.Changes().Stats().Failed == 0 {
				require.False(t, time.Now().After(deadline), "graphsim never tried to deliver to the disabled plugin")
				time.Sleep(50 * time.Millisecond)
			}
			w.EnablePlugin()

			w.waitForPost(t, w.alice.MM, "sent while disabled 1")
			w.waitForPost(t, w.alice.MM, "sent while disabled 2")
			w.settle(t, w.oneOnOne, w.bob.Teams, w.alice.MM, "after the restart")
			w.settle(t, w.group, w.carol.Teams, w.alice.MM, "after the restart, group")
			require.Equal(t, 1, w.botPostsContaining(w.alice.MM, "sent while disabled 1"), dump(w.DirectPosts(w.alice.MM, w.Bot.Id)))
			require.Equal(t, 1, w.botPostsContaining(w.alice.MM, "sent while disabled 2"), dump(w.DirectPosts(w.alice.MM, w.Bot.Id)))
		})
	}
}

// TestDisconnectStopsDelivery: after /msteams disconnect Alice gets no more DMs while Carol, still connected,
// does; status says Alice is not connected.
func TestDisconnectStopsDelivery(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	w.connect(t, w.carol)
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams disconnect"), "disconnected")
	require.Contains(t, w.Command(t, w.alice.MM, "/msteams status"), "not connected")

	w.Teams.Send(t, w.group, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: "after alice left"})
	w.waitForPost(t, w.carol.MM, "after alice left")
	require.Zero(t, w.botPostsContaining(w.alice.MM, "after alice left"))
}

// TestAdminInstallsAndConfigures: an administrator uploads the bundle, the plugin refuses to start without the
// app registration (saying what is missing), and once the settings point at the tenant it runs, creates its bot,
// and subscribes to the tenant's chat messages with rich notifications, at the plugin's webhook.
func TestAdminInstallsAndConfigures(t *testing.T) {
	for _, version := range harness.Versions() {
		t.Run(version, func(t *testing.T) {
			s := harness.Start(t, version)
			tm := harness.StartTeams(t, s.URL)
			s.UploadPlugin(harness.BundlePath(t))
			require.Equal(t, model.PluginStateNotRunning, s.PluginState())

			_, err := s.Admin.EnablePlugin(context.Background(), harness.PluginID)
			require.NoError(t, err)
			statuses, _, err := s.Admin.GetPluginStatuses(context.Background())
			require.NoError(t, err)
			found := false
			for _, st := range statuses {
				if st.PluginId == harness.PluginID {
					found = true
					require.Equal(t, model.PluginStateFailedToStart, st.State, "no tenant, no start")
					require.NotEmpty(t, st.Error, "the status says why")
				}
			}
			require.True(t, found, "the uploaded plugin is listed")
			_, err = s.Admin.DisablePlugin(context.Background(), harness.PluginID)
			require.NoError(t, err)

			s.PatchPluginConfig(tm.PluginSettings())
			s.EnablePlugin()
			s.Bot("msteams")
			var subs []string
			deadline := time.Now().Add(deliveryWait)
			for {
				subs = subs[:0]
				for _, sub := range tm.Sim.Changes().Subscriptions() {
					if sub.Resource == "/chats/getAllMessages" && sub.AppID == harness.TeamsClientID && sub.IncludeResourceData &&
						strings.HasPrefix(sub.NotificationURL, s.URL+"/plugins/"+harness.PluginID+"/") {
						subs = append(subs, sub.ID)
					}
				}
				if len(subs) > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			require.Len(t, subs, 1, "one tenant-wide rich subscription at the plugin's webhook: %+v", tm.Sim.Changes().Subscriptions())
		})
	}
}
