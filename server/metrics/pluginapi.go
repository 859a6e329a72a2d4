package metrics

import (
	"io"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// MattermostAPI is the union of the plugin-API methods the delivery and attach packages use; plugin.API
// satisfies it.
type MattermostAPI interface {
	GetUser(userID string) (*model.User, *model.AppError)
	GetPreferenceForUser(userID, category, name string) (model.Preference, *model.AppError)
	GetPreferencesForUser(userID string) ([]model.Preference, *model.AppError)
	GetDirectChannel(userID1, userID2 string) (*model.Channel, *model.AppError)
	CreatePost(post *model.Post) (*model.Post, *model.AppError)
	UpdatePost(post *model.Post) (*model.Post, *model.AppError)
	GetPost(postID string) (*model.Post, *model.AppError)
	GetPostsSince(channelID string, time int64) (*model.PostList, *model.AppError)
	GetPostThread(postID string) (*model.PostList, *model.AppError)
	GetConfig() *model.Config
	UploadFile(data []byte, channelID string, filename string) (*model.FileInfo, *model.AppError)
	CreateUploadSession(us *model.UploadSession) (*model.UploadSession, error)
	UploadData(us *model.UploadSession, rd io.Reader) (*model.FileInfo, error)
	CopyFileInfos(userID string, fileIDs []string) ([]string, *model.AppError)
}

// InstrumentedAPI times and counts the calls it forwards to a MattermostAPI. It satisfies delivery.Mattermost
// and attach.Mattermost. GetConfig is forwarded untimed: it reads memory, not the server.
type InstrumentedAPI struct {
	api MattermostAPI
	m   *Metrics
}

// WrapAPI returns api instrumented; with a nil *Metrics the calls are still forwarded.
func (m *Metrics) WrapAPI(api MattermostAPI) *InstrumentedAPI {
	return &InstrumentedAPI{api: api, m: m}
}

func (a *InstrumentedAPI) observe(method string, start time.Time, failed bool) {
	if a.m == nil {
		return
	}
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	a.m.apiCalls.WithLabelValues(method, outcome).Inc()
	a.m.apiDuration.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// GetUser forwards to the plugin API.
func (a *InstrumentedAPI) GetUser(userID string) (*model.User, *model.AppError) {
	start := time.Now()
	u, err := a.api.GetUser(userID)
	a.observe("GetUser", start, err != nil)
	return u, err
}

// GetPreferenceForUser forwards to the plugin API.
func (a *InstrumentedAPI) GetPreferenceForUser(userID, category, name string) (model.Preference, *model.AppError) {
	start := time.Now()
	p, err := a.api.GetPreferenceForUser(userID, category, name)
	a.observe("GetPreferenceForUser", start, err != nil)
	return p, err
}

// GetPreferencesForUser forwards to the plugin API.
func (a *InstrumentedAPI) GetPreferencesForUser(userID string) ([]model.Preference, *model.AppError) {
	start := time.Now()
	p, err := a.api.GetPreferencesForUser(userID)
	a.observe("GetPreferencesForUser", start, err != nil)
	return p, err
}

// GetDirectChannel forwards to the plugin API.
func (a *InstrumentedAPI) GetDirectChannel(userID1, userID2 string) (*model.Channel, *model.AppError) {
	start := time.Now()
	c, err := a.api.GetDirectChannel(userID1, userID2)
	a.observe("GetDirectChannel", start, err != nil)
	return c, err
}

// CreatePost forwards to the plugin API.
func (a *InstrumentedAPI) CreatePost(post *model.Post) (*model.Post, *model.AppError) {
	start := time.Now()
	p, err := a.api.CreatePost(post)
	a.observe("CreatePost", start, err != nil)
	return p, err
}

// UpdatePost forwards to the plugin API.
func (a *InstrumentedAPI) UpdatePost(post *model.Post) (*model.Post, *model.AppError) {
	start := time.Now()
	p, err := a.api.UpdatePost(post)
	a.observe("UpdatePost", start, err != nil)
	return p, err
}

// GetPost forwards to the plugin API.
func (a *InstrumentedAPI) GetPost(postID string) (*model.Post, *model.AppError) {
	start := time.Now()
	p, err := a.api.GetPost(postID)
	a.observe("GetPost", start, err != nil)
	return p, err
}

// GetPostsSince forwards to the plugin API.
func (a *InstrumentedAPI) GetPostsSince(channelID string, since int64) (*model.PostList, *model.AppError) {
	start := time.Now()
	l, err := a.api.GetPostsSince(channelID, since)
	a.observe("GetPostsSince", start, err != nil)
	return l, err
}

// GetPostThread forwards to the plugin API.
func (a *InstrumentedAPI) GetPostThread(postID string) (*model.PostList, *model.AppError) {
	start := time.Now()
	l, err := a.api.GetPostThread(postID)
	a.observe("GetPostThread", start, err != nil)
	return l, err
}

// GetConfig forwards to the plugin API.
func (a *InstrumentedAPI) GetConfig() *model.Config { return a.api.GetConfig() }

// UploadFile forwards to the plugin API.
func (a *InstrumentedAPI) UploadFile(data []byte, channelID, filename string) (*model.FileInfo, *model.AppError) {
	start := time.Now()
	fi, err := a.api.UploadFile(data, channelID, filename)
	a.observe("UploadFile", start, err != nil)
	return fi, err
}

// CreateUploadSession forwards to the plugin API.
func (a *InstrumentedAPI) CreateUploadSession(us *model.UploadSession) (*model.UploadSession, error) {
	start := time.Now()
	s, err := a.api.CreateUploadSession(us)
	a.observe("CreateUploadSession", start, err != nil)
	return s, err
}

// UploadData forwards to the plugin API.
func (a *InstrumentedAPI) UploadData(us *model.UploadSession, rd io.Reader) (*model.FileInfo, error) {
	start := time.Now()
	fi, err := a.api.UploadData(us, rd)
	a.observe("UploadData", start, err != nil)
	return fi, err
}

// CopyFileInfos forwards to the plugin API.
func (a *InstrumentedAPI) CopyFileInfos(userID string, fileIDs []string) ([]string, *model.AppError) {
	start := time.Now()
	ids, err := a.api.CopyFileInfos(userID, fileIDs)
	a.observe("CopyFileInfos", start, err != nil)
	return ids, err
}
