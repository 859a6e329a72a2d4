package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// OfficialCallsPerMessage is the Graph cost of the official plugin's design: a notification without resource
// data, then GET the message, GET the chat with its members, and a presence lookup (see
// /work/shared/reference/official-plugin.md).
const OfficialCallsPerMessage = 3.0

// Goals are the targets of issue 9.
var Goals = struct {
	AckP99MS, DeliveryP99MS, BurstPerS, CallsPerDM, RSSMB float64
}{50, 500, 300, 0.3, 150}

// Report is bench-results.json.
type Report struct {
	WebhookAckP99MS float64 `json:"webhook_ack_p99_ms"` // at 500/s
	DeliveryP50MS   float64 `json:"delivery_p50_ms"`    // at 200/s
	DeliveryP99MS   float64 `json:"delivery_p99_ms"`    // at 200/s
	DeliveredPerS   float64 `json:"delivered_per_s"`    // burst
	GraphCallsPerDM float64 `json:"graph_calls_per_dm"` // at 200/s
	PluginRSSMB     float64 `json:"plugin_rss_mb"`      // peak over all runs
	Lost            int     `json:"lost"`
	Duplicated      int     `json:"duplicated"`

	// ServerAlone is the baseline: the Mattermost server creating DMs without the plugin, in the same run.
	ServerAlone *Baseline `json:"server_alone,omitempty"`
	// BurstVsServerAlone is the burst's delivered DMs/s as a share of the server-alone rate.
	BurstVsServerAlone float64 `json:"burst_vs_server_alone,omitempty"`

	OfficialGraphCallsPerMessage float64         `json:"official_graph_calls_per_message"`
	Goals                        map[string]bool `json:"goals_met"`
	Mode                         string          `json:"mode"`
	Users                        int             `json:"users"`
	OneOnOneChats                int             `json:"one_on_one_chats"`
	GroupChats                   int             `json:"group_chats"`
	ServerVersion                string          `json:"server_version"`
	Machine                      string          `json:"machine"`
	StartedAt                    time.Time       `json:"started_at"`
	Seconds                      float64         `json:"seconds"`
	Runs                         []Result        `json:"runs"`
}

// Summarize fills the top-level numbers from the runs named rate200, rate500 and burst.
func (r *Report) Summarize() {
	r.OfficialGraphCallsPerMessage = OfficialCallsPerMessage
	r.Lost, r.Duplicated = 0, 0
	for _, run := range r.Runs {
		r.Lost += run.Count.Lost + run.Count.ImagesLost
		r.Duplicated += run.Count.Duplicated + run.Count.ImagesDuplicated + run.Count.Unexpected
		r.PluginRSSMB = max(r.PluginRSSMB, run.PluginRSSMB)
		switch run.Name {
		case "rate500":
			r.WebhookAckP99MS = run.AckLatency.P99MS
		case "rate200":
			r.DeliveryP50MS, r.DeliveryP99MS = run.Delivery.P50MS, run.Delivery.P99MS
			r.GraphCallsPerDM = run.GraphCallsPerDM
		case "burst":
			r.DeliveredPerS = run.DeliveredPerS
		}
	}
	if r.ServerAlone != nil && r.ServerAlone.PerS > 0 && r.DeliveredPerS > 0 {
		r.BurstVsServerAlone = r.DeliveredPerS / r.ServerAlone.PerS
	}
	if r.Mode != "bench" {
		return
	}
	// A goal is judged only when the run it is measured on took place (-only runs a subset).
	has := map[string]bool{}
	for _, run := range r.Runs {
		has[run.Name] = true
	}
	r.Goals = map[string]bool{"nothing_lost_or_duplicated": r.Lost == 0 && r.Duplicated == 0}
	if has["rate500"] {
		r.Goals["webhook_ack_p99_under_50ms_at_500"] = r.WebhookAckP99MS < Goals.AckP99MS
	}
	if has["rate200"] {
		r.Goals["delivery_p99_under_500ms_at_200"] = r.DeliveryP99MS < Goals.DeliveryP99MS
		r.Goals["graph_calls_per_dm_under_0.3"] = r.GraphCallsPerDM < Goals.CallsPerDM
	}
	if has["burst"] {
		r.Goals["burst_at_least_300_per_s"] = r.DeliveredPerS >= Goals.BurstPerS
	}
	r.Goals["plugin_rss_under_150mb"] = r.PluginRSSMB < Goals.RSSMB
}

