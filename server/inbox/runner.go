package inbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
)

// Defaults for Options.
const (
	DefaultWorkers              = 4
	DefaultPollInterval         = 2 * time.Second
	DefaultLease                = 5 * time.Minute
	DefaultMaxAttempts          = 12
	DefaultMaxThrottledAttempts = 50
	DefaultBaseBackoff          = 5 * time.Second
	DefaultMaxBackoff           = 10 * time.Minute
	DefaultStopTimeout          = 30 * time.Second
)

// verdictTimeout bounds the store write that records a job's outcome, whatever the job's context.
const verdictTimeout = 10 * time.Second

// RunnerStore is what the Runner needs from the database; *store.Store implements it.
type RunnerStore interface {
	Enqueuer
	ClaimInboxAs(ctx context.Context, queue string, n int, now time.Time, lease time.Duration, by store.InboxClaimer) ([]store.InboxItem, error)
	ReleaseInboxOfEarlierInstances(ctx context.Context, by store.InboxClaimer, now time.Time) (int64, error)
	CompleteInbox(ctx context.Context, ids ...int64) error
	RetryInbox(ctx context.Context, id int64, attempt int, at time.Time, lastErr string) (bool, error)
	ParkInbox(ctx context.Context, id int64, attempt int, now time.Time, lastErr string) (bool, error)
}

// QueueOptions configure the workers of one queue.
type QueueOptions struct {
	Name    string
	Handler Handler
	Workers int // DefaultWorkers when zero: jobs of this queue processed at once on this node
	// Lease overrides Options.Lease for this queue: short for quick jobs, so that the work of a node that died
	// is picked up soon.
	Lease time.Duration
	// OrderKey, when set, names the ordering group of a job (for changes: its chat). Jobs of one group claimed
	// by this node run one after the other, oldest first, so that a chat's messages arrive in order; jobs
	// of different groups run in parallel. "" means no group.
	OrderKey func(it store.InboxItem) string
	// Limit, when set, may lower the number of jobs running at once below Workers for a while (at least one
	// always runs): the plugin holds delivery back while its intake is slow.
	Limit func() int
}

// Options configure a Runner. Zero values take the defaults above.
type Options struct {
	Queues []QueueOptions
	// PollInterval is how often an idle queue looks for work that another node enqueued or whose time has
	// come; work enqueued through this Runner wakes it at once.
	PollInterval time.Duration
	// Lease is how long a claimed job is reserved for this node; if the node dies, the job is due again
	// after it. Jobs should finish well within it, or they may run twice.
	Lease time.Duration
	// MaxAttempts parks a job that failed this many times with ordinary errors.
	MaxAttempts int
	// MaxThrottledAttempts parks a job that failed this many times when its last failure was RetryAfter:
	// throttling says nothing about the job, so it gets more patience.
	MaxThrottledAttempts int
	// BaseBackoff and MaxBackoff shape the wait after an ordinary failure: BaseBackoff·2^(attempt-1), capped at
	// MaxBackoff, of which a random half is taken off (jitter) so that failures do not retry in lockstep.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// StopTimeout is how long Stop lets jobs in flight finish before it cancels their context (they are then
	// due again at once, for the next Runner).
	StopTimeout time.Duration
	Now         func() time.Time // time.Now when nil
	// Claimer names this node (stable across plugin restarts) and this process. When both are set, Start
	// first releases the jobs still leased by an earlier process on this node (it was killed), so they run at
	// once instead of after their lease; other nodes' jobs are never taken.
	Claimer store.InboxClaimer
	Logger  Logger
	Metrics Metrics
}

// Runner runs the workers of each queue on this node. Any number of nodes may run Runners on one database:
// jobs are claimed with FOR UPDATE SKIP LOCKED and a lease, so each runs on one node at a time.
type Runner struct {
	store  RunnerStore
	opts   Options
	queues map[string]*queue

	mu      sync.Mutex
	started bool
	stop    chan struct{}
	cancel  context.CancelFunc // cancels the jobs' context
	loops   sync.WaitGroup     // one per queue; each waits for its own jobs before it returns

	// Finished jobs are deleted by one goroutine, many per statement: whatever finished while the previous
	// delete ran goes in the next. A delete per job was one of the busiest statements under load.
	finished      chan store.InboxItem
	finishOnce    sync.Once
	completerDone chan struct{}
}

