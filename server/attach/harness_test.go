package attach_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

const (
	tenant   = "7c3e1f2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	clientID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	secret   = "attach~secret"
	redirect = "https://mm.example.test/plugins/com.mattermost.msteams-sync/oauth-redirect"
	senderID = "a1a1a1a1-0000-4000-8000-000000000001"
	botID    = "botbotbotbotbotbotbotbotbo"
)

// teamsUsers are the chat's recipients, connected to the Mattermost users of the same index in mmUsers.
var teamsUsers = []string{
	"b2b2b2b2-0000-4000-8000-000000000002",
	"c3c3c3c3-0000-4000-8000-000000000003",
	"d4d4d4d4-0000-4000-8000-000000000004",
}

// env is one test's world: graphsim (Graph), a real PostgreSQL store, an in-memory Mattermost, a fake clock.
type env struct {
	t       *testing.T
	sim     *graphsim.Sim
	factory *graph.Factory
	store   *store.Store
	mm      *fakeMM
	clock   *fakeClock
	users   map[string]*graph.Client // Mattermost user id → delegated client
	chat    string
	targets []attach.Target
	svc     *attach.Service
	tempDir string
}

func newEnv(t *testing.T, opt attach.Options) *env {
	t.Helper()
	sim, err := graphsim.New(graphsim.Options{DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.AddApp(graphsim.AppRegistration{
		TenantID: tenant, ClientID: clientID, ClientSecret: secret, DisplayName: "MM Teams Sync",
		RedirectURIs: []string{redirect}, AppRoles: []string{"Chat.Read.All", "Presence.Read.All", "User.Read.All"},
	}))
	members := append([]string{senderID}, teamsUsers...)
	for i, id := range members {
		require.NoError(t, sim.AddUser(graphsim.User{ID: id, TenantID: tenant, DisplayName: "User " + string(rune('A'+i)),
			Mail: "u" + string(rune('a'+i)) + "@contoso.test", UserPrincipalName: "u" + string(rune('a'+i)) + "@contoso.test"}))
	}
	chat, err := sim.CreateChat(graphsim.ChatSpec{ChatType: "group", Topic: "Files", Members: members})
	require.NoError(t, err)

	cfg := config.Defaults()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = tenant, clientID, secret
	cfg.EncryptionKey, cfg.WebhookSecret = "k", "w"
	cfg.Cloud = config.CloudCustom
	cfg.CustomAuthorityURL = sim.AuthorityURL()
	cfg.CustomGraphURL = sim.GraphURL()
	cfg.CustomCACertificate = string(sim.CACertPEM())
	require.NoError(t, cfg.Validate())
	// No SDK retries: the job itself must see a 429 and its Retry-After.
	factory, err := graph.NewFactory(cfg, graph.Options{MaxRetries: -1})
	require.NoError(t, err)

	e := &env{t: t, sim: sim, factory: factory, store: storetest.NewStore(t), mm: newFakeMM(), clock: newFakeClock(),
		users: map[string]*graph.Client{}, chat: chat, tempDir: t.TempDir()}
	for i, teamsID := range teamsUsers {
		mmUser := "mmuser" + string(rune('1'+i)) + strings.Repeat("x", 19)
		channel := "dmchannel" + string(rune('1'+i)) + strings.Repeat("x", 16)
		e.users[mmUser] = e.signIn(teamsID)
		root := e.mm.addPost(&model.Post{UserId: botID, ChannelId: channel, Message: "text DM"})
		e.targets = append(e.targets, attach.Target{MMUserID: mmUser, ChannelID: channel, PostID: root.Id})
	}
	e.mm.clock = e.clock

	if opt.BotUserID == "" {
		opt.BotUserID = botID
	}
	if opt.Clock == nil {
		opt.Clock = e.clock
	}
	if opt.TempDir == "" {
		opt.TempDir = e.tempDir
	}
	if opt.GraphBaseURL == nil {
		opt.GraphBaseURL = sim.GraphURL
	}
	e.svc, err = attach.New(attach.Deps{
		Store: e.store, Mattermost: e.mm, App: factory.App(), Users: attach.UserGraphFunc(e.callGraph),
		Download: factory.HTTPClient(),
	}, opt)
	require.NoError(t, err)
	return e
}

// signIn runs graphsim's authorization-code flow for a user and returns a delegated client.
func (e *env) signIn(userID string) *graph.Client {
	t := e.t
	ctx := e.factory.OAuth2Context(context.Background())
	conf := e.factory.OAuth2Config(redirect)
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier)) + "&user=" + url.QueryEscape(userID)
	hc := e.factory.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	c, err := e.factory.Delegated(conf.TokenSource(ctx, tok))
	require.NoError(t, err)
	return c
}