// Machine describes where the bench ran.
func Machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			var kb int64
			fmt.Sscan(f[1], &kb)
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average at start " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s/%s%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, load)
}

// Write saves the report as indented JSON.
func (r *Report) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// PrintRun writes one run's figures for a human.
func PrintRun(w io.Writer, r Result) {
	fmt.Fprintf(w, "\n== %s: %d messages", r.Name, r.Messages)
	if r.OfferedRate > 0 {
		fmt.Fprintf(w, " offered at %.0f/s", r.OfferedRate)
	}
	fmt.Fprintf(w, " (sent in %.1fs)\n", r.SendSeconds)
	c := r.Count
	fmt.Fprintf(w, "   DMs: expected %d, delivered %d, lost %d, duplicated %d, unexpected %d\n", c.Expected, c.Delivered, c.Lost, c.Duplicated, c.Unexpected)
	if c.ImagesExpected > 0 {
		fmt.Fprintf(w, "   image follow-ups: expected %d, delivered %d, lost %d, duplicated %d\n", c.ImagesExpected, c.ImagesDelivered, c.ImagesLost, c.ImagesDuplicated)
	}
	fmt.Fprintf(w, "   webhook ack: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d POSTs (%d failed)\n", r.AckLatency.P50MS, r.AckLatency.P99MS, r.AckLatency.MaxMS, r.AckPosts, r.AckFailures)
	fmt.Fprintf(w, "   delivery delay (Teams createdDateTime -> post create_at): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", r.Delivery.P50MS, r.Delivery.P99MS, r.Delivery.MaxMS)
	if r.ImageDelivery != nil {
		fmt.Fprintf(w, "   image follow-up delay: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", r.ImageDelivery.P50MS, r.ImageDelivery.P99MS, r.ImageDelivery.MaxMS)
	}
	fmt.Fprintf(w, "   delivered %.0f DMs/s (last DM %.1fs after the first message)\n", r.DeliveredPerS, r.DrainSeconds)
	fmt.Fprintf(w, "   Graph calls per delivered DM: %.3f (official plugin's design: ~%.0f per message); token requests %d\n", r.GraphCallsPerDM, OfficialCallsPerMessage, r.TokenRequests)
	for _, k := range r.RoutesByCost() {
		fmt.Fprintf(w, "     %-60s %.4f\n", k, r.GraphByRoute[k])
	}
	fmt.Fprintf(w, "   plugin: peak RSS %.0f MB, CPU %.1f s", r.PluginRSSMB, r.PluginCPUSec)
	fmt.Fprintf(w, " (Mattermost server CPU %.1f s; whole machine %.1f s", r.ServerCPUSec, r.MachineCPUSec)
	if dms := r.Count.Delivered; dms > 0 {
		fmt.Fprintf(w, ", %.1f ms per DM", 1000*r.MachineCPUSec/float64(dms))
	}
	fmt.Fprint(w, ")")
	if r.PluginRestarts > 0 {
		fmt.Fprintf(w, ", restarted %d×", r.PluginRestarts)
	}
	fmt.Fprintf(w, "; inbox rows left: %d queued, %d parked\n", r.InboxQueued, r.InboxParked)
	for _, row := range r.InboxSample {
		fmt.Fprintf(w, "     left: %s\n", row)
	}
	if rp := r.Replies; rp != nil {
		fmt.Fprintf(w, "   replies from Mattermost: %d posted, %d reached Teams, %d refused; their DMs: expected %d, delivered %d, lost %d, duplicated %d\n",
			rp.Posted, rp.InTeams, rp.Failed, rp.Count.Expected, rp.Count.Delivered, rp.Count.Lost, rp.Count.Duplicated)
		fmt.Fprintf(w, "   reply -> other member's DM: p50 %.0f ms, p99 %.0f ms; delegated Graph calls per reply %.2f\n",
			rp.Delivery.P50MS, rp.Delivery.P99MS, rp.GraphCallsPerReply)
	}
	if r.Note != "" {
		fmt.Fprintf(w, "   note: %s\n", r.Note)
	}
}

