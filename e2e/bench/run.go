package bench

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// Load is one run's offered traffic.
type Load struct {
	Name     string
	Rate     float64       // messages per second; 0 sends Messages as fast as possible (a burst)
	Duration time.Duration // for Rate > 0
	Messages int           // for bursts
	// GroupShare is the share of messages sent into group chats (the rest go to 1:1 chats).
	GroupShare float64
	// ImageShare is the share of messages carrying a small inline image.
	ImageShare float64
	// ChannelShare is the share of messages posted in Teams channels instead of chats (issue 17); one channel
	// message in ten mentions someone, who must get one DM; the others must give no DM at all.
	ChannelShare float64
	// TeamMembers, when set, makes every message a mention of a whole team of that many members, of whom one
	// connected user chose to hear of team mentions (issue 17's cost of a big team mention).
	TeamMembers int
	// ReplyShare: alongside this share of the messages sent, a user answers a DM of the previous run in its
	// thread from Mattermost (issue 16); each answer must reach the chat's other members as a DM.
	ReplyShare float64
	// During, when set, runs alongside the load once SendAfter of it has been sent (a fault, a flood).
	During    func(ctx context.Context, e *Env) error
	DuringAt  float64 // share of the messages sent before During starts (0 = at the start)
	DrainWait time.Duration
	// ProfilePath, when set, receives a CPU profile of the Mattermost server taken while the run drains.
	ProfilePath string
}

// Result is one run's figures.
type Result struct {
	Name            string             `json:"name"`
	OfferedRate     float64            `json:"offered_rate,omitempty"`
	Messages        int                `json:"messages"`
	SendSeconds     float64            `json:"send_seconds"`
	AckLatency      Summary            `json:"webhook_ack"`
	AckPosts        int64              `json:"webhook_posts"`
	AckFailures     int64              `json:"webhook_failures"`
	Delivery        Summary            `json:"delivery"`
	ImageDelivery   *Summary           `json:"image_delivery,omitempty"`
	DeliveredPerS   float64            `json:"delivered_per_s"`
	DrainSeconds    float64            `json:"drain_seconds"`
	GraphCalls      int                `json:"graph_calls"`
	GraphCallsPerDM float64            `json:"graph_calls_per_dm"`
	GraphByRoute    map[string]float64 `json:"graph_calls_per_dm_by_route"`
	TokenRequests   int                `json:"token_requests"`
	PluginRSSMB     float64            `json:"plugin_rss_mb_peak"`
	PluginCPUSec    float64            `json:"plugin_cpu_seconds"`
	PluginRestarts  int                `json:"plugin_restarts,omitempty"`
	ServerCPUSec    float64            `json:"server_cpu_seconds"`
	// MachineCPUSec is the whole machine's busy CPU time over the run and its drain: plugin, server,
	// database, graphsim and the bench itself.
	MachineCPUSec float64     `json:"machine_cpu_seconds"`
	InboxQueued   int         `json:"inbox_rows_queued"`
	InboxParked   int         `json:"inbox_rows_parked"`
	InboxSample   []string    `json:"inbox_sample,omitempty"` // a few rows left behind, for diagnosis
	Count         Count       `json:"count"`
	Replies       *ReplyStats `json:"replies,omitempty"`
	Note          string      `json:"note,omitempty"`
}

var tinyPNG = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for x := 0; x < 16; x++ {
		for y := 0; y < 16; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), 128, 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}()

// chance draws true with probability p.
func (e *Env) chance(p float64) bool {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return e.rng.Float64() < p
}