var errNotConnected = errors.New("user is not connected")

func (e *env) callGraph(ctx context.Context, mmUserID string, fn func(context.Context, *graph.Client) error) error {
	c, ok := e.users[mmUserID]
	if !ok {
		return errNotConnected
	}
	return fn(ctx, c)
}

// send posts a message in the chat and returns the job delivery would enqueue for it, with the files
// format.Convert finds in it.
func (e *env) send(m graphsim.NewMessage) attach.Job {
	t := e.t
	m.From = senderID
	id, err := e.sim.SendMessage(e.chat, m)
	require.NoError(t, err)
	msg, err := e.factory.App().GetMessage(context.Background(), e.chat, id)
	require.NoError(t, err)
	fm := format.Message{Body: msg.BodyHTML, BodyType: msg.BodyType}
	for _, a := range msg.Attachments {
		fm.Attachments = append(fm.Attachments, format.Attachment{ID: a.ID, ContentType: a.ContentType, ContentURL: a.ContentURL, Content: a.Content, Name: a.Name})
	}
	u, err := url.Parse(e.sim.GraphURL())
	require.NoError(t, err)
	res, err := format.Convert(fm, format.Options{GraphHosts: []string{u.Host}})
	require.NoError(t, err)
	return attach.Job{ChatID: e.chat, MessageID: id, SenderTeamsID: senderID, Files: res.Files, Targets: e.targets}
}

// process runs the job as the inbox would hand it over.
func (e *env) process(j attach.Job, attempt int) error {
	payload, err := json.Marshal(j)
	require.NoError(e.t, err)
	return e.svc.Process(context.Background(), inbox.Job{ID: 1, Queue: inbox.QueueAttachments, Payload: payload, Attempts: attempt, EnqueuedAt: time.Now()})
}

func (e *env) hostedCalls() int {
	return e.sim.CallCount("GET /chats/{id}/messages/{id}/hostedContents/{id}/$value")
}

// pngBytes is a real PNG of w×h pixels.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// fakeClock advances only when slept on, so rate limiting is checked without wall time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// fakeMM is an in-memory Mattermost with the file semantics the package relies on: UploadFile creates a file
// info owned by "nouser", CopyFileInfos a detached copy owned by the given user, and CreatePost attaches only
// files that are not attached yet and belong to the poster (or to "nouser"), as the server does.
type fakeMM struct {
	mu             sync.Mutex
	clock          *fakeClock
	config         *model.Config
	files          map[string]*model.FileInfo
	posts          map[string]*model.Post
	order          []string
	uploads        []upload
	copies         []copyCall
	failCreatePost int // fail this many CreatePost calls after creating the post (a crash after the write)
	failUpload     *model.AppError
}

type upload struct {
	ChannelID, Name string
	Size            int64
	Session         bool
	SpoolPath       string // the temp file an upload session streamed from
	At              time.Time
}

type copyCall struct {
	UserID  string
	FileIDs []string
}

func newFakeMM() *fakeMM {
	cfg := &model.Config{}
	cfg.SetDefaults()
	return &fakeMM{config: cfg, files: map[string]*model.FileInfo{}, posts: map[string]*model.Post{}}
}

func (m *fakeMM) setMaxFileSize(n int64) {
	m.mu.Lock()
	m.config.FileSettings.MaxFileSize = &n
	m.mu.Unlock()
}

func (m *fakeMM) GetConfig() *model.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.config.Clone()
}

func (m *fakeMM) UploadFile(data []byte, channelID, filename string) (*model.FileInfo, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failUpload != nil {
		return nil, m.failUpload
	}
	if int64(len(data)) > *m.config.FileSettings.MaxFileSize {
		return nil, model.NewAppError("UploadFile", "api.file.upload_file.too_large_detailed.app_error", nil, "", http.StatusRequestEntityTooLarge)
	}
	info := &model.FileInfo{Id: model.NewId(), CreatorId: "nouser", ChannelId: channelID, Name: filename, Size: int64(len(data))}
	m.files[info.Id] = info
	m.uploads = append(m.uploads, upload{ChannelID: channelID, Name: filename, Size: info.Size, At: m.clock.Now()})
	return info, nil
}

func (m *fakeMM) CreateUploadSession(us *model.UploadSession) (*model.UploadSession, error) {
	cp := *us
	cp.Path = "data/uploads/" + us.Id
	if appErr := cp.IsValid(); appErr != nil {
		return nil, appErr
	}
	return &cp, nil
}

