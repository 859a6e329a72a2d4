package harness

import (
	"context"
	"sort"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// User is a regular Mattermost user created by NewUser, with a client logged in as them.
type User struct {
	*model.User
	Password string
	Client   *model.Client4
}

// NewUser creates a regular user named username (email username@example.com), adds them to s.Team and logs in.
func (s *Server) NewUser(username string) *User {
	s.t.Helper()
	return s.NewUserWithEmail(username, username+"@example.com")
}

// NewUserWithEmail is NewUser with a chosen email.
func (s *Server) NewUserWithEmail(username, email string) *User {
	t := s.t
	t.Helper()
	ctx := context.Background()
	password := "Us3r-" + username + "-password!"
	u, _, err := s.Admin.CreateUser(ctx, &model.User{Username: username, Email: email, Password: password})
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	if _, _, err := s.Admin.AddTeamMember(ctx, s.Team.Id, u.Id); err != nil {
		t.Fatalf("add %s to team: %v", username, err)
	}
	return &User{User: u, Password: password, Client: s.Login(username, password)}
}

// Login returns a client logged in as loginID.
func (s *Server) Login(loginID, password string) *model.Client4 {
	s.t.Helper()
	c := model.NewAPIv4Client(s.URL)
	if _, _, err := c.Login(context.Background(), loginID, password); err != nil {
		s.t.Fatalf("log in as %s: %v", loginID, err)
	}
	return c
}

// UserByUsername returns the user (human or bot) with that username, or nil if there is none.
func (s *Server) UserByUsername(username string) *model.User {
	s.t.Helper()
	u, resp, err := s.Local.GetUserByUsername(context.Background(), username, "")
	if resp != nil && resp.StatusCode == 404 {
		return nil
	}
	if err != nil {
		s.t.Fatalf("get user %s: %v", username, err)
	}
	return u
}

// Bot returns the bot account whose username is username, failing the test if there is no such user or it is
// not a bot.
func (s *Server) Bot(username string) *model.User {
	s.t.Helper()
	u := s.UserByUsername(username)
	if u == nil {
		s.t.Fatalf("no user named %s", username)
	}
	if !u.IsBot {
		s.t.Fatalf("user %s is not a bot", username)
	}
	return u
}

// DirectPosts returns the posts of the direct channel between the user and other, oldest first, as the user
// sees them.
func (s *Server) DirectPosts(u *User, otherID string) []*model.Post {
	s.t.Helper()
	ctx := context.Background()
	ch, _, err := u.Client.CreateDirectChannel(ctx, u.Id, otherID)
	if err != nil {
		s.t.Fatalf("open direct channel of %s: %v", u.Username, err)
	}
	list, _, err := u.Client.GetPostsForChannel(ctx, ch.Id, 0, 200, "", false, false)
	if err != nil {
		s.t.Fatalf("read direct channel of %s: %v", u.Username, err)
	}
	posts := make([]*model.Post, 0, len(list.Posts))
	for _, p := range list.Posts {
		posts = append(posts, p)
	}
	sort.Slice(posts, func(i, j int) bool { return posts[i].CreateAt < posts[j].CreateAt })
	return posts
}

// WaitDirectPosts polls the direct channel between the user and other until it holds at least n posts or
// timeout passes, and returns the posts (oldest first); the caller asserts on them.
func (s *Server) WaitDirectPosts(u *User, otherID string, n int, timeout time.Duration) []*model.Post {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		posts := s.DirectPosts(u, otherID)
		if len(posts) >= n || time.Now().After(deadline) {
			return posts
		}
		time.Sleep(200 * time.Millisecond)
	}
}