// sendChannel posts in one of the team's channels; every tenth channel message mentions another person, the
// only one who must get a DM of it (nobody opted into team or channel mentions, and no thread is replied to).
func (e *Env) sendChannel(l *Load, seq int, ledger *Ledger) error {
	e.rngMu.Lock()
	channel := e.Team.Channels[e.rng.IntN(len(e.Team.Channels))]
	from := e.rng.IntN(len(e.People))
	to := (from + 1 + e.rng.IntN(len(e.People)-1)) % len(e.People)
	mention := e.channelSeq%10 == 0
	e.channelSeq++
	e.rngMu.Unlock()
	m := graphsim.NewMessage{From: e.People[from].TeamsID, HTML: "<p>bench " + l.Name + " channel message " + strconv.Itoa(seq) + "</p>"}
	if mention {
		m.HTML = `<p><at id="0">` + e.People[to].Name + `</at> bench ` + l.Name + " channel message " + strconv.Itoa(seq) + "</p>"
		m.Mentions = []graphsim.Mention{{ID: 0, MentionText: e.People[to].Name, UserID: e.People[to].TeamsID}}
	}
	sentAt := time.Now()
	id, err := e.Sim.SendChannelMessage(e.Team.ID, channel, m)
	if err != nil {
		return errors.Wrap(err, "send Teams channel message")
	}
	s := Sent{ChatID: e.Team.ID + "/" + channel, MessageID: id, Created: sentAt}
	if mention {
		s.Recipients = []string{e.People[to].MMID}
	}
	ledger.Add(s)
	return nil
}

// pick chooses a chat and a sender.
func (e *Env) pick(groupShare float64) (Chat, int) {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	var c Chat
	if len(e.Groups) > 0 && e.rng.Float64() < groupShare {
		c = e.Groups[e.rng.IntN(len(e.Groups))]
	} else {
		c = e.OneOne[e.rng.IntN(len(e.OneOne))]
	}
	return c, c.Members[e.rng.IntN(len(c.Members))]
}

func (e *Env) send(l *Load, seq int, ledger *Ledger) error {
	if l.TeamMembers > 0 {
		return e.sendTeamMention(context.Background(), l, seq, ledger)
	}
	if l.ChannelShare > 0 && e.chance(l.ChannelShare) {
		return e.sendChannel(l, seq, ledger)
	}
	c, from := e.pick(l.GroupShare)
	m := graphsim.NewMessage{From: e.People[from].TeamsID, HTML: "<p>bench " + l.Name + " message " + strconv.Itoa(seq) + "</p>"}
	withImage := l.ImageShare > 0 && seq%int(1/l.ImageShare) == 0
	if withImage {
		// A shared file rather than an inline (hosted content) image: the plugin does not pass the custom Graph
		// host to format.Convert (server/delivery/processor.go), so with graphsim inline images are never
		// attached. Reported; switch back to Hosted once fixed.
		m.Files = []graphsim.FileRef{{Name: "bench-" + strconv.Itoa(seq) + ".png", ContentType: "image/png", Bytes: tinyPNG}}
	}
	// Delay counts from the moment the message is sent. The message id is no clock: in a burst graphsim moves
	// ids forward to keep them unique (its createdDateTime stays the real time, like this one).
	sentAt := time.Now()
	id, err := e.Sim.SendMessage(c.ID, m)
	if err != nil {
		return errors.Wrap(err, "send Teams message")
	}
	s := Sent{ChatID: c.ID, MessageID: id, Created: sentAt, WithImage: withImage}
	for _, mem := range c.Members {
		if mem != from {
			s.Recipients = append(s.Recipients, e.People[mem].MMID)
		}
	}
	ledger.Add(s)
	return nil
}

