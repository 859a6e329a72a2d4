package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// Person has a connected account on both sides.
type Person struct {
	MMID, TeamsID, Name string
}

// Chat is a Teams chat between Persons (indices into Env.People).
type Chat struct {
	ID      string
	Members []int
}

// Env is the running stack plus everything the bench measures it with.
type Env struct {
	Stack  *harness.Stack
	Sim    *graphsim.Sim
	Ack    *AckTimer
	DB     DB // Mattermost's database, which the plugin shares
	Posts  *PostReader
	Proc   *ProcSampler
	People []Person
	OneOne []Chat
	Groups []Chat
	Team   Team // every person is a member; channel traffic goes to its standard channels
	rng    *rand.Rand
	rngMu  sync.Mutex
	// channelSeq counts channel messages sent (under rngMu): every tenth mentions someone.
	channelSeq int
	big        *bigTeam // the team of Load.TeamMembers, made on first use
	note       string
	runSince   time.Time                 // posts created since belong to the current run
	clients    map[string]*model.Client4 // each person's signed-in Mattermost client, by Mattermost user id
}

func (e *Env) setNote(s string) {
	e.rngMu.Lock()
	e.note = s
	e.rngMu.Unlock()
}

func (e *Env) takeNote() string {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	s := e.note
	e.note = ""
	return s
}

// Setup starts the stack with a graphsim whose notification transport is timed, creates and connects users
// people, and creates one 1:1 chat per neighbouring pair plus groups of 3–6 people.
func Setup(t harness.T, version string, people, groups int) *Env {
	t.Helper()
	ctx := context.Background()
	ack := &AckTimer{}
	s := harness.Start(t, version)
	sim, err := startSim(t, s.URL, ack)
	if err != nil {
		t.Fatalf("graphsim: %v", err)
	}
	tm := &harness.Teams{Sim: sim}
	s.UploadPlugin(harness.BundlePath(t))
	settings := tm.PluginSettings()
	settings["ChannelNotifications"] = true
	s.PatchPluginConfig(settings)
	s.EnablePlugin()
	st := &harness.Stack{Server: s, Teams: tm, Bot: s.Bot("msteams")}

	db := DB{DSN: s.DSN}
	if _, _, err := InboxRows(ctx, db); err != nil {
		t.Fatalf("%v", err)
	}
	e := &Env{Stack: st, Sim: sim, Ack: ack, DB: db, Posts: &PostReader{DB: db, BotUserID: st.Bot.Id},
		Proc: &ProcSampler{Dir: s.Dir}, rng: rand.New(rand.NewPCG(9, 9))}

	start := time.Now()
	e.People = make([]Person, people)
	e.clients = map[string]*model.Client4{}
	var clientsMu sync.Mutex
	parallel(t, people, 4, func(i int) error {
		name := fmt.Sprintf("bench%03d", i)
		p := st.NewPair(t, name, fmt.Sprintf("Bench User %03d", i))
		e.People[i] = Person{MMID: p.MM.Id, TeamsID: p.Teams.ID, Name: name}
		clientsMu.Lock()
		e.clients[p.MM.Id] = p.MM.Client
		clientsMu.Unlock()
		return harness.ConnectUser(s.URL, p.MM.Client.AuthToken, sim.CACertPEM(), p.Teams.ID)
	})
	t.Logf("%d users created and connected in %s", people, time.Since(start).Round(time.Millisecond))

	for i := 0; i+1 < people; i += 2 {
		e.OneOne = append(e.OneOne, e.chat(t, "", i, i+1))
	}
	for g := 0; g < groups; g++ {
		n := 3 + g%4
		members := e.rng.Perm(people)[:n]
		e.Groups = append(e.Groups, e.chat(t, fmt.Sprintf("bench group %d", g), members...))
	}
	e.Team = e.team(t, 3)
	if err := e.waitSubscription(60 * time.Second); err != nil {
		t.Fatalf("%v", err)
	}
	e.Proc.Start(250 * time.Millisecond)
	t.Cleanup(e.Proc.Stop)
	return e
}

