package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/graphsim/changes"
)

// AfterDelivered runs f once the current run has produced n bot posts, so that a fault lands mid-drain of a
// burst rather than while graphsim is still taking the messages in.
func AfterDelivered(n int, f func(context.Context, *Env) error) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			if got, err := e.Posts.CountSince(ctx, e.runSince); err == nil && got >= n {
				return f(ctx, e)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return errors.Errorf("the run never reached %d DMs", n)
	}
}

// KillPlugin sends SIGKILL to the plugin process; the server's plugin health check restarts it.
func KillPlugin(_ context.Context, e *Env) error {
	pid, err := FindProcess(e.Stack.Dir)
	if err != nil {
		return err
	}
	return errors.Wrap(syscall.Kill(pid, syscall.SIGKILL), "kill the plugin process")
}

// RestartPostgres restarts the PostgreSQL cluster the server's database lives on. Only a private cluster
// (E2E_PG=private) can be restarted: the shared one belongs to everybody on the machine.
func RestartPostgres(_ context.Context, e *Env) error {
	port := dsnPort(e.Stack.DSN)
	data, err := clusterDataDir(port)
	if err != nil {
		return err
	}
	bin, err := pgCtl()
	if err != nil {
		return err
	}
	args := []string{bin, "-D", data, "-l", filepath.Join(filepath.Dir(data), "postgres.log"), "-m", "fast", "-w", "-t", "60", "restart"}
	cmd := exec.Command(args[0], args[1:]...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	return errors.Wrapf(err, "pg_ctl restart: %s", strings.TrimSpace(string(out)))
}

func dsnPort(dsn string) string {
	rest := dsn[strings.Index(dsn, "@")+1:]
	host, _, _ := strings.Cut(rest, "/")
	_, port, _ := strings.Cut(host, ":")
	if port == "" {
		port = "5432"
	}
	return port
}

// clusterDataDir finds the data directory of the postmaster listening on port from its command line, and
// refuses the machine's shared cluster.
func clusterDataDir(port string) (string, error) {
	if port == "5432" {
		return "", errors.New("the database is on the shared PostgreSQL (port 5432): run the fault bench with E2E_PG=private")
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		raw, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if len(args) < 3 || filepath.Base(args[0]) != "postgres" {
			continue
		}
		var data, p string
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "-D":
				data = args[i+1]
			case "-p":
				p = args[i+1]
			}
		}
		if p == port && data != "" {
			return data, nil
		}
	}
	return "", errors.Errorf("no postmaster found for port %s", port)
}

func pgCtl() (string, error) {
	if dir := os.Getenv("E2E_PG_BIN"); dir != "" {
		return filepath.Join(dir, "pg_ctl"), nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(m) == 0 {
		return "", errors.New("pg_ctl not found under /usr/lib/postgresql")
	}
	return m[len(m)-1], nil
}

// GraphOutage makes graphsim answer every Graph and identity request with 429 (Retry-After) and then 503,
// half of span each.
func GraphOutage(span time.Duration) func(context.Context, *Env) error {
	return func(_ context.Context, e *Env) error {
		e.Sim.InjectFault(graphsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: 2, For: span / 2})
		time.Sleep(span / 2)
		e.Sim.InjectFault(graphsim.Fault{Status: http.StatusServiceUnavailable, For: span / 2})
		time.Sleep(span / 2)
		return nil
	}
}

// DuplicateAndReorder turns on graphsim's delivery faults for span.
func DuplicateAndReorder(span time.Duration) func(context.Context, *Env) error {
	return func(_ context.Context, e *Env) error {
		e.Sim.Changes().SetSeed(42)
		e.Sim.Changes().SetFaults(changes.Faults{DuplicatePercent: 10, ReorderWindow: 300 * time.Millisecond})
		time.Sleep(span)
		e.Sim.Changes().SetFaults(changes.Faults{})
		return nil
	}
}

// ForgedFlood posts n notifications whose clientState is wrong (they name the live subscription and real chats)
// at the plugin's webhook from 8 connections, spread over span. Every one must be refused.
func ForgedFlood(n int, span time.Duration) func(context.Context, *Env) error {
	return func(ctx context.Context, e *Env) error {
		url := e.Stack.URL + "/plugins/" + harness.PluginID + "/changes"
		sub := e.SubscriptionID()
		chat := e.OneOne[0].ID
		hc := &http.Client{Timeout: 10 * time.Second}
		var mu sync.Mutex
		accepted := 0
		var firstErr error
		per := span / time.Duration(n)
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					body := fmt.Sprintf(`{"value":[{"subscriptionId":%q,"clientState":"forged-%d","changeType":"created","tenantId":%q,`+
						`"resource":"chats('%s')/messages('%d')","resourceData":{"id":"%d"},"subscriptionExpirationDateTime":"2099-01-01T00:00:00Z"}]}`,
						sub, i, harness.TeamsTenantID, chat, 1700000000000+i, 1700000000000+i)
					resp, err := hc.Post(url, "application/json", bytes.NewBufferString(body))
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					} else if err == nil && resp.StatusCode/100 == 2 {
						accepted++
					}
					mu.Unlock()
					if err == nil {
						resp.Body.Close()
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			if d := time.Until(start.Add(time.Duration(i) * per)); d > 0 {
				time.Sleep(d)
			}
			next <- i
		}
		close(next)
		wg.Wait()
		if firstErr != nil {
			return errors.Wrap(firstErr, "forged request")
		}
		// Graph's contract is to acknowledge quickly; the plugin may answer 202 and drop forged items, so what
		// matters is that none of them turns into a DM (the tally counts unexpected posts) or an inbox row.
		e.setNote(fmt.Sprintf("%d forged notifications posted, %d answered 2xx", n, accepted))
		return nil
	}
}

// RemoveSubscription fires a subscriptionRemoved lifecycle event for the live subscription, as Graph does
// when it drops one.
func RemoveSubscription(_ context.Context, e *Env) error {
	id := e.SubscriptionID()
	if id == "" {
		return errors.New("no live subscription to remove")
	}
	return errors.Wrap(e.Sim.Changes().FireLifecycle(id, "subscriptionRemoved"), "fire subscriptionRemoved")
}
