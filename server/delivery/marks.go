package delivery

import (
	"context"
	"sync"
	"time"
)

// deliveryMarksInterval is how often the users' "last delivered" times are written. They only tell a catch-up
// where to start, and starting a little early is harmless (what was delivered is skipped), so a few seconds'
// lag, or losing the latest marks in a crash, costs nothing; one write per user per message would cost a
// database commit per DM.
const deliveryMarksInterval = 2 * time.Second

// deliveryMarks collects the newest delivered message time per Mattermost user until the next write.
type deliveryMarks struct {
	mu      sync.Mutex
	pending map[string]time.Time
	written time.Time // when the last write started
	writing sync.Mutex
}

func (m *deliveryMarks) add(mmUserID string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		m.pending = map[string]time.Time{}
	}
	if at.After(m.pending[mmUserID]) {
		m.pending[mmUserID] = at
	}
}

// take hands over the pending marks if the interval has passed since the last write (or force is set).
func (m *deliveryMarks) take(now time.Time, force bool) map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 || (!force && now.Sub(m.written) < deliveryMarksInterval) {
		return nil
	}
	out := m.pending
	m.pending, m.written = nil, now
	return out
}

// giveBack returns marks whose write failed, for the next attempt.
func (m *deliveryMarks) giveBack(marks map[string]time.Time) {
	for id, at := range marks {
		m.add(id, at)
	}
}

// writeDeliveryMarks writes the pending marks when they are due (always when force is set). One worker writes
// at a time; the others go on delivering.
func (p *Processor) writeDeliveryMarks(ctx context.Context, force bool) error {
	if force {
		p.marks.writing.Lock()
	} else if !p.marks.writing.TryLock() {
		return nil
	}
	defer p.marks.writing.Unlock()
	marks := p.marks.take(p.o.Now(), force)
	if marks == nil {
		return nil
	}
	if err := p.d.Store.AdvanceLastDeliveredAt(ctx, marks); err != nil {
		p.marks.giveBack(marks)
		return err
	}
	return nil
}

// Flush writes what delivery holds in memory (the users' last delivery times) now. The plugin calls it when it
// stops; a catch-up after a crash that skipped it only starts a little earlier.
func (p *Processor) Flush(ctx context.Context) error {
	return p.writeDeliveryMarks(ctx, true)
}