func (e *Env) chat(t harness.T, topic string, members ...int) Chat {
	spec := graphsim.ChatSpec{TenantID: harness.TeamsTenantID, ChatType: "oneOnOne"}
	if len(members) > 2 {
		spec.ChatType, spec.Topic = "group", topic
	}
	for _, m := range members {
		spec.Members = append(spec.Members, e.People[m].TeamsID)
	}
	id, err := e.Sim.CreateChat(spec)
	if err != nil {
		t.Fatalf("create chat: %v", err)
	}
	return Chat{ID: id, Members: members}
}

// Team is the bench's Teams team and its standard channels.
type Team struct {
	ID       string
	Channels []string
}

// team creates a team of every person with n standard channels besides General.
func (e *Env) team(t harness.T, n int) Team {
	spec := graphsim.TeamSpec{TenantID: harness.TeamsTenantID, DisplayName: "Bench team"}
	for _, p := range e.People {
		spec.Members = append(spec.Members, p.TeamsID)
	}
	for i := 0; i < n; i++ {
		spec.Channels = append(spec.Channels, graphsim.ChannelSpec{DisplayName: fmt.Sprintf("bench channel %d", i)})
	}
	id, err := e.Sim.CreateTeam(spec)
	if err != nil {
		t.Fatalf("create team: %v", err)
	}
	tm := Team{ID: id}
	for _, info := range e.Sim.Teams() {
		if info.ID != id {
			continue
		}
		for _, c := range info.Channels {
			if strings.HasPrefix(c.DisplayName, "bench channel") {
				tm.Channels = append(tm.Channels, c.ID)
			}
		}
	}
	return tm
}

// startSim is harness.StartTeams with the notification client wrapped by the ack timer.
func startSim(t harness.T, siteURL string, ack *AckTimer) (*graphsim.Sim, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}
	ack.Next = tr
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true,
		NotificationClient: &http.Client{Transport: ack, Timeout: 30 * time.Second}})
	if err != nil {
		return nil, err
	}
	if err := sim.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = sim.Close() })
	err = sim.AddApp(graphsim.AppRegistration{
		TenantID: harness.TeamsTenantID, ClientID: harness.TeamsClientID, ClientSecret: harness.TeamsClientSecret,
		DisplayName:  "Mattermost MS Teams (bench)",
		RedirectURIs: []string{strings.TrimRight(siteURL, "/") + harness.RedirectPath},
		// The channel permissions too: the plugin runs with Teams channel notifications on (issue 17).
		AppRoles: []string{"Chat.Read.All", "ChatMember.Read.All", "Presence.Read.All", "User.Read.All", "Files.Read.All", "Application.Read.All",
			"ChannelMessage.Read.All", "Team.ReadBasic.All", "Channel.ReadBasic.All", "ChannelMember.Read.All", "TeamMember.Read.All", "TeamworkTag.Read.All"},
	})
	return sim, errors.Wrap(err, "register the app")
}

// waitSubscription waits until the plugin holds live subscriptions in graphsim: chats, and channels.
func (e *Env) waitSubscription(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if e.SubscriptionID() != "" && e.subscriptionOf("teams/getAllMessages") != "" {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.Errorf("the plugin created no chat and channel subscriptions within %s", timeout)
}

// SubscriptionID is the plugin's current chat subscription ("" when none).
func (e *Env) SubscriptionID() string { return e.subscriptionOf("chats/getAllMessages") }

func (e *Env) subscriptionOf(resource string) string {
	id := ""
	for _, sub := range e.Sim.Changes().Subscriptions() {
		if strings.EqualFold(strings.TrimPrefix(sub.Resource, "/"), resource) {
			id = sub.ID
		}
	}
	return id
}

// recovered runs f, turning a harness Fatal (a panic in programs) on this goroutine into an error.
func recovered(f func(int) error, i int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("worker %d: %v", i, r)
		}
	}()
	return f(i)
}

// parallel runs f(0..n-1) on workers goroutines and fails t on the first error.
func parallel(t harness.T, n, workers int, f func(i int) error) {
	t.Helper()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := recovered(f, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		t.Fatalf("%v", first)
	}
}