// PrintSummary writes the top-level figures against the goals.
func PrintSummary(w io.Writer, r *Report) {
	fmt.Fprintf(w, "\n== summary (%s, %d users, Mattermost %s)\n", r.Mode, r.Users, r.ServerVersion)
	line := func(key, name string, v float64, unit, goal string) {
		met, judged := r.Goals[key]
		if !judged {
			return
		}
		mark := "MET"
		if !met {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "   %-38s %10.2f %-5s goal %-10s %s\n", name, v, unit, goal, mark)
	}
	line("webhook_ack_p99_under_50ms_at_500", "webhook ack p99 at 500/s", r.WebhookAckP99MS, "ms", "< 50")
	line("delivery_p99_under_500ms_at_200", "delivery p99 at 200/s", r.DeliveryP99MS, "ms", "< 500")
	if _, ok := r.Goals["delivery_p99_under_500ms_at_200"]; ok {
		fmt.Fprintf(w, "   %-38s %10.2f ms\n", "delivery p50 at 200/s", r.DeliveryP50MS)
	}
	line("burst_at_least_300_per_s", "burst drain rate", r.DeliveredPerS, "DM/s", ">= 300")
	if b := r.ServerAlone; b != nil {
		fmt.Fprintf(w, "   %-38s %10.2f DM/s (%d DMs, %d workers; machine %.1f ms CPU per DM)\n", "server alone (no plugin, baseline)", b.PerS, b.DMs, b.Workers, 1000*b.MachineCPUSec/float64(max(b.DMs, 1)))
		if r.BurstVsServerAlone > 0 {
			fmt.Fprintf(w, "   %-38s %10.2f of the server-alone rate\n", "burst drain rate / server alone", r.BurstVsServerAlone)
		}
	}
	line("graph_calls_per_dm_under_0.3", "Graph calls per DM at 200/s", r.GraphCallsPerDM, "", "< 0.3")
	if r.Mode == "bench" {
		fmt.Fprintf(w, "   %-38s %10.2f       (official plugin's design)\n", "Graph calls per message, official", OfficialCallsPerMessage)
	}
	line("plugin_rss_under_150mb", "plugin peak RSS", r.PluginRSSMB, "MB", "< 150")
	printReplies(w, r.Runs)
	printChannels(w, r.Runs)
	fmt.Fprintf(w, "   %-38s %10d\n   %-38s %10d\n", "lost (all runs)", r.Lost, "duplicated (all runs)", r.Duplicated)
}

// printReplies compares the run with answers from Mattermost against the same load without them (rate50).
func printReplies(w io.Writer, runs []Result) {
	var base, with *Result
	for i := range runs {
		switch {
		case runs[i].Name == "rate50":
			base = &runs[i]
		case runs[i].Replies != nil:
			with = &runs[i]
		}
	}
	if with == nil {
		return
	}
	rp := with.Replies
	fmt.Fprintf(w, "   %-38s %10.2f       (%d replies, %d reached Teams)\n", "delegated Graph calls per reply", rp.GraphCallsPerReply, rp.Posted, rp.InTeams)
	fmt.Fprintf(w, "   %-38s %10.0f ms    p99 %.0f ms\n", "reply -> other member's DM, p50", rp.Delivery.P50MS, rp.Delivery.P99MS)
	if base != nil && base.Delivery.P99MS > 0 && base.Delivery.P50MS > 0 {
		fmt.Fprintf(w, "   %-38s %10.2f       p50 ratio %.2f (same load without replies = 1)\n", "delivery p99 with replies / without",
			with.Delivery.P99MS/base.Delivery.P99MS, with.Delivery.P50MS/base.Delivery.P50MS)
	}
}

// printChannels sums up the channel runs: the exact count of the mixed run, and what mentions of a big team cost.
func printChannels(w io.Writer, runs []Result) {
	for _, r := range runs {
		switch r.Name {
		case "channels":
			fmt.Fprintf(w, "   %-38s %10d lost, %d duplicated, %d unexpected of %d DMs\n", "chats + channels (20% channel)", r.Count.Lost, r.Count.Duplicated, r.Count.Unexpected, r.Count.Expected)
		case "team-mention":
			fmt.Fprintf(w, "   %-38s %10d Graph calls for %d messages, %d DMs (%.1f calls per message)\n", "10,000-member team mentions", r.GraphCalls, r.Messages, r.Count.Delivered, float64(r.GraphCalls)/float64(max(r.Messages, 1)))
		}
	}
}
