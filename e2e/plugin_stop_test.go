package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// burst is many Teams messages to Alice spread over several group chats, so that many delivery jobs run at once
// (a chat's jobs run one after the other). It stays below the 200 posts harness.DirectPosts reads.
type burst struct {
	chats    []string
	perChat  int
	prefix   string
	sendDone chan struct{}
}

func (w *world) startBurst(t *testing.T, prefix string, chats, perChat int) *burst {
	t.Helper()
	b := &burst{perChat: perChat, prefix: prefix, sendDone: make(chan struct{})}
	for i := 0; i < chats; i++ {
		b.chats = append(b.chats, w.Teams.Chat(t, fmt.Sprintf("%s chat %02d", prefix, i), w.alice.Teams, w.bob.Teams, w.carol.Teams))
	}
	var wg sync.WaitGroup
	for _, chat := range b.chats {
		wg.Add(1)
		go func(chat string) {
			defer wg.Done()
			for m := 0; m < perChat; m++ {
				// Not t.Fatalf: this runs outside the test goroutine; a failed send shows up as a missing DM.
				if _, err := w.Teams.Sim.SendMessage(chat, graphsim.NewMessage{From: w.bob.Teams.ID, HTML: b.text(chat, m)}); err != nil {
					t.Errorf("send burst message: %v", err)
				}
			}
		}(chat)
	}
	go func() { wg.Wait(); close(b.sendDone) }()
	return b
}

func (b *burst) text(chat string, m int) string { return fmt.Sprintf("%s %s #%03d", b.prefix, chat, m) }

func (b *burst) total() int { return len(b.chats) * b.perChat }

// delivered counts the DMs to Alice of each burst message.
func (w *world) delivered(b *burst) map[string]int {
	n := map[string]int{}
	for _, p := range w.DirectPosts(w.alice.MM, w.Bot.Id) {
		for _, chat := range b.chats {
			for m := 0; m < b.perChat; m++ {
				if strings.Contains(p.Message, b.text(chat, m)) {
					n[b.text(chat, m)]++
				}
			}
		}
	}
	return n
}

