package channeldelivery

// A copy of delivery's in-memory Mattermost (delivery/mmfake_test.go): test files cannot be shared across
// packages.

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// fakeMM is an in-memory Mattermost for the calls delivery makes: users, preferences, bot DM channels and posts.
// Everything else (Graph, PostgreSQL) is real in these tests.
type fakeMM struct {
	mu       sync.Mutex
	users    map[string]*model.User
	prefs    map[string]string // userID|category|name → value
	channels map[string]*model.Channel
	posts    map[string]*model.Post
	seq      int64
	calls    map[string]int

	// failAfterCreate makes the next n CreatePost calls store the post and then report an error, as if the
	// process died between Mattermost creating the post and delivery recording it.
	failAfterCreate int
}

func newFakeMM() *fakeMM {
	return &fakeMM{users: map[string]*model.User{}, prefs: map[string]string{}, channels: map[string]*model.Channel{},
		posts: map[string]*model.Post{}, calls: map[string]int{}}
}

func appErr(status int, where string) *model.AppError {
	return model.NewAppError(where, "fake."+where, nil, "", status)
}

func (m *fakeMM) putUser(u *model.User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := *u
	m.users[u.Id] = &cp
}

func (m *fakeMM) setPref(userID, category, name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prefs[userID+"|"+category+"|"+name] = value
}

func (m *fakeMM) GetUser(userID string) (*model.User, *model.AppError) {
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

func (m *fakeMM) GetPreferenceForUser(userID, category, name string) (model.Preference, *model.AppError) {
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

func (m *fakeMM) GetPreferencesForUser(userID string) ([]model.Preference, *model.AppError) {
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

func (m *fakeMM) GetDirectChannel(a, b string) (*model.Channel, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls["GetDirectChannel"]++
	if _, ok := m.users[a]; !ok {
		return nil, appErr(http.StatusNotFound, "GetDirectChannel")
	}
	name := model.GetDMNameFromIds(a, b)
	ch, ok := m.channels[name]
	if !ok {
		ch = &model.Channel{Id: "dm-" + name, Name: name, Type: model.ChannelTypeDirect}
		m.channels[name] = ch
	}
	cp := *ch
	return &cp, nil
}

func (m *fakeMM) CreatePost(post *model.Post) (*model.Post, *model.AppError) {
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
	if m.failAfterCreate > 0 {
		m.failAfterCreate--
		return nil, appErr(http.StatusInternalServerError, "CreatePost")
	}
	return cp.Clone(), nil
}

func (m *fakeMM) UpdatePost(post *model.Post) (*model.Post, *model.AppError) {
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

func (m *fakeMM) GetPost(postID string) (*model.Post, *model.AppError) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.posts[postID]
	if !ok {
		return nil, appErr(http.StatusNotFound, "GetPost")
	}
	return p.Clone(), nil
}

func (m *fakeMM) GetPostsSince(channelID string, since int64) (*model.PostList, *model.AppError) {
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

// dms returns the posts in the DM between user and bot, oldest first.
func (m *fakeMM) dms(userID, botID string) []*model.Post {
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

func (m *fakeMM) totalPosts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.posts)
}

// deletePost removes a post as a user deleting it would.
func (m *fakeMM) deletePost(postID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.posts, postID)
}
