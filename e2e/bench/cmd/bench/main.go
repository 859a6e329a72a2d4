// Command bench runs the load bench (`make bench`) or the fault bench (`make bench-faults`) against a real
// Mattermost server with the plugin and an in-process graphsim, prints the figures and writes them as JSON.
// It exits non-zero when a DM was lost or duplicated, or a run failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/teamsnotify/msteams-sync/e2e/bench"
	"github.com/teamsnotify/msteams-sync/e2e/harness"
)

func main() {
	mode := flag.String("mode", "bench", "bench (rates, attachments, burst) or faults")
	users := flag.Int("users", 240, "connected users (an unlicensed server refuses its 251st user)")
	groups := flag.Int("groups", 40, "group chats of 3-6 users (1:1 chats pair every user with a neighbour)")
	scale := flag.Float64("scale", 1, "multiply run durations and burst sizes (0.1 for a quick look)")
	version := flag.String("version", "11.4.0", "Mattermost server version (a cached build under e2e/.cache)")
	out := flag.String("out", "../bench-results.json", "where to write the JSON results")
	only := flag.String("only", "", "run only the runs with these names (comma separated)")
	baselineDMs := flag.Int("baseline", 10000, "DMs the server alone creates first, as the baseline (0: none; scaled by -scale)")
	profiles := flag.String("profiles", "", "directory for CPU profiles of the Mattermost server and of the plugin taken during the burst")
	flag.Parse()

	t := &programT{}
	code := run(t, *mode, *users, *groups, bench.Scale(*scale), *version, *out, *only, *profiles, int(float64(*baselineDMs)**scale))
	t.cleanup()
	os.Exit(code)
}

func run(t *programT, mode string, users, groups int, scale bench.Scale, version, out, only, profiles string, baseline int) (code int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			code = 2
		}
	}()
	// The bench measures what admins run: the server logs at INFO (the harness's default, DEBUG, is for
	// tests and adds a log write per message to both processes). E2E_LOG_LEVEL still overrides it.
	if os.Getenv("E2E_LOG_LEVEL") == "" {
		os.Setenv("E2E_LOG_LEVEL", "INFO")
	}
	if profiles != "" {
		// Inherited by the server, then by its plugin process, which serves pprof there for the burst profile.
		os.Setenv("MSTEAMS_PPROF_ADDR", bench.PluginProfileAddr)
	}
	plan := bench.BenchPlan(scale, profiles)
	if mode == "faults" {
		plan = bench.FaultPlan(scale)
	}
	rep := &bench.Report{Mode: mode, Users: users, ServerVersion: version, Machine: bench.Machine(), StartedAt: time.Now().UTC()}
	begin := time.Now()
	t.Logf("starting the stack (Mattermost %s, graphsim, PostgreSQL, plugin) with %d users", version, users)
	e := bench.Setup(t, version, users, groups)
	rep.OneOnOneChats, rep.GroupChats = len(e.OneOne), len(e.Groups)
	ctx := context.Background()
	if mode == "bench" && baseline > 0 {
		t.Logf("baseline: the server alone creates %d DMs", baseline)
		b, err := e.ServerBaseline(ctx, t, baseline, bench.DeliveryWorkers)
		if err != nil {
			t.Logf("baseline failed: %v", err)
			code = 1
		} else {
			rep.ServerAlone = &b
			fmt.Printf("\n== server alone: %d bot DMs from %d goroutines through the plugin API, no plugin work: %.0f DMs/s; server CPU %.1f s, whole machine %.1f s (%.1f ms per DM)\n",
				b.DMs, b.Workers, b.PerS, b.ServerCPUSec, b.MachineCPUSec, 1000*b.MachineCPUSec/float64(max(b.DMs, 1)))
		}
	}
	for _, l := range plan {
		if only != "" && !slices.Contains(strings.Split(only, ","), l.Name) {
			continue
		}
		t.Logf("run %s", l.Name)
		r, err := e.Run(ctx, l, t.Logf)
		if err != nil {
			t.Logf("run %s failed: %v", l.Name, err)
			code = 1
		}
		bench.PrintRun(os.Stdout, r)
		rep.Runs = append(rep.Runs, r)
		rep.Seconds = time.Since(begin).Seconds()
		rep.Summarize()
		if err := rep.Write(out); err != nil {
			t.Logf("write %s: %v", out, err)
		}
	}
	bench.PrintSummary(os.Stdout, rep)
	fmt.Printf("results written to %s (%.0f s)\n", out, rep.Seconds)
	if rep.Lost > 0 || rep.Duplicated > 0 {
		fmt.Printf("FAIL: %d lost, %d duplicated DMs\n", rep.Lost, rep.Duplicated)
		return 1
	}
	return code
}

// programT adapts the harness to a program: Fatal unwinds to run through a panic, cleanups run at exit.
type programT struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

type fatal struct{}

func (t *programT) Helper() {}
func (t *programT) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
func (t *programT) Fatal(args ...any) { t.fail(fmt.Sprint(args...)) }
func (t *programT) Fatalf(format string, args ...any) {
	t.fail(fmt.Sprintf(format, args...))
}
func (t *programT) fail(msg string) {
	fmt.Fprintln(os.Stderr, "FATAL: "+msg)
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	panic(fatal{})
}
func (t *programT) Cleanup(f func()) { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }
func (t *programT) Failed() bool     { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }
func (t *programT) TempDir() string {
	d, err := os.MkdirTemp("", "bench-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}
func (t *programT) cleanup() {
	t.mu.Lock()
	cs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

var _ harness.T = (*programT)(nil)