func (m *fakeMM) UploadData(us *model.UploadSession, rd io.Reader) (*model.FileInfo, error) {
	spool := ""
	if f, ok := rd.(*os.File); ok {
		spool = f.Name()
	}
	n, err := io.Copy(io.Discard, rd)
	if err != nil {
		return nil, err
	}
	if n != us.FileSize {
		return nil, errors.Errorf("session announced %d bytes, got %d", us.FileSize, n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	info := &model.FileInfo{Id: model.NewId(), CreatorId: us.UserId, ChannelId: us.ChannelId, Name: us.Filename, Size: n}
	m.files[info.Id] = info
	m.uploads = append(m.uploads, upload{ChannelID: us.ChannelId, Name: us.Filename, Size: n, Session: true, SpoolPath: spool, At: m.clock.Now()})
	return info, nil
}

func (m *fakeMM) CopyFileInfos(userID string, fileIDs []string) ([]string, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, id := range fileIDs {
		src, ok := m.files[id]
		if !ok {
			return nil, model.NewAppError("CopyFileInfos", "app.file_info.get.app_error", nil, "", http.StatusNotFound)
		}
		cp := *src
		cp.Id, cp.CreatorId, cp.PostId, cp.ChannelId = model.NewId(), userID, "", ""
		m.files[cp.Id] = &cp
		out = append(out, cp.Id)
	}
	m.copies = append(m.copies, copyCall{UserID: userID, FileIDs: append([]string(nil), fileIDs...)})
	return out, nil
}

func (m *fakeMM) addPost(p *model.Post) *model.Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := p.Clone()
	cp.Id = model.NewId()
	m.posts[cp.Id] = cp
	m.order = append(m.order, cp.Id)
	return cp
}

func (m *fakeMM) CreatePost(p *model.Post) (*model.Post, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(p.FileIds) > 10 {
		return nil, model.NewAppError("CreatePost", "model.post.is_valid.file_ids.app_error", nil, "", http.StatusBadRequest)
	}
	if p.RootId != "" {
		if _, ok := m.posts[p.RootId]; !ok {
			return nil, model.NewAppError("CreatePost", "api.post.create_post.root_id.app_error", nil, "", http.StatusBadRequest)
		}
	}
	cp := p.Clone()
	cp.Id = model.NewId()
	var attached []string
	for _, id := range p.FileIds {
		f, ok := m.files[id]
		if ok && f.PostId == "" && (f.CreatorId == p.UserId || f.CreatorId == "nouser") {
			f.PostId, f.ChannelId = cp.Id, cp.ChannelId
			attached = append(attached, id)
		}
	}
	cp.FileIds = attached
	m.posts[cp.Id] = cp
	m.order = append(m.order, cp.Id)
	if m.failCreatePost > 0 {
		m.failCreatePost--
		return nil, model.NewAppError("CreatePost", "app.post.save.app_error", nil, "connection reset", http.StatusInternalServerError)
	}
	return cp.Clone(), nil
}

func (m *fakeMM) GetPostThread(postID string) (*model.PostList, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	root, ok := m.posts[postID]
	if !ok {
		return nil, model.NewAppError("GetPostThread", "app.post.get.app_error", nil, "", http.StatusNotFound)
	}
	list := model.NewPostList()
	list.AddPost(root.Clone())
	list.AddOrder(root.Id)
	for _, id := range m.order {
		if p := m.posts[id]; p.RootId == postID {
			list.AddPost(p.Clone())
			list.AddOrder(p.Id)
		}
	}
	return list, nil
}

// followUps returns the follow-up posts in a channel.
func (m *fakeMM) followUps(channelID string) []*model.Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*model.Post
	for _, id := range m.order {
		if p := m.posts[id]; p.ChannelId == channelID && p.RootId != "" {
			out = append(out, p.Clone())
		}
	}
	return out
}

// fileNames returns the names of the files attached to a post, sorted.
func (m *fakeMM) fileNames(p *model.Post) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, id := range p.FileIds {
		if f, ok := m.files[id]; ok && f.PostId == p.Id {
			out = append(out, f.Name)
		}
	}
	sort.Strings(out)
	return out
}

func (m *fakeMM) uploadList() []upload {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]upload(nil), m.uploads...)
}

func (m *fakeMM) copyList() []copyCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]copyCall(nil), m.copies...)
}

func inDir(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && !strings.HasPrefix(rel, "..")
}
