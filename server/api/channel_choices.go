package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/store"
)

// ChannelChoices keeps which Teams channel messages each user hears of besides personal mentions (the choices
// of /msteams channels); *store.Store implements it.
type ChannelChoices interface {
	GetChannelChoice(ctx context.Context, mmUserID string) (store.ChannelChoice, error)
	SetChannelGroupMentions(ctx context.Context, mmUserID string, on bool) error
	SetChannelThreadReplies(ctx context.Context, mmUserID string, on bool) error
}

var _ ChannelChoices = (*store.Store)(nil)

// notConnected is the refusal of a change by a user who is not connected, in the words of the slash commands.
const notConnected = "Your account is not connected to Microsoft Teams. Run `/msteams connect` first."

func (h *handler) channelChoiceRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/me/channel-notifications", h.user(h.channelNotifications))
	mux.Handle("PUT /api/v1/me/channel-notifications", h.user(h.setChannelNotifications))
}

// channelChoice is the body of both routes. Enabled says whether the system admin turned Teams channel
// notifications on; the choices are kept either way and hold once they are.
type channelChoice struct {
	Enabled       bool `json:"enabled"`
	GroupMentions bool `json:"group_mentions"`
	ThreadReplies bool `json:"thread_replies"`
}

func (h *handler) channelsEnabled() bool {
	return h.ChannelNotificationsOn != nil && h.ChannelNotificationsOn()
}

func (h *handler) channelNotifications(w http.ResponseWriter, r *http.Request) {
	c, err := h.Channels.GetChannelChoice(r.Context(), userID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, channelChoice{Enabled: h.channelsEnabled(), GroupMentions: c.GroupMentions, ThreadReplies: c.ThreadReplies})
}

// setChannelNotifications changes the choices named in the body; a field left out keeps its value.
func (h *handler) setChannelNotifications(w http.ResponseWriter, r *http.Request) {
	var body struct {
		GroupMentions *bool `json:"group_mentions"`
		ThreadReplies *bool `json:"thread_replies"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || (body.GroupMentions == nil && body.ThreadReplies == nil) {
		writeError(w, http.StatusBadRequest, `The body must be JSON like {"group_mentions": true} or {"thread_replies": false}, with one or both of them.`)
		return
	}
	ctx, mmUserID := r.Context(), userID(r)
	// The store keeps the choices of a user who disconnected (they hold again after a reconnect), so the
	// connection is checked here, as for the message mode.
	status, err := h.Connections.Status(ctx, mmUserID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !status.Connected {
		writeError(w, http.StatusConflict, notConnected)
		return
	}
	if body.GroupMentions != nil {
		err = h.Channels.SetChannelGroupMentions(ctx, mmUserID, *body.GroupMentions)
	}
	if err == nil && body.ThreadReplies != nil {
		err = h.Channels.SetChannelThreadReplies(ctx, mmUserID, *body.ThreadReplies)
	}
	if errors.Is(err, store.ErrNotFound) {
		// The user's row is gone (deleted since the status was read).
		writeError(w, http.StatusConflict, notConnected)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.channelNotifications(w, r)
}
