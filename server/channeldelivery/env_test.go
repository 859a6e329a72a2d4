package channeldelivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/internal/mmfake"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

const (
	testTenant = "11111111-2222-3333-4444-555555555555"
	testClient = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	testSecret = "client-secret-value"
	botID      = "botuserid000000000000000000"
)

// env is one node's channel delivery against an in-process graphsim, a private PostgreSQL database and the
// in-memory Mattermost of fakeMM. Chat delivery's Processor supplies the recipient rules, as in the plugin.
type env struct {
	t         *testing.T
	sim       *graphsim.Sim
	store     *store.Store
	mm        *mmfake.Mattermost
	graph     *countingGraph
	proc      *Processor
	jobs      int64
	metrics   *countingMetrics
	decrypter *fakeDecrypter
	attacher  *recordingAttacher
	skew      atomic.Int64 // how far the processor's clock is ahead of the real one
}

// advance moves the processor's clock forward.
func (e *env) advance(d time.Duration) { e.skew.Add(int64(d)) }

// recordingAttacher keeps the attachment jobs queued (package attach has its own tests for what follows), or
// refuses the next ones like a database that is down.
type recordingAttacher struct {
	mu   sync.Mutex
	jobs []attach.Job
	fail int
}

func (a *recordingAttacher) EnqueueJob(_ context.Context, j attach.Job) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail > 0 {
		a.fail--
		return errors.New("database is down")
	}
	a.jobs = append(a.jobs, j)
	return nil
}

func (a *recordingAttacher) queued() []attach.Job {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]attach.Job(nil), a.jobs...)
}

// fakeDecrypter stands for the rich notification key store: it "decrypts" any content to plain, or fails.
type fakeDecrypter struct {
	mu    sync.Mutex
	plain []byte
}

func (d *fakeDecrypter) set(plain []byte) { d.mu.Lock(); d.plain = plain; d.mu.Unlock() }

func (d *fakeDecrypter) Decrypt(context.Context, *richnotify.EncryptedContent) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.plain == nil {
		return nil, errors.New("no key for this certificate")
	}
	return d.plain, nil
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, mm: mmfake.New(), metrics: &countingMetrics{skipped: map[string]int{}}, decrypter: &fakeDecrypter{}, attacher: &recordingAttacher{}}
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret, DisplayName: "MS Teams for Mattermost",
		AppRoles: []string{"Chat.Read.All", "Presence.Read.All", "ChannelMessage.Read.All", "TeamMember.Read.All",
			"ChannelMember.Read.All", "TeamworkTag.Read.All", "Channel.ReadBasic.All", "Team.ReadBasic.All"},
	}))
	e.sim = sim
	e.store = storetest.NewStore(t)
	simURL, err := url.Parse(sim.GraphURL())
	require.NoError(t, err)
	settings := delivery.Settings{SyncNotifications: true, TenantID: testTenant, GraphHosts: []string{simURL.Host}}

	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = testTenant, testClient, testSecret
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL, cfg.CustomCACertificate = config.CloudCustom, sim.AuthorityURL(), sim.GraphURL(), string(sim.CACertPEM())
	factory, err := graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(t, err)
	e.graph = &countingGraph{Graph: factory.App(), calls: map[string]int{}}

	e.mm.PutUser(&model.User{Id: botID, Username: "msteams", IsBot: true})
	chats, err := delivery.New(delivery.Deps{
		Store: e.store, Graph: func() delivery.Graph { return factory.App() }, Mattermost: e.mm,
		Settings: func() delivery.Settings { return settings },
	}, delivery.Options{BotUserID: botID})
	require.NoError(t, err)
	e.proc, err = New(Deps{
		Store: e.store, Decrypter: e.decrypter, Graph: func() Graph { return e.graph }, Mattermost: e.mm, Recipients: chats, Attacher: e.attacher,
		Settings: func() delivery.Settings { return settings }, Metrics: e.metrics,
	}, Options{BotUserID: botID, Now: func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }})
	require.NoError(t, err)
	return e
}

// countingGraph counts app-only Graph calls by method: the cost a team mention must keep bounded.
type countingGraph struct {
	Graph
	mu    sync.Mutex
	calls map[string]int
}

func (g *countingGraph) count(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls[name]++
}

func (g *countingGraph) get(name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[name]
}

