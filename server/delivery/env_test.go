package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/internal/mmfake"
	"github.com/teamsnotify/msteams-sync/server/richnotify"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
	"github.com/teamsnotify/msteams-sync/server/webhook"
)

const (
	testTenant = "11111111-2222-3333-4444-555555555555"
	testClient = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	testSecret = "client-secret-value"
	botID      = "botuserid000000000000000000"
)

// env is one plugin node's delivery: a real graphsim (Graph), a real private PostgreSQL database, and the
// in-memory Mattermost of fakeMM.
type env struct {
	t        *testing.T
	sim      *graphsim.Sim
	store    *store.Store
	dsn      string // the database, for a second node's store
	mm       *mmfake.Mattermost
	factory  *graph.Factory
	proc     *Processor
	attacher *fakeAttacher
	metrics  *countingMetrics
	keys     *richnotify.Keyring
	simShift atomic.Int64 // graphsim's clock offset from the real clock

	mu       sync.Mutex
	settings Settings
	jobs     int64
}

type envOption func(*Options, *graphsim.Options)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, mm: mmfake.New(), attacher: &fakeAttacher{}, metrics: newCountingMetrics(), settings: Settings{SyncNotifications: true, TenantID: testTenant}}
	o := Options{BotUserID: botID}
	gopts := graphsim.Options{DisableThrottling: true, Now: func() time.Time { return time.Now().Add(time.Duration(e.simShift.Load())) }}
	for _, opt := range opts {
		opt(&o, &gopts)
	}
	sim, err := graphsim.New(gopts)
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret, DisplayName: "MS Teams for Mattermost",
		AppRoles: []string{"Chat.Read.All", "Presence.Read.All"},
	}))
	e.sim = sim
	e.dsn = storetest.NewDatabase(t)
	e.store = openStore(t, e.dsn)
	simURL, err := url.Parse(sim.GraphURL())
	require.NoError(t, err)
	e.settings.GraphHosts = []string{simURL.Host}

	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = testTenant, testClient, testSecret
	cfg.Cloud, cfg.CustomAuthorityURL, cfg.CustomGraphURL, cfg.CustomCACertificate = config.CloudCustom, sim.AuthorityURL(), sim.GraphURL(), string(sim.CACertPEM())
	// No SDK retries: the processor must see Graph's 429 and its Retry-After.
	e.factory, err = graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(t, err)

	kp, err := richnotify.GenerateKeyPair(time.Now(), richnotify.KeyOptions{Bits: 2048})
	require.NoError(t, err)
	e.keys, err = richnotify.NewKeyring(kp)
	require.NoError(t, err)

	e.mm.PutUser(&model.User{Id: botID, Username: "msteams", IsBot: true})
	e.proc = e.newProcessor(e.store, o)
	return e
}

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Options{DataSource: dsn})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	require.NoError(t, st.Migrate(ctx))
	return st
}

// otherNode is a second plugin node: its own processor (and caches) and its own connection pool to the same
// database, the same Graph and the same Mattermost.
func (e *env) otherNode() *Processor {
	return e.newProcessor(openStore(e.t, e.dsn), Options{BotUserID: botID})
}

func (e *env) newProcessor(st *store.Store, o Options) *Processor {
	proc, err := New(Deps{
		Store:      st,
		Graph:      func() Graph { return e.factory.App() },
		Decrypter:  keyringDecrypter{e.keys},
		Mattermost: e.mm,
		Attacher:   e.attacher,
		Choices:    st,
		Enqueuer:   e.store,
		Source: GraphSource{
			Client:  func() PageGetter { return e.factory.App() },
			BaseURL: func() string { return e.factory.Endpoints().GraphBaseURL },
		},
		Settings: func() Settings { e.mu.Lock(); defer e.mu.Unlock(); return e.settings },
		Metrics:  e.metrics,
		Threads:  st,
	}, o)
	require.NoError(e.t, err)
	return proc
}

func (e *env) setSync(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.settings.SyncNotifications = on
}

type keyringDecrypter struct{ k *richnotify.Keyring }

func (d keyringDecrypter) Decrypt(_ context.Context, c *richnotify.EncryptedContent) ([]byte, error) {
	return d.k.Decrypt(*c)
}

// person is a Teams account and, when connected, its Mattermost user.
type person struct {
	name    string
	teamsID string
	mmID    string
}

type personOption func(*model.User, *bool, *string)

func notConnected() personOption     { return func(_ *model.User, c *bool, _ *string) { *c = false } }
func notificationsOff() personOption { return func(_ *model.User, _ *bool, p *string) { *p = "off" } }

// preferenceNeverSet leaves the notifications preference unset (e.g. a user taken over from another plugin).
func preferenceNeverSet() personOption { return func(_ *model.User, _ *bool, p *string) { *p = "" } }
func deactivated() personOption {
	return func(u *model.User, _ *bool, _ *string) { u.DeleteAt = time.Now().UnixMilli() }
}

var personSeq atomic.Int64

// addPerson creates a Teams user; by default also a connected Mattermost user with notifications on.
func (e *env) addPerson(name string, opts ...personOption) person {
	n := personSeq.Add(1)
	p := person{name: name, teamsID: fmt.Sprintf("0000%04d-1111-4111-8111-%012d", n, n), mmID: fmt.Sprintf("mm%s%022d", name, n)[:26]}
	require.NoError(e.t, e.sim.AddUser(graphsim.User{ID: p.teamsID, TenantID: testTenant, DisplayName: name + " Example",
		Mail: name + "@contoso.test", UserPrincipalName: name + "@contoso.test"}))
	u := &model.User{Id: p.mmID, Username: name, Email: name + "@example.com"}
	connected, pref := true, "on"
	for _, o := range opts {
		o(u, &connected, &pref)
	}
	if !connected {
		p.mmID = ""
		return p
	}
	e.mm.PutUser(u)
	if pref != "" {
		e.mm.SetPref(p.mmID, preferenceCategory, preferenceNotifications, pref)
	}
	require.NoError(e.t, e.store.SaveConnection(context.Background(), store.Connection{
		MMUserID: p.mmID, TeamsUserID: p.teamsID, Token: []byte("sealed"), TokenKeyID: "k", ConnectedAt: time.Now().Add(-30 * 24 * time.Hour),
	}))
	return p
}

