package reply_test

import (
	"net/http"
	"sync"

	"github.com/mattermost/mattermost/server/public/model"
)

// fakeMM is an in-memory Mattermost for the calls the package makes: channels, posts, users, files, ephemeral
// posts and reactions. Graph and PostgreSQL are real in these tests.
type fakeMM struct {
	mu         sync.Mutex
	channels   map[string]*model.Channel
	posts      map[string]*model.Post
	users      map[string]*model.User // by username
	files      map[string]*model.FileInfo
	data       map[string][]byte
	ephemerals map[string][]*model.Post // by user
	reactions  []*model.Reaction
	created    []*model.Post
	calls      map[string]int
}

func newFakeMM() *fakeMM {
	return &fakeMM{channels: map[string]*model.Channel{}, posts: map[string]*model.Post{}, users: map[string]*model.User{},
		files: map[string]*model.FileInfo{}, data: map[string][]byte{}, ephemerals: map[string][]*model.Post{}, calls: map[string]int{}}
}

func notFound(where string) *model.AppError {
	return model.NewAppError(where, "fake.not_found", nil, "", http.StatusNotFound)
}

func (m *fakeMM) addChannel(c *model.Channel) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.channels[c.Id] = c
}

func (m *fakeMM) addPost(p *model.Post) *model.Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := p.Clone()
	if cp.Id == "" {
		cp.Id = model.NewId()
	}
	m.posts[cp.Id] = cp
	return cp
}

func (m *fakeMM) removePost(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.posts, id)
}

func (m *fakeMM) addFile(info *model.FileInfo, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[info.Id] = info
	m.data[info.Id] = data
}

func (m *fakeMM) GetChannel(id string) (*model.Channel, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetChannel"]++
	c, ok := m.channels[id]
	if !ok {
		return nil, notFound("GetChannel")
	}
	cp := *c
	return &cp, nil
}

func (m *fakeMM) GetPost(id string) (*model.Post, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetPost"]++
	p, ok := m.posts[id]
	if !ok {
		return nil, notFound("GetPost")
	}
	return p.Clone(), nil
}

func (m *fakeMM) GetUserByUsername(name string) (*model.User, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return nil, notFound("GetUserByUsername")
	}
	cp := *u
	return &cp, nil
}

func (m *fakeMM) GetFileInfo(id string) (*model.FileInfo, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[id]
	if !ok {
		return nil, notFound("GetFileInfo")
	}
	cp := *f
	return &cp, nil
}

func (m *fakeMM) GetFile(id string) ([]byte, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[id]
	if !ok {
		return nil, notFound("GetFile")
	}
	return d, nil
}

func (m *fakeMM) SendEphemeralPost(userID string, p *model.Post) *model.Post {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := p.Clone()
	m.ephemerals[userID] = append(m.ephemerals[userID], cp)
	return cp
}

func (m *fakeMM) AddReaction(r *model.Reaction) (*model.Reaction, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *r
	m.reactions = append(m.reactions, &cp)
	return &cp, nil
}

func (m *fakeMM) GetDirectChannel(a, b string) (*model.Channel, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name := model.GetDMNameFromIds(a, b)
	for _, c := range m.channels {
		if c.Name == name {
			cp := *c
			return &cp, nil
		}
	}
	c := &model.Channel{Id: model.NewId(), Type: model.ChannelTypeDirect, Name: name}
	m.channels[c.Id] = c
	cp := *c
	return &cp, nil
}

func (m *fakeMM) CreatePost(p *model.Post) (*model.Post, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := p.Clone()
	cp.Id = model.NewId()
	m.posts[cp.Id] = cp
	m.created = append(m.created, cp)
	return cp.Clone(), nil
}

func (m *fakeMM) ephemeralTexts(userID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.ephemerals[userID] {
		out = append(out, p.Message)
	}
	return out
}

func (m *fakeMM) reactionsOn(postID string) []string {
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

func (m *fakeMM) createdIn(channelID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, p := range m.created {
		if p.ChannelId == channelID {
			out = append(out, p.Message)
		}
	}
	return out
}