func (g *countingGraph) GetChannelMessage(ctx context.Context, teamID, channelID, messageID, replyID string) (graph.Message, error) {
	g.count("GetChannelMessage")
	return g.Graph.GetChannelMessage(ctx, teamID, channelID, messageID, replyID)
}

func (g *countingGraph) TeamMembers(ctx context.Context, teamID string) ([]graph.TeamMember, error) {
	g.count("TeamMembers")
	return g.Graph.TeamMembers(ctx, teamID)
}

func (g *countingGraph) ChannelMembers(ctx context.Context, teamID, channelID string) ([]graph.TeamMember, error) {
	g.count("ChannelMembers")
	return g.Graph.ChannelMembers(ctx, teamID, channelID)
}

func (g *countingGraph) TagMembers(ctx context.Context, teamID, tagID string) ([]string, error) {
	g.count("TagMembers")
	return g.Graph.TagMembers(ctx, teamID, tagID)
}

type countingMetrics struct {
	mu        sync.Mutex
	delivered int
	skipped   map[string]int
}

func (m *countingMetrics) Delivered(time.Duration) { m.mu.Lock(); m.delivered++; m.mu.Unlock() }
func (m *countingMetrics) Skipped(r string)        { m.mu.Lock(); m.skipped[r]++; m.mu.Unlock() }
func (m *countingMetrics) Updated(string)          {}
func (m *countingMetrics) ContentFallback(string)  {}

// person is a Teams account and, when connected, its Mattermost user.
type person struct {
	name    string
	teamsID string
	mmID    string
}

var personSeq atomic.Int64

// addPerson creates a Teams user; connected ones also get a Mattermost user with notifications on.
func (e *env) addPerson(name string, connected bool) person {
	return e.addUser(graphsim.User{DisplayName: name + " Example", Mail: name + "@contoso.test", UserPrincipalName: name + "@contoso.test"}, name, connected)
}

// addUser is addPerson for a Teams account described by u (its id and tenant are filled in).
func (e *env) addUser(u graphsim.User, name string, connected bool) person {
	n := personSeq.Add(1)
	p := person{name: name, teamsID: fmt.Sprintf("0000%04d-1111-4111-8111-%012d", n, n)}
	u.ID, u.TenantID = p.teamsID, testTenant
	require.NoError(e.t, e.sim.AddUser(u))
	if !connected {
		return p
	}
	p.mmID = fmt.Sprintf("mm%s%022d", name, n)[:26]
	e.mm.PutUser(&model.User{Id: p.mmID, Username: name, Email: name + "@example.com"})
	e.mm.SetPref(p.mmID, "pp_com.mattermost.msteams-sync", "notifications", "on")
	require.NoError(e.t, e.store.SaveConnection(context.Background(), store.Connection{
		MMUserID: p.mmID, TeamsUserID: p.teamsID, Token: []byte("sealed"), TokenKeyID: "k", ConnectedAt: time.Now().Add(-time.Hour),
	}))
	return p
}

func ids(people ...person) []string {
	out := make([]string, len(people))
	for i, p := range people {
		out[i] = p.teamsID
	}
	return out
}

// process runs one change through the processor as the inbox would.
func (e *env) process(ch inbox.ChannelChange) error {
	if ch.Source == "" {
		ch.Source = inbox.SourceWebhook
	}
	ch.TenantID = testTenant
	payload, err := json.Marshal(ch)
	require.NoError(e.t, err)
	e.jobs++
	return e.proc.Process(context.Background(), inbox.Job{ID: e.jobs, Queue: inbox.QueueChannelChanges, Payload: payload, Attempts: 1, EnqueuedAt: time.Now()})
}

// notify is a plain (not rich) notification, so the message is fetched from Graph.
func (e *env) notify(changeType, teamID, channelID, messageID, rootID string) {
	require.NoError(e.t, e.process(inbox.ChannelChange{ChangeType: changeType, TeamID: teamID, ChannelID: channelID, MessageID: messageID, RootID: rootID}))
}

// inboxChange is a plain change of a channel message.
func inboxChange(changeType, teamID, channelID, messageID, rootID string) inbox.ChannelChange {
	return inbox.ChannelChange{ChangeType: changeType, TeamID: teamID, ChannelID: channelID, MessageID: messageID, RootID: rootID}
}

func (e *env) dms(p person) []*model.Post { return e.mm.DMs(p.mmID, botID) }
