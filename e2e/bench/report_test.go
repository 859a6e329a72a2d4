package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReportJudgesOnlyTheGoalsOfRunsThatTookPlace(t *testing.T) {
	r := &Report{Mode: "bench", Runs: []Result{
		{Name: "burst", DeliveredPerS: 310, PluginRSSMB: 80, Count: Count{Expected: 10, Delivered: 10}},
		{Name: "rate50", PluginRSSMB: 90, Count: Count{Expected: 5, Delivered: 4, Lost: 1, Duplicated: 2}},
	}}
	r.Summarize()
	assert.Equal(t, map[string]bool{
		"nothing_lost_or_duplicated": false,
		"burst_at_least_300_per_s":   true,
		"plugin_rss_under_150mb":     true,
	}, r.Goals)
	assert.Equal(t, 1, r.Lost)
	assert.Equal(t, 2, r.Duplicated)
	assert.Equal(t, 90.0, r.PluginRSSMB, "peak over all runs")
	assert.Equal(t, OfficialCallsPerMessage, r.OfficialGraphCallsPerMessage)
}

func TestReportTakesHeadlineFiguresFromTheirRuns(t *testing.T) {
	r := &Report{Mode: "bench", Runs: []Result{
		{Name: "rate200", Delivery: Summary{P50MS: 80, P99MS: 300}, GraphCallsPerDM: 0.1, AckLatency: Summary{P99MS: 5}},
		{Name: "rate500", Delivery: Summary{P99MS: 9000}, AckLatency: Summary{P99MS: 40}},
	}}
	r.Summarize()
	assert.Equal(t, 40.0, r.WebhookAckP99MS)
	assert.Equal(t, 300.0, r.DeliveryP99MS)
	assert.Equal(t, 80.0, r.DeliveryP50MS)
	assert.Equal(t, 0.1, r.GraphCallsPerDM)
	assert.True(t, r.Goals["webhook_ack_p99_under_50ms_at_500"])
	assert.True(t, r.Goals["delivery_p99_under_500ms_at_200"])
}
