package bench

import "time"

// Scale shrinks a plan: durations and burst sizes are multiplied by it (1 = the full bench).
type Scale float64

func (s Scale) d(d time.Duration) time.Duration { return time.Duration(float64(d) * float64(s)) }
func (s Scale) n(n int) int                     { return max(int(float64(n)*float64(s)), 50) }

// BenchPlan is `make bench`: fixed offered rates, an attachment run, and the 20,000-message burst last
// (graphsim's message ids run ahead of the clock during a burst).
func BenchPlan(s Scale, profileDir string) []Load {
	burstProfile := ""
	if profileDir != "" {
		burstProfile = profileDir + "/bench-server-burst.prof"
	}
	return []Load{
		{Name: "rate50", Rate: 50, Duration: s.d(20 * time.Second), GroupShare: 0.2},
		// The same load again with one answer from Mattermost per ten messages: the difference from rate50 is
		// what replies cost delivery (issue 16).
		{Name: "replies", Rate: 50, Duration: s.d(20 * time.Second), GroupShare: 0.2, ReplyShare: 0.1},
		// A fifth of the messages in Teams channels, one in ten of those mentioning someone (issue 17).
		{Name: "channels", Rate: 100, Duration: s.d(20 * time.Second), GroupShare: 0.2, ChannelShare: 0.2},
		// Ten mentions of a 10,000-member team with one listener, one per second: Graph calls and DMs it costs.
		{Name: "team-mention", Rate: 1, Duration: 10 * time.Second, TeamMembers: 10000},
		{Name: "rate200", Rate: 200, Duration: s.d(30 * time.Second), GroupShare: 0.2},
		{Name: "rate500", Rate: 500, Duration: s.d(20 * time.Second), GroupShare: 0.2},
		{Name: "attachments", Rate: 100, Duration: s.d(30 * time.Second), GroupShare: 0.2, ImageShare: 0.05},
		{Name: "burst", Messages: s.n(20000), GroupShare: 0.2, DrainWait: 90 * time.Second, ProfilePath: burstProfile},
	}
}

// FaultPlan is `make bench-faults`: each run ends with the exact count.
func FaultPlan(s Scale) []Load {
	return []Load{
		{Name: "plugin-sigkill", Messages: s.n(5000), GroupShare: 0.2, During: AfterDelivered(s.n(5000)/3, KillPlugin), DrainWait: 120 * time.Second},
		{Name: "postgres-restart", Messages: s.n(5000), GroupShare: 0.2, During: AfterDelivered(s.n(5000)/3, RestartPostgres), DrainWait: 120 * time.Second},
		{Name: "graph-429-503", Rate: 50, Duration: s.d(40 * time.Second), GroupShare: 0.2, During: GraphOutage(30 * time.Second), DuringAt: 0.1, DrainWait: 120 * time.Second},
		{Name: "duplicate-reorder", Rate: 200, Duration: s.d(20 * time.Second), GroupShare: 0.2, During: DuplicateAndReorder(s.d(20 * time.Second))},
		// The same traffic without the flood, right before it, so the flood's cost on latency is measured.
		{Name: "flood-baseline", Rate: 100, Duration: s.d(20 * time.Second), GroupShare: 0.2},
		{Name: "forged-flood", Rate: 100, Duration: s.d(20 * time.Second), GroupShare: 0.2, During: ForgedFlood(s.n(10000), s.d(20*time.Second))},
		{Name: "subscription-removed", Rate: 50, Duration: s.d(30 * time.Second), GroupShare: 0.2, During: RemoveSubscription, DuringAt: 0.4, DrainWait: 120 * time.Second},
	}
}