// waitDelivered waits until at least n burst messages arrived and returns when they did.
func (w *world) waitDelivered(t *testing.T, b *burst, n int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := len(w.delivered(b))
		if got >= n {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d burst messages arrived within %s", got, n, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// requireEachOnce asserts that every burst message arrived exactly once.
func (w *world) requireEachOnce(t *testing.T, b *burst) {
	t.Helper()
	got := w.delivered(b)
	var wrong []string
	for _, chat := range b.chats {
		for m := 0; m < b.perChat; m++ {
			if n := got[b.text(chat, m)]; n != 1 {
				wrong = append(wrong, fmt.Sprintf("%s: %d times", b.text(chat, m), n))
			}
		}
	}
	require.Empty(t, wrong, "every burst message arrives exactly once")
}

// shutdownComplaints are the lines Mattermost logs when a plugin is slow to stop: OnDeactivate over its 10 s at
// server shutdown, or the process still there 2 s after being asked to exit (go-plugin kills it then).
var shutdownComplaints = []string{"failed to exit gracefully", "OnDeactivate() failed to complete", "error closing client during Kill"}

// TestDisableDuringBurstStopsPromptlyAndLosesNothing: an admin disables the plugin while a burst of Teams messages
// is being delivered and the database is stuck (the plugin's inbox table locked, as by a long migration or a
// failover), so no job can record its outcome. The plugin still stops within the server's patience (the disable
// returns in well under the 10 s Mattermost gives OnDeactivate at shutdown, and the server logs no complaint
// about the plugin's exit); once it is enabled again, every message of the burst arrives exactly once.
func TestDisableDuringBurstStopsPromptlyAndLosesNothing(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	b := w.startBurst(t, "burst", 12, 15)
	w.waitDelivered(t, b, 10, deliveryWait) // delivery is under way

	unlock := lockTable(t, w.DSN, "msteamsnotify_inbox", 20*time.Second)
	began := time.Now()
	w.DisablePlugin()
	took := time.Since(began)
	unlock()
	t.Logf("disabling the plugin mid-burst took %s (%d of %d delivered by then)", took.Round(time.Millisecond), len(w.delivered(b)), b.total())
	require.Less(t, took, 8*time.Second, "the plugin stops well within the 10 s the server gives it at shutdown")
	<-b.sendDone

	w.EnablePlugin()
	w.waitDelivered(t, b, b.total(), 2*time.Minute)
	for _, chat := range b.chats {
		w.settle(t, chat, w.bob.Teams, w.alice.MM, "after the burst in "+chat)
	}
	w.requireEachOnce(t, b)
	log := w.Log()
	for _, c := range shutdownComplaints {
		require.NotContains(t, log, c, "the server has no complaint about the plugin's exit:\n%s", w.LogProblems(40))
	}
	require.Contains(t, log, "MS Teams plugin stopped.")
}

// TestKilledPluginTakesBackItsJobs: the plugin process is killed (kill -9) in the middle of a burst. The server's
// health check (every 30 s) starts it again, and the restarted plugin takes back the jobs its previous process
// had claimed at once, instead of waiting out their 90 s lease: the rest of the burst arrives within 30 s of the
// restart, each message exactly once.
func TestKilledPluginTakesBackItsJobs(t *testing.T) {
	w := newWorld(t, newestVersion())
	w.connect(t, w.alice)
	b := w.startBurst(t, "killed", 12, 15)
	w.waitDelivered(t, b, 10, deliveryWait)

	pid := pluginPID(t, w.PID())
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	killed := time.Now()
	before := len(w.delivered(b))
	t.Logf("killed plugin process %d with %d of %d delivered", pid, before, b.total())
	require.Less(t, before, b.total(), "the kill came in the middle of the burst")

	// The health check notices the dead process within its 30 s interval and starts a new one.
	var restarted time.Time
	for deadline := killed.Add(75 * time.Second); restarted.IsZero(); {
		if next := pluginPIDOrZero(w.PID()); next != 0 && next != pid && w.PluginState() == model.PluginStateRunning {
			restarted = time.Now()
			break
		}
		require.False(t, time.Now().After(deadline), "the server did not restart the killed plugin within 75 s")
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("server restarted the plugin %s after the kill", restarted.Sub(killed).Round(time.Millisecond))
	<-b.sendDone

	done := w.waitDelivered(t, b, b.total(), 2*time.Minute)
	t.Logf("the rest of the burst arrived %s after the restart (%s after the kill)", done.Sub(restarted).Round(time.Millisecond), done.Sub(killed).Round(time.Millisecond))
	require.Less(t, done.Sub(restarted), 30*time.Second, "the restarted plugin takes back its jobs at once, not after their lease")
	require.Less(t, done.Sub(killed), 90*time.Second, "everything arrived before the dead process's 90 s leases ran out")
	require.Contains(t, w.Log(), "Took back inbox jobs left by this node's previous run", "jobs claimed by the killed process were taken back")
	for _, chat := range b.chats {
		w.settle(t, chat, w.bob.Teams, w.alice.MM, "after the burst in "+chat)
	}
	w.requireEachOnce(t, b)
}

// lockTable holds an exclusive lock on the table until the returned function is called or hold passes.
func lockTable(t *testing.T, dsn, table string, hold time.Duration) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SET LOCAL lock_timeout = '5s'")
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-release:
		case <-time.After(hold):
		}
		_ = tx.Rollback(ctx)
		_ = conn.Close(ctx)
	}()
	var once sync.Once
	unlock = func() { once.Do(func() { close(release) }); <-done }
	t.Cleanup(unlock)
	return unlock
}

// pluginPID is the msteams plugin process: a child of the Mattermost server running the bundle's executable.
func pluginPID(t *testing.T, serverPID int) int {
	t.Helper()
	pid := pluginPIDOrZero(serverPID)
	require.NotZero(t, pid, "no msteams plugin process under Mattermost (pid %d)", serverPID)
	return pid
}

func pluginPIDOrZero(serverPID int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != strconv.Itoa(serverPID) {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if strings.Contains(exe, harness.PluginID) {
			return pid
		}
	}
	return 0
}