// maxCompleteBatch bounds one delete of finished jobs.
const maxCompleteBatch = 500

type queue struct {
	QueueOptions
	wake chan struct{}
}

// NewRunner validates opts; call Start to begin.
func NewRunner(s RunnerStore, opts Options) (*Runner, error) {
	if s == nil {
		return nil, errors.New("inbox runner: a store is required")
	}
	if len(opts.Queues) == 0 {
		return nil, errors.New("inbox runner: at least one queue is required")
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxThrottledAttempts <= 0 {
		opts.MaxThrottledAttempts = DefaultMaxThrottledAttempts
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = DefaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = nopLogger{}
	}
	if opts.Metrics == nil {
		opts.Metrics = nopMetrics{}
	}
	r := &Runner{store: s, opts: opts, queues: map[string]*queue{}}
	for _, q := range opts.Queues {
		if q.Name == "" || q.Handler == nil {
			return nil, errors.New("inbox runner: every queue needs a name and a handler")
		}
		if _, dup := r.queues[q.Name]; dup {
			return nil, errors.Errorf("inbox runner: queue %s configured twice", q.Name)
		}
		if q.Workers <= 0 {
			q.Workers = DefaultWorkers
		}
		if q.Lease <= 0 {
			q.Lease = opts.Lease
		}
		r.queues[q.Name] = &queue{QueueOptions: q, wake: make(chan struct{}, 1)}
	}
	return r, nil
}

// Start launches the workers. Jobs run with a context derived from ctx; cancelling ctx aborts them (they are
// then retried), while Stop lets them finish first. A Runner starts once.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("inbox runner: already started")
	}
	r.started = true
	if r.opts.Claimer.Node != "" && r.opts.Claimer.Instance != "" {
		rctx, cancel := context.WithTimeout(ctx, verdictTimeout)
		n, err := r.store.ReleaseInboxOfEarlierInstances(rctx, r.opts.Claimer, r.opts.Now().UTC())
		cancel()
		if err != nil {
			r.opts.Logger.LogWarn("Could not take back the inbox jobs of this node's previous run; they will run after their lease", "error", err.Error())
		} else if n > 0 {
			r.opts.Logger.LogInfo("Took back inbox jobs left by this node's previous run", "jobs", n)
		}
	}
	r.stop = make(chan struct{})
	jobCtx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	r.finished = make(chan store.InboxItem, maxCompleteBatch)
	r.completerDone = make(chan struct{})
	go r.completer()
	for _, q := range r.queues {
		r.loops.Add(1)
		go r.loop(jobCtx, q)
	}
	return nil
}

// Stop stops claiming and waits for the jobs in flight to finish, for at most StopTimeout: then their context
// is cancelled and they are released to be due at once. Work left in the queues stays in the database for the
// next Runner, here or on another node.
func (r *Runner) Stop() {
	r.mu.Lock()
	if !r.started || r.stop == nil {
		r.mu.Unlock()
		return
	}
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.mu.Unlock()
	finished := make(chan struct{})
	go func() { r.loops.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(r.opts.StopTimeout):
		r.opts.Logger.LogWarn("Inbox jobs still running at shutdown; cancelling them, they will run again", "waited", r.opts.StopTimeout.String())
		r.cancel()
		<-finished
	}
	r.finishOnce.Do(func() { close(r.finished) })
	<-r.completerDone
	r.cancel()
}

// completer deletes finished jobs until Stop closes r.finished, then deletes the last ones.
func (r *Runner) completer() {
	defer close(r.completerDone)
	for it := range r.finished {
		batch := []store.InboxItem{it}
	more:
		for len(batch) < maxCompleteBatch {
			select {
			case next, ok := <-r.finished:
				if !ok {
					break more
				}
				batch = append(batch, next)
			default:
				break more
			}
		}
		r.complete(batch)
	}
}

