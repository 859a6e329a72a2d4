package delivery

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/inbox"
)

// drain processes every waiting change in the real inbox table, as the inbox runner would.
func (e *env) drain() int {
	ctx := context.Background()
	n := 0
	for {
		items, err := e.store.ClaimInbox(ctx, inbox.QueueChanges, 50, time.Now(), time.Minute)
		require.NoError(e.t, err)
		if len(items) == 0 {
			return n
		}
		for _, it := range items {
			err := e.proc.Process(ctx, inbox.Job{ID: it.ID, Queue: it.Queue, Payload: it.Payload, Attempts: 1, EnqueuedAt: it.EnqueuedAt})
			require.NoError(e.t, err)
			require.NoError(e.t, e.store.CompleteInbox(ctx, it.ID))
			n++
		}
	}
}

func TestCatchUpDeliversMissedMessagesOnceAndSummarisesOldOnes(t *testing.T) {
	e := newEnv(t)
	alice := e.addPerson("alice", notConnected())
	bob, carol := e.addPerson("bob"), e.addPerson("carol")
	direct := e.chat("oneOnOne", "", alice, bob)
	group := e.chat("group", "Ops", alice, bob, carol)

	// Graph's clock goes back 30 hours while the old messages are written (no Graph call is made meanwhile).
	e.simShift.Store(int64(-30 * time.Hour))
	old1 := e.send(direct, alice, "old one")
	e.send(direct, alice, "old two")
	e.send(group, alice, "old three")
	e.simShift.Store(0)
	recent1 := e.send(direct, alice, "recent one")
	e.send(group, alice, "recent two")

	// Notifications of old1 and recent1 did arrive; the others were lost.
	require.NoError(t, e.notify("created", direct, old1))
	require.NoError(t, e.notify("created", direct, recent1))
	require.Len(t, e.dms(bob), 2)
	e.sim.ResetCalls()

	require.NoError(t, e.proc.CatchUp(context.Background(), time.Now().Add(-48*time.Hour)))
	assert.Equal(t, 1, e.drain(), "only the missed recent message is queued, once for all its recipients")

	bobDMs := e.dms(bob)
	require.Len(t, bobDMs, 4)
	summary := bobDMs[2].Message
	assert.True(t, strings.HasPrefix(summary, "2 older Teams messages from **alice Example** arrived while Mattermost was not receiving notifications:"), summary)
	assert.Equal(t, 2, strings.Count(summary, "[Open in Teams](https://teams.microsoft.com/l/message/"))
	assert.True(t, strings.HasSuffix(bobDMs[3].Message, "\n\nrecent two"), bobDMs[3].Message)

	carolDMs := e.dms(carol)
	require.Len(t, carolDMs, 2)
	assert.True(t, strings.HasPrefix(carolDMs[0].Message, "1 older Teams message from **alice Example**"), carolDMs[0].Message)
	assert.True(t, strings.HasSuffix(carolDMs[1].Message, "\n\nrecent two"))
	assert.Zero(t, e.sim.CallCount(routeGetMessage), "catch-up carries the messages it listed")

	// A second catch-up over the same period finds nothing new.
	require.NoError(t, e.proc.CatchUp(context.Background(), time.Now().Add(-48*time.Hour)))
	e.drain()
	assert.Len(t, e.dms(bob), 4)
	assert.Len(t, e.dms(carol), 2)

	u, err := e.store.GetUser(context.Background(), carol.mmID)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), u.LastDeliveredAt, time.Minute, "the per-user cursor records the catch-up")
}

func TestCatchUpBringsEditsDuringTheGapToTheDM(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	direct := e.chat("oneOnOne", "", alice, bob)
	msgID := e.send(direct, alice, "before")
	require.NoError(t, e.notify("created", direct, msgID))
	require.NoError(t, e.sim.EditMessage(direct, msgID, "after"))

	require.NoError(t, e.proc.CatchUp(context.Background(), time.Now().Add(-time.Hour)))
	e.drain()

	dms := e.dms(bob)
	require.Len(t, dms, 1)
	assert.True(t, strings.HasSuffix(dms[0].Message, "\n\nafter\n\n*(edited)*"), dms[0].Message)
	assert.Empty(t, e.dms(alice), "alice's own message is not caught up for her")
}

func TestCatchUpWithZeroSinceResumesFromEachUsersCursorAndRespectsTheSwitch(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	direct := e.chat("oneOnOne", "", alice, bob)
	e.send(direct, alice, "missed")

	e.setSync(false)
	require.NoError(t, e.proc.CatchUp(context.Background(), time.Time{}))
	assert.Zero(t, e.drain(), "nothing is caught up while notifications are switched off")

	e.setSync(true)
	require.NoError(t, e.proc.CatchUp(context.Background(), time.Time{}))
	e.drain()
	require.Len(t, e.dms(bob), 1, "from the connection time, since bob never had a delivery")

	e.send(direct, alice, "later")
	require.NoError(t, e.proc.CatchUp(context.Background(), time.Time{}))
	e.drain()
	assert.Len(t, e.dms(bob), 2)
}

func TestCatchUpWaitsOutThrottling(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addPerson("alice"), e.addPerson("bob")
	direct := e.chat("oneOnOne", "", alice, bob)
	e.send(direct, alice, "missed")
	e.sim.InjectFault(graphsim.Fault{Route: "GET /users/{id}/chats/getAllMessages", Status: 429, RetryAfter: 1, Count: 1})

	require.NoError(t, e.proc.CatchUp(context.Background(), time.Now().Add(-time.Hour)))
	e.drain()
	assert.Len(t, e.dms(bob), 1)
	assert.Equal(t, 3, e.sim.CallCount("GET /users/{id}/chats/getAllMessages"), "two listings, one of them retried after the 429")
}