func (e *env) chat(chatType, topic string, members ...person) string {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.teamsID
	}
	id, err := e.sim.CreateChat(graphsim.ChatSpec{TenantID: testTenant, ChatType: chatType, Topic: topic, Members: ids})
	require.NoError(e.t, err)
	return id
}

func (e *env) send(chatID string, from person, html string) string {
	id, err := e.sim.SendMessage(chatID, graphsim.NewMessage{From: from.teamsID, HTML: html})
	require.NoError(e.t, err)
	return id
}

// process runs one change through the processor as the inbox would.
func (e *env) process(ch inbox.Change) error {
	return e.processOn(e.proc, ch)
}

// processOn runs one change through proc (a node's processor) as the inbox would.
func (e *env) processOn(proc *Processor, ch inbox.Change) error {
	if ch.Source == "" {
		ch.Source = inbox.SourceWebhook
	}
	payload, err := json.Marshal(ch)
	require.NoError(e.t, err)
	e.jobs++
	return proc.Process(context.Background(), inbox.Job{ID: e.jobs, Queue: inbox.QueueChanges, Payload: payload, Attempts: 1, EnqueuedAt: time.Now()})
}

// notify is a plain (not rich) notification of a change.
func (e *env) notify(changeType, chatID, messageID string) error {
	return e.process(inbox.Change{ChangeType: changeType, ChatID: chatID, MessageID: messageID, TenantID: testTenant})
}

func (e *env) dms(p person) []*model.Post { return e.mm.DMs(p.mmID, botID) }

// richFeed subscribes to every chat message with rich notifications (encrypted to e.keys) and collects the
// changes Graph delivers to a test endpoint, parsed by the real webhook parser.
type richFeed struct {
	mu      sync.Mutex
	changes []inbox.Change
	arrived chan struct{}
}

func (e *env) subscribeRich() *richFeed {
	f := &richFeed{arrived: make(chan struct{}, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, tok)
			return
		}
		body, _ := io.ReadAll(r.Body)
		batch, err := webhook.ParseChanges(body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		for _, it := range batch.Items {
			f.changes = append(f.changes, inbox.Change{ChangeType: it.ChangeType, ChatID: it.ChatID, MessageID: it.MessageID,
				TenantID: it.TenantID, SubscriptionID: it.SubscriptionID, Encrypted: it.EncryptedContent, Source: inbox.SourceWebhook})
			f.arrived <- struct{}{}
		}
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	e.t.Cleanup(srv.Close)
	kp := e.keys.Current()
	_, err := e.factory.App().CreateSubscription(context.Background(), graph.SubscriptionRequest{
		Resource: "/chats/getAllMessages", ChangeType: "created,updated,deleted",
		NotificationURL: srv.URL + "/changes", LifecycleNotificationURL: srv.URL + "/lifecycle",
		ClientState: "state", ExpiresAt: time.Now().Add(50 * time.Minute), IncludeResourceData: true,
		EncryptionCertificate: kp.EncryptionCertificate(), EncryptionCertificateID: kp.ID(),
	})
	require.NoError(e.t, err)
	return f
}

// wait returns the first n changes delivered, waiting for them as long as needed (bounded by a generous timeout
// only so that a broken emulator fails the test instead of hanging it).
func (f *richFeed) wait(t *testing.T, n int) []inbox.Change {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		f.mu.Lock()
		if len(f.changes) >= n {
			out := append([]inbox.Change(nil), f.changes[:n]...)
			f.changes = f.changes[n:]
			f.mu.Unlock()
			return out
		}
		f.mu.Unlock()
		select {
		case <-f.arrived:
		case <-deadline:
			t.Fatalf("only %d of %d change notifications arrived", len(f.changes), n)
		}
	}
}

type fakeAttacher struct {
	mu   sync.Mutex
	jobs []AttachJob
	fail error
}

func (a *fakeAttacher) Enqueue(_ context.Context, job AttachJob) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.jobs = append(a.jobs, job)
	return nil
}

func (a *fakeAttacher) all() []AttachJob {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AttachJob(nil), a.jobs...)
}

type countingMetrics struct {
	mu        sync.Mutex
	delivered int
	skipped   map[string]int
	updated   map[string]int
	fallback  map[string]int
}

func newCountingMetrics() *countingMetrics {
	return &countingMetrics{skipped: map[string]int{}, updated: map[string]int{}, fallback: map[string]int{}}
}

func (m *countingMetrics) Delivered(time.Duration) { m.mu.Lock(); m.delivered++; m.mu.Unlock() }
func (m *countingMetrics) Skipped(r string)        { m.mu.Lock(); m.skipped[r]++; m.mu.Unlock() }
func (m *countingMetrics) Updated(k string)        { m.mu.Lock(); m.updated[k]++; m.mu.Unlock() }
func (m *countingMetrics) ContentFallback(r string) {
	m.mu.Lock()
	m.fallback[r]++
	m.mu.Unlock()
}

func (m *countingMetrics) skips(reason string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.skipped[reason]
}