func (r *Runner) complete(batch []store.InboxItem) {
	ids := make([]int64, len(batch))
	for i, it := range batch {
		ids[i] = it.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), verdictTimeout)
	defer cancel()
	if err := r.store.CompleteInbox(ctx, ids...); err != nil {
		// The jobs are done; they will run again after their lease, which their handlers make harmless.
		r.opts.Logger.LogError("Could not mark inbox jobs done; they will run again after their lease", "jobs", len(ids), "error", err.Error())
		return
	}
	now := r.opts.Now().UTC()
	for _, it := range batch {
		r.opts.Metrics.JobProcessed(it.Queue, now.Sub(it.EnqueuedAt))
	}
}

// Wake makes the named queue's workers look for work now instead of at the next poll.
func (r *Runner) Wake(queueName string) {
	if q, ok := r.queues[queueName]; ok {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// Now is the Runner's clock; Enqueue and Sink stamp items with it.
func (r *Runner) Now() time.Time { return r.opts.Now() }

// EnqueueInbox stores items (see store.EnqueueInbox) and wakes this node's workers of their queues.
func (r *Runner) EnqueueInbox(ctx context.Context, items []store.InboxItem) error {
	if err := r.store.EnqueueInbox(ctx, items); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.Queue] {
			seen[it.Queue] = true
			r.Wake(it.Queue)
		}
	}
	return nil
}

// loop keeps the queue's workers busy. It claims in batches, up to twice Workers jobs in hand, and claims again
// when the jobs in hand fall to Workers: a claim per finished job made the claim statement the busiest in the
// database and its round trip part of every job's latency. Jobs in hand wait in claim order; a job whose order
// group already has one running is held until that one finishes.
func (r *Runner) loop(ctx context.Context, q *queue) {
	defer r.loops.Done()
	capacity := 2 * q.Workers
	done := make(chan string, q.Workers)
	running := 0
	var ready []store.InboxItem               // claimed, not started, free to start
	waiting := map[string][]store.InboxItem{} // order group → jobs held behind its running job
	held := 0
	defer func() {
		for ; running > 0; running-- {
			<-done
		}
		r.release(ctx, q, ready, waiting)
	}()
	start := func(it store.InboxItem, key string) {
		running++
		go func() {
			defer func() { done <- key }()
			r.run(ctx, q, it)
		}()
	}
	dispatch := func() {
		limit := q.Workers
		if q.Limit != nil {
			limit = max(1, min(limit, q.Limit()))
		}
		for running < limit && len(ready) > 0 {
			it := ready[0]
			ready = ready[1:]
			key := ""
			if q.OrderKey != nil {
				key = q.OrderKey(it)
			}
			if key != "" {
				if behind, busy := waiting[key]; busy {
					waiting[key] = append(behind, it)
					held++
					continue
				}
				waiting[key] = nil
			}
			start(it, key)
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	claimNow := true
	for {
		if r.stopping() || ctx.Err() != nil {
			return
		}
		inHand := running + len(ready) + held
		if claimNow && inHand <= q.Workers {
			want := capacity - inHand
			jobs, err := r.store.ClaimInboxAs(ctx, q.Name, want, r.opts.Now().UTC(), q.Lease, r.opts.Claimer)
			if err != nil && ctx.Err() == nil {
				r.opts.Logger.LogError("Could not claim inbox jobs; will try again", "queue", q.Name, "error", err.Error())
			}
			ready = append(ready, jobs...)
			dispatch()
			// A full claim suggests more is waiting: claim again as soon as the jobs in hand run low.
			claimNow = err == nil && len(jobs) == want
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(r.opts.PollInterval)
		}
		select {
		case <-r.stop:
			return
		case <-ctx.Done():
			return
		case key := <-done:
			running--
			if r.stopping() {
				continue // nothing new starts; what is in hand is released on the way out
			}
			if key != "" {
				if behind := waiting[key]; len(behind) > 0 {
					waiting[key] = behind[1:]
					held--
					start(behind[0], key)
				} else {
					delete(waiting, key)
				}
			}
			dispatch()
		case <-q.wake:
			claimNow = true
		case <-timer.C:
			claimNow = true
			timer.Reset(r.opts.PollInterval)
			dispatch() // a limit may have risen with nothing finishing
		}
	}
}

// release makes jobs that were claimed but never started due again at once, for the next runner, instead of
// after their lease.
func (r *Runner) release(ctx context.Context, q *queue, ready []store.InboxItem, waiting map[string][]store.InboxItem) {
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), verdictTimeout)
	defer cancel()
	now := r.opts.Now().UTC()
	unstarted := ready
	for _, behind := range waiting {
		unstarted = append(unstarted, behind...)
	}
	for _, it := range unstarted {
		if _, err := r.store.RetryInbox(vctx, it.ID, it.Attempts, duePlace(it, now), it.LastError); err != nil {
			r.opts.Logger.LogWarn("Could not release an inbox job at shutdown; it will run after its lease", "queue", q.Name, "job", it.ID, "error", err.Error())
		}
	}
}