// Run offers the load, waits for the DMs to drain, and measures.
func (e *Env) Run(ctx context.Context, l Load, logf func(string, ...any)) (Result, error) {
	res := Result{Name: l.Name, OfferedRate: l.Rate}
	e.Sim.ResetCalls()
	e.Ack.Reset()
	e.Proc.Sample()
	e.Proc.ResetPeak()
	cpu0, restarts0 := e.Proc.CPUSeconds(), e.Proc.Restarts()
	serverCPU0 := e.serverCPU()
	machine0 := MachineCPUSeconds()
	if l.ProfilePath != "" {
		go func() {
			if err := CPUProfile(ctx, e.Stack.MetricsURL, 15*time.Second, l.ProfilePath); err != nil {
				logf("server profile: %v", err)
			}
		}()
		go func() {
			path := strings.Replace(l.ProfilePath, "-server-", "-plugin-", 1)
			if err := CPUProfile(ctx, "http://"+PluginProfileAddr, 15*time.Second, path); err != nil {
				logf("plugin profile: %v", err)
			}
		}()
	}
	ledger := &Ledger{}
	var rp *replier
	if l.ReplyShare > 0 {
		var err error
		if rp, err = e.newReplier(ctx, e.runSince); err != nil {
			return res, err
		}
	}
	replyEvery := 0
	if l.ReplyShare > 0 {
		replyEvery = max(int(1/l.ReplyShare+0.5), 1)
	}
	start := time.Now()
	since := start.Add(-time.Second)
	e.runSince = since

	n := l.Messages
	if l.Rate > 0 {
		n = int(l.Rate * l.Duration.Seconds())
	}
	res.Messages = n
	var sent atomic.Int64
	var duringErr error
	var duringWG sync.WaitGroup
	startDuring := func() {
		if l.During == nil {
			return
		}
		duringWG.Add(1)
		go func() { defer duringWG.Done(); duringErr = l.During(ctx, e) }()
	}
	duringAt := int(l.DuringAt * float64(n))
	if duringAt == 0 {
		startDuring()
	}
	// Open-loop pacing: message i is due at start + i/rate whatever happened to the ones before, so a slow
	// moment is followed by a catch-up instead of silently lowering the offered rate.
	workers := 1
	if l.Rate == 0 {
		workers = 4
	}
	next := make(chan int, 1024)
	var sendErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := e.send(&l, i, ledger); err != nil {
					errOnce.Do(func() { sendErr = err })
				}
				if rp != nil && i%replyEvery == 0 {
					rp.answer(ctx, i)
				}
				sent.Add(1)
			}
		}()
	}
	for i := 0; i < n; i++ {
		if l.Rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / l.Rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		if i == duringAt && duringAt > 0 {
			startDuring()
		}
		next <- i
	}
	close(next)
	wg.Wait()
	res.SendSeconds = time.Since(start).Seconds()
	if sendErr != nil {
		return res, sendErr
	}
	var replySent []Sent
	if rp != nil {
		var st ReplyStats
		replySent, st = rp.settle(ctx, 60*time.Second)
		for _, s := range replySent {
			ledger.Add(s)
		}
		res.Replies = &st
		logf("%s: %d replies posted in Mattermost, %d reached Teams, %d refused", l.Name, st.Posted, st.InTeams, st.Failed)
	}
	logf("%s: %d messages sent in %.1fs; draining", l.Name, n, res.SendSeconds)

	c, err := e.drain(ctx, ledger, since, l.DrainWait, logf)
	duringWG.Wait()
	if duringErr != nil {
		return res, errors.Wrap(duringErr, "fault")
	}
	if err != nil {
		return res, err
	}
	res.Count = c
	res.Note = e.takeNote()
	res.Delivery = Summarize(c.Delays)
	if len(c.ImageDelays) > 0 || c.ImagesExpected > 0 {
		s := Summarize(c.ImageDelays)
		res.ImageDelivery = &s
	}
	if !c.Last.IsZero() {
		res.DrainSeconds = c.Last.Sub(start).Seconds()
		if res.DrainSeconds > 0 {
			res.DeliveredPerS = float64(c.Delivered) / res.DrainSeconds
		}
	}
	res.AckLatency = e.Ack.Latencies.Summary()
	res.AckPosts, res.AckFailures = e.Ack.Posts(), e.Ack.Failures()
	res.GraphCalls = e.Sim.GraphCalls("")
	res.GraphByRoute = map[string]float64{}
	for _, cc := range e.Sim.Calls() {
		if isTokenRoute(cc.Route) {
			res.TokenRequests += cc.Count
			continue
		}
		if c.Delivered > 0 {
			res.GraphByRoute[cc.Route+" ("+cc.Kind+")"] += float64(cc.Count) / float64(c.Delivered)
		}
	}
	if c.Delivered > 0 {
		res.GraphCallsPerDM = float64(res.GraphCalls) / float64(c.Delivered)
	}
	if res.Replies != nil {
		if obs, err := e.Posts.Since(ctx, since); err == nil {
			res.Replies.Count = Tally(replySent, obs)
			res.Replies.Delivery = Summarize(res.Replies.Count.Delays)
		}
		if res.Replies.Posted > 0 {
			delegated := 0
			for _, cc := range e.Sim.Calls() {
				if cc.Kind == "delegated" && !isTokenRoute(cc.Route) {
					delegated += cc.Count
				}
			}
			res.Replies.GraphCallsPerReply = float64(delegated) / float64(res.Replies.Posted)
		}
	}
	e.Proc.Sample()
	res.PluginRSSMB = e.Proc.PeakRSSMB()
	res.PluginCPUSec = e.Proc.CPUSeconds() - cpu0
	res.PluginRestarts = e.Proc.Restarts() - restarts0
	res.ServerCPUSec = e.serverCPU() - serverCPU0
	res.MachineCPUSec = MachineCPUSeconds() - machine0
	for try := 0; try < 10; try++ {
		if res.InboxQueued, res.InboxParked, err = InboxRows(ctx, e.DB); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err == nil && res.InboxQueued+res.InboxParked > 0 {
		rows, serr := InboxSample(ctx, e.DB, 5)
		if serr == nil {
			res.InboxSample = rows
		}
	}
	return res, err
}

