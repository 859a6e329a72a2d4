// Package mmfake is an in-memory Mattermost for the plugin API calls the plugin's packages make (users,
// preferences, channels, posts, files, ephemeral posts, reactions), shared by the tests of the packages that post
// DMs or read what users post. Only tests import it; Graph and PostgreSQL stay real in those tests.
package mmfake

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// Mattermost holds users, preferences, channels, posts, files, ephemeral posts and reactions, and counts the
// calls made to it.
type Mattermost struct {
	mu         sync.Mutex
	users      map[string]*model.User
	prefs      map[string]string         // userID|category|name → value
	channels   map[string]*model.Channel // by id
	posts      map[string]*model.Post
	created    []string // ids of the posts made through CreatePost, in order
	files      map[string]*model.FileInfo
	data       map[string][]byte
	ephemerals map[string][]*model.Post // by user
	reactions  []*model.Reaction
	seq        int64
	calls      map[string]int

	// failAfterCreate makes the next n CreatePost calls store the post and then report an error, as if the
	// process died between Mattermost creating the post and delivery recording it.
	failAfterCreate int
}

// New returns an empty Mattermost.
func New() *Mattermost {
	return &Mattermost{users: map[string]*model.User{}, prefs: map[string]string{}, channels: map[string]*model.Channel{},
		posts: map[string]*model.Post{}, files: map[string]*model.FileInfo{}, data: map[string][]byte{},
		ephemerals: map[string][]*model.Post{}, calls: map[string]int{}}
}

func appErr(status int, where string) *model.AppError {
	return model.NewAppError(where, "fake."+where, nil, "", status)
}

// PutUser adds or replaces a user.
func (m *Mattermost) PutUser(u *model.User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *u
	m.users[u.Id] = &cp
}

// SetPref sets one preference of a user.
func (m *Mattermost) SetPref(userID, category, name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prefs[userID+"|"+category+"|"+name] = value
}

func (m *Mattermost) GetUser(userID string) (*model.User, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetUser"]++
	u, ok := m.users[userID]
	if !ok {
		return nil, appErr(http.StatusNotFound, "GetUser")
	}
	cp := *u
	return &cp, nil
}

func (m *Mattermost) GetPreferenceForUser(userID, category, name string) (model.Preference, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetPreferenceForUser"]++
	v, ok := m.prefs[userID+"|"+category+"|"+name]
	if !ok {
		// As the server: a preference never set is a 400, like a failed read.
		return model.Preference{}, appErr(http.StatusBadRequest, "GetPreferenceForUser")
	}
	return model.Preference{UserId: userID, Category: category, Name: name, Value: v}, nil
}

func (m *Mattermost) GetPreferencesForUser(userID string) ([]model.Preference, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetPreferencesForUser"]++
	var out []model.Preference
	for k, v := range m.prefs {
		parts := strings.SplitN(k, "|", 3)
		if parts[0] == userID {
			out = append(out, model.Preference{UserId: userID, Category: parts[1], Name: parts[2], Value: v})
		}
	}
	return out, nil
}

func (m *Mattermost) GetDirectChannel(a, b string) (*model.Channel, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetDirectChannel"]++
	if _, ok := m.users[a]; !ok {
		return nil, appErr(http.StatusNotFound, "GetDirectChannel")
	}
	name := model.GetDMNameFromIds(a, b)
	for _, ch := range m.channels {
		if ch.Name == name {
			cp := *ch
			return &cp, nil
		}
	}
	ch := &model.Channel{Id: "dm-" + name, Name: name, Type: model.ChannelTypeDirect}
	m.channels[ch.Id] = ch
	cp := *ch
	return &cp, nil
}

// PutChannel adds or replaces a channel.
func (m *Mattermost) PutChannel(c *model.Channel) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *c
	m.channels[c.Id] = &cp
}

func (m *Mattermost) GetChannel(id string) (*model.Channel, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetChannel"]++
	c, ok := m.channels[id]
	if !ok {
		return nil, appErr(http.StatusNotFound, "GetChannel")
	}
	cp := *c
	return &cp, nil
}

func (m *Mattermost) GetUserByUsername(name string) (*model.User, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if u.Username == name {
			cp := *u
			return &cp, nil
		}
	}
	return nil, appErr(http.StatusNotFound, "GetUserByUsername")
}

// PutPost stores a post as it is (an id is given when it has none), as if its author had written it; it
// replaces a post of the same id (an edit).
func (m *Mattermost) PutPost(p *model.Post) *model.Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := p.Clone()
	if cp.Id == "" {
		cp.Id = model.NewId()
	}
	m.posts[cp.Id] = cp
	return cp.Clone()
}