// duePlace is when a job released at shutdown is due again: at once, and with its original place in the claim
// order (its enqueue time), so that it runs before later jobs of its chat that were never claimed; due at
// `now` it would come after them.
func duePlace(it store.InboxItem, now time.Time) time.Time {
	if it.EnqueuedAt.Before(now) {
		return it.EnqueuedAt
	}
	return now
}

func (r *Runner) stopping() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// run processes one job and records the verdict.
func (r *Runner) run(ctx context.Context, q *queue, it store.InboxItem) {
	job := Job{ID: it.ID, Queue: it.Queue, Payload: it.Payload, Attempts: it.Attempts, EnqueuedAt: it.EnqueuedAt}
	err := r.call(ctx, q.Handler, job)

	// Record the outcome even if ctx was cancelled meanwhile: otherwise the job would wait out its lease.
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), verdictTimeout)
	defer cancel()
	log, m := r.opts.Logger, r.opts.Metrics
	now := r.opts.Now().UTC()
	if err == nil {
		r.finished <- it
		return
	}

	after, throttled := RetryAfterOf(err)
	limit := r.opts.MaxAttempts
	if throttled {
		limit = r.opts.MaxThrottledAttempts
	}
	aborted := ctx.Err() != nil // shutdown cut the job short: not the job's fault, never parked for it
	if IsPark(err) || (it.Attempts >= limit && !aborted) {
		ok, perr := r.store.ParkInbox(vctx, it.ID, it.Attempts, now, err.Error())
		switch {
		case perr != nil:
			log.LogError("Could not park inbox job; it will run again after its lease", "queue", q.Name, "job", it.ID, "error", perr.Error())
		case ok:
			m.JobParked(q.Name)
			log.LogWarn("Parked inbox job: it will not be retried until an admin requeues parked jobs",
				"queue", q.Name, "job", it.ID, "attempts", it.Attempts, "error", err.Error())
		}
		return
	}

	var at time.Time
	switch {
	case aborted:
		at = duePlace(it, now) // due again at once, for the next runner, ahead of its chat's later jobs
	case throttled:
		at = now.Add(after)
	default:
		at = now.Add(Backoff(r.opts.BaseBackoff, r.opts.MaxBackoff, it.Attempts, rand.Float64()))
	}
	ok, rerr := r.store.RetryInbox(vctx, it.ID, it.Attempts, at, err.Error())
	switch {
	case rerr != nil:
		log.LogError("Could not schedule inbox job retry; it will run again after its lease", "queue", q.Name, "job", it.ID, "error", rerr.Error())
	case ok:
		m.JobRetried(q.Name)
		log.LogDebug("Inbox job failed; will retry", "queue", q.Name, "job", it.ID, "attempt", it.Attempts,
			"retry_at", at.Format(time.RFC3339), "error", err.Error())
	}
}

// call runs the handler, turning a panic into an error so one bad job cannot take the node down.
func (r *Runner) call(ctx context.Context, h Handler, job Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.opts.Logger.LogError("Inbox job handler panicked; the job will be retried", "queue", job.Queue, "job", job.ID,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = errors.Errorf("handler panicked: %v", p)
		}
	}()
	return h.Process(ctx, job)
}

// Backoff is the wait after failed attempt number attempt (1-based): base·2^(attempt-1) capped at max, minus
// up to half of it according to jitter in [0,1).
func Backoff(base, max time.Duration, attempt int, jitter float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d - time.Duration(float64(d/2)*jitter)
}