func isTokenRoute(route string) bool {
	return strings.Contains(route, "/{tenant}/") || strings.Contains(route, "/common/") || strings.Contains(route, "token")
}

// drain waits until every expected DM (and image follow-up) is there and the inbox is empty, or until nothing
// has changed for the stall budget. A last look after a short pause catches late duplicates.
//
// While the plugin still has work queued, it only counts: reading every bot post of the run (a join over a
// growing posts table) twice a second cost the database a third of its time during a burst, which the bench
// would then have measured as the plugin's slowness. Delivery times come from the posts' create_at, so the
// polling interval does not change them.
func (e *Env) drain(ctx context.Context, ledger *Ledger, since time.Time, stall time.Duration, logf func(string, ...any)) (Count, error) {
	if stall == 0 {
		stall = 60 * time.Second
	}
	sent := ledger.Sent()
	lastProgress := time.Now()
	lastQueued, lastPosts := -1, -1
	lastLog := time.Now()
	var c Count
	for {
		queued, _, err := InboxRows(ctx, e.DB)
		var posts int
		if err == nil {
			posts, err = e.Posts.CountSince(ctx, since)
		}
		if err != nil {
			// PostgreSQL restarting under a fault run: keep polling until the stall budget runs out.
			if time.Since(lastProgress) > stall {
				return Count{}, err
			}
			logf("  … database unavailable: %v", err)
			time.Sleep(time.Second)
			continue
		}
		if queued != lastQueued || posts != lastPosts {
			lastQueued, lastPosts, lastProgress = queued, posts, time.Now()
		}
		done := false
		if queued == 0 {
			obs, err := e.Posts.Since(ctx, since)
			if err != nil {
				return c, err
			}
			c = Tally(sent, obs)
			done = c.Lost == 0 && c.ImagesLost == 0
		}
		if time.Since(lastLog) > 10*time.Second {
			logf("  … %d bot posts, %d inbox rows queued", posts, queued)
			lastLog = time.Now()
		}
		// Rows still queued are the plugin's to finish: a job claimed by a killed plugin process waits for its
		// lease and a failed one for its backoff, so the budget grows while the inbox is not empty.
		budget := stall
		if queued > 0 {
			budget = max(stall, 7*time.Minute)
		}
		if done || time.Since(lastProgress) > budget {
			if done {
				time.Sleep(2 * time.Second) // late duplicates
			}
			if done || queued > 0 { // c is not from this look yet
				obs, err := e.Posts.Since(ctx, since)
				if err != nil {
					return c, err
				}
				c = Tally(sent, obs)
			}
			return c, nil
		}
		wait := 500 * time.Millisecond
		if queued > 0 {
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// RoutesByCost lists per-DM Graph calls, most expensive first, for printing.
func (r Result) RoutesByCost() []string {
	var keys []string
	for k := range r.GraphByRoute {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return r.GraphByRoute[keys[i]] > r.GraphByRoute[keys[j]] })
	return keys
}

func (e *Env) serverCPU() float64 {
	pid := e.Proc.Current().PID
	if pid == 0 {
		return 0
	}
	v, _ := ParentCPUSeconds(pid)
	return v
}
