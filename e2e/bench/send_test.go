package bench

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// A burst moves graphsim's message ids ahead of the clock; the delay must still count from the real send time,
// which is also the createdDateTime Teams (graphsim) reports.
func TestBurstDelayCountsFromTheRealSendTime(t *testing.T) {
	sim, err := graphsim.New(graphsim.Options{PlainHTTP: true, DisableThrottling: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	for _, id := range []string{"u1", "u2"} {
		require.NoError(t, sim.AddUser(graphsim.User{ID: id, TenantID: "t1", DisplayName: id}))
	}
	chatID, err := sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{"u1", "u2"}})
	require.NoError(t, err)
	e := &Env{Sim: sim, People: []Person{{MMID: "mm1", TeamsID: "u1"}, {MMID: "mm2", TeamsID: "u2"}},
		OneOne: []Chat{{ID: chatID, Members: []int{0, 1}}}, rng: rand.New(rand.NewPCG(1, 2))}

	ledger := &Ledger{}
	type window struct{ before, after time.Time }
	var windows []window
	for i := 0; i < 300; i++ {
		w := window{before: time.Now()}
		require.NoError(t, e.send(&Load{Name: "burst"}, i, ledger))
		w.after = time.Now()
		windows = append(windows, w)
	}
	sent := ledger.Sent()
	require.Len(t, sent, 300)
	for i, s := range sent {
		w := windows[i]
		require.False(t, s.Created.Before(w.before) || s.Created.After(w.after),
			"message %d: Created %s outside its send window [%s, %s]", i, s.Created, w.before, w.after)
		raw, ok := sim.MessageJSON(s.ChatID, s.MessageID)
		require.True(t, ok)
		var m struct{ CreatedDateTime time.Time }
		require.NoError(t, json.Unmarshal(raw, &m))
		assert.False(t, m.CreatedDateTime.Before(w.before.Truncate(time.Millisecond)) || m.CreatedDateTime.After(w.after),
			"message %d: createdDateTime %s is not the real creation time", i, m.CreatedDateTime)
	}
}
