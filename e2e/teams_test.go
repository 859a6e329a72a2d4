package e2e

import (
	"context"
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
	w := &world{Stack: st}
	w.alice = st.NewPair(t, "alice", "Alice Adams")
	w.bob = st.NewPair(t, "bob", "Bob Brown")
	w.carol = st.NewPair(t, "carol", "Carol Clark")
	w.oneOnOne = st.Teams.Chat(t, "", w.bob.Teams, w.alice.Teams)
	w.group = st.Teams.Chat(t, "Launch plans", w.alice.Teams, w.bob.Teams, w.carol.Teams)
	return w
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
		b.WriteString("  - " + strings.ReplaceAll(p.Message, "\n", "⏎") + "\n")
	}
	return b.String()
}

func fileNames(t *testing.T, c *model.Client4, p *model.Post) []string {
	t.Helper()
	var names []string
	for _, id := range p.FileIds {
		info, _, err := c.GetFileInfo(context.Background(), id)
		require.NoError(t, err)
		names = append(names, info.Name)
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