// PutFile stores a file and its info.
func (m *Mattermost) PutFile(info *model.FileInfo, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *info
	m.files[info.Id] = &cp
	m.data[info.Id] = data
}

func (m *Mattermost) GetFileInfo(id string) (*model.FileInfo, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[id]
	if !ok {
		return nil, appErr(http.StatusNotFound, "GetFileInfo")
	}
	cp := *f
	return &cp, nil
}

func (m *Mattermost) GetFile(id string) ([]byte, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[id]
	if !ok {
		return nil, appErr(http.StatusNotFound, "GetFile")
	}
	return d, nil
}

func (m *Mattermost) SendEphemeralPost(userID string, p *model.Post) *model.Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := p.Clone()
	m.ephemerals[userID] = append(m.ephemerals[userID], cp)
	return cp
}

// Ephemerals returns the texts of the ephemeral posts shown to a user, in order.
func (m *Mattermost) Ephemerals(userID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.ephemerals[userID] {
		out = append(out, p.Message)
	}
	return out
}

func (m *Mattermost) AddReaction(r *model.Reaction) (*model.Reaction, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *r
	m.reactions = append(m.reactions, &cp)
	return &cp, nil
}

// Reactions returns the reactions added to a post, as "userID:emoji", in order.
func (m *Mattermost) Reactions(postID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.reactions {
		if r.PostId == postID {
			out = append(out, r.UserId+":"+r.EmojiName)
		}
	}
	return out
}

// Created returns the messages of the posts made through CreatePost in a channel, in order.
func (m *Mattermost) Created(channelID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, id := range m.created {
		if p, ok := m.posts[id]; ok && p.ChannelId == channelID {
			out = append(out, p.Message)
		}
	}
	return out
}

func (m *Mattermost) CreatePost(post *model.Post) (*model.Post, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["CreatePost"]++
	if root, ok := m.posts[post.RootId]; post.RootId != "" && (!ok || root.DeleteAt != 0 || root.ChannelId != post.ChannelId) {
		// As the server: a reply to a missing root is refused, and nothing is created.
		return nil, appErr(http.StatusBadRequest, "CreatePost")
	}
	m.seq++
	cp := post.Clone()
	cp.Id = model.NewId()
	cp.CreateAt = time.Now().UnixMilli()
	cp.UpdateAt = cp.CreateAt
	m.posts[cp.Id] = cp
	m.created = append(m.created, cp.Id)
	if m.failAfterCreate > 0 {
		m.failAfterCreate--
		return nil, appErr(http.StatusInternalServerError, "CreatePost")
	}
	return cp.Clone(), nil
}

func (m *Mattermost) UpdatePost(post *model.Post) (*model.Post, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["UpdatePost"]++
	old, ok := m.posts[post.Id]
	if !ok {
		return nil, appErr(http.StatusNotFound, "UpdatePost")
	}
	cp := old.Clone()
	cp.Message = post.Message
	cp.SetProps(post.GetProps())
	cp.EditAt = time.Now().UnixMilli()
	cp.UpdateAt = cp.EditAt
	m.posts[post.Id] = cp
	return cp.Clone(), nil
}

func (m *Mattermost) GetPost(postID string) (*model.Post, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetPost"]++
	p, ok := m.posts[postID]
	if !ok {
		return nil, appErr(http.StatusNotFound, "GetPost")
	}
	return p.Clone(), nil
}

func (m *Mattermost) GetPostsSince(channelID string, since int64) (*model.PostList, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetPostsSince"]++
	list := model.NewPostList()
	for _, p := range m.posts {
		if p.ChannelId == channelID && p.UpdateAt >= since {
			list.AddPost(p.Clone())
			list.AddOrder(p.Id)
		}
	}
	return list, nil
}

// DMs returns the posts of the DM channel between a user and the bot, oldest first.
func (m *Mattermost) DMs(userID, botID string) []*model.Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := "dm-" + model.GetDMNameFromIds(userID, botID)
	var out []*model.Post
	for _, p := range m.posts {
		if p.ChannelId == id {
			out = append(out, p.Clone())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateAt != out[j].CreateAt {
			return out[i].CreateAt < out[j].CreateAt
		}
		return strings.Compare(out[i].Id, out[j].Id) < 0
	})
	return out
}

// TotalPosts counts every post.
func (m *Mattermost) TotalPosts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.posts)
}

// DeletePost removes a post, as a user deleting it would.
func (m *Mattermost) DeletePost(postID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.posts, postID)
}

// Calls returns how many times the named API method was called.
func (m *Mattermost) Calls(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[method]
}

// FailNextCreates makes the next n CreatePost calls store the post and then report an error, as if the process
// died between Mattermost creating the post and the caller recording it.
func (m *Mattermost) FailNextCreates(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failAfterCreate = n
}
