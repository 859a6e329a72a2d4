package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTallyCountsEveryRecipientExactlyOnce(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	sent := []Sent{
		{ChatID: "c1", MessageID: "m1", Created: t0, Recipients: []string{"alice"}},
		{ChatID: "g1", MessageID: "m2", Created: t0, Recipients: []string{"alice", "bob", "carol"}, WithImage: true},
	}
	tests := []struct {
		name     string
		observed []Observed
		want     Count
	}{
		{
			name: "all delivered once",
			observed: []Observed{
				{MessageID: "m1", Recipient: "alice", CreateAt: at(10)},
				{MessageID: "m2", Recipient: "alice", CreateAt: at(20)},
				{MessageID: "m2", Recipient: "bob", CreateAt: at(30)},
				{MessageID: "m2", Recipient: "carol", CreateAt: at(40)},
				{MessageID: "m2", Recipient: "alice", CreateAt: at(90), Follow: true},
				{MessageID: "m2", Recipient: "bob", CreateAt: at(90), Follow: true},
				{MessageID: "m2", Recipient: "carol", CreateAt: at(90), Follow: true},
			},
			want: Count{Expected: 4, Delivered: 4, ImagesExpected: 3, ImagesDelivered: 3},
		},
		{
			name: "a missing recipient is lost, a second DM is a duplicate",
			observed: []Observed{
				{MessageID: "m1", Recipient: "alice", CreateAt: at(10)},
				{MessageID: "m1", Recipient: "alice", CreateAt: at(11)},
				{MessageID: "m2", Recipient: "alice", CreateAt: at(20)},
				{MessageID: "m2", Recipient: "bob", CreateAt: at(30)},
				{MessageID: "m2", Recipient: "bob", CreateAt: at(90), Follow: true},
				{MessageID: "m2", Recipient: "bob", CreateAt: at(91), Follow: true},
			},
			want: Count{Expected: 4, Delivered: 3, Lost: 1, Duplicated: 1, ImagesExpected: 3, ImagesDelivered: 1, ImagesLost: 2, ImagesDuplicated: 1},
		},
		{
			name: "the sender or an outsider getting a DM is unexpected; other runs' posts are ignored",
			observed: []Observed{
				{MessageID: "m1", Recipient: "alice", CreateAt: at(10)},
				{MessageID: "m1", Recipient: "dave", CreateAt: at(10)},
				{MessageID: "m1", Recipient: "alice", CreateAt: at(10), Follow: true},
				{MessageID: "m0", Recipient: "alice", CreateAt: at(10)},
			},
			want: Count{Expected: 4, Delivered: 1, Lost: 3, Unexpected: 2, ImagesExpected: 3, ImagesLost: 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Tally(sent, tc.observed)
			got.Delays, got.ImageDelays, got.First, got.Last = nil, nil, time.Time{}, time.Time{}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestTallyMeasuresDelayFromTeamsCreationToFirstPost(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	sent := []Sent{{MessageID: "m1", Created: t0, Recipients: []string{"alice", "bob"}}}
	c := Tally(sent, []Observed{
		{MessageID: "m1", Recipient: "alice", CreateAt: t0.Add(120 * time.Millisecond)},
		{MessageID: "m1", Recipient: "alice", CreateAt: t0.Add(900 * time.Millisecond)}, // duplicate: not a delay sample
		{MessageID: "m1", Recipient: "bob", CreateAt: t0.Add(40 * time.Millisecond)},
	})
	assert.ElementsMatch(t, []time.Duration{120 * time.Millisecond, 40 * time.Millisecond}, c.Delays)
	assert.Equal(t, t0.Add(40*time.Millisecond), c.First)
	assert.Equal(t, t0.Add(120*time.Millisecond), c.Last, "duplicates do not extend the drain")
}

func TestOtherMemberOfADirectChannel(t *testing.T) {
	assert.Equal(t, "user", otherMember("bot__user", "bot"))
	assert.Equal(t, "user", otherMember("user__bot", "bot"))
}
