package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/mute"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Muting is what a user chose to hear from Teams (package mute): muted chats and the message mode.
type Muting interface {
	Mute(ctx context.Context, mmUserID, chatID string) (store.MutedChat, error)
	Unmute(ctx context.Context, mmUserID, chatID string) (bool, error)
	Muted(ctx context.Context, mmUserID string) ([]store.MutedChat, error)
	Mode(ctx context.Context, mmUserID string) (store.MessageMode, error)
	SetMode(ctx context.Context, mmUserID string, mode store.MessageMode) error
}

var _ Muting = (*mute.Service)(nil)

func (h *handler) muteRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/me/muted-chats", h.user(h.mutedChats))
	mux.Handle("PUT /api/v1/me/muted-chats/{chatID}", h.user(h.muteChat))
	mux.Handle("DELETE /api/v1/me/muted-chats/{chatID}", h.user(h.unmuteChat))
	mux.Handle("GET /api/v1/me/message-mode", h.user(h.messageMode))
	mux.Handle("PUT /api/v1/me/message-mode", h.user(h.setMessageMode))
}

type mutedChat struct {
	ChatID  string    `json:"chat_id"`
	Title   string    `json:"title"`
	MutedAt time.Time `json:"muted_at"`
}

func toMutedChat(c store.MutedChat) mutedChat {
	return mutedChat{ChatID: c.ChatID, Title: c.Title, MutedAt: c.MutedAt.UTC()}
}

func (h *handler) mutedChats(w http.ResponseWriter, r *http.Request) {
	chats, err := h.Muting.Muted(r.Context(), userID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]mutedChat, 0, len(chats))
	for _, c := range chats {
		out = append(out, toMutedChat(c))
	}
	writeJSON(w, http.StatusOK, map[string][]mutedChat{"chats": out})
}

func (h *handler) muteChat(w http.ResponseWriter, r *http.Request) {
	c, err := h.Muting.Mute(r.Context(), userID(r), r.PathValue("chatID"))
	if h.muteRefused(w, err) {
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMutedChat(c))
}

// muteRefused answers the refusals the user can act on, in the words of the slash command.
func (h *handler) muteRefused(w http.ResponseWriter, err error) bool {
	sentence, ok := mute.Explain(err)
	if !ok {
		return false
	}
	status := http.StatusConflict
	switch {
	case errors.Is(err, mute.ErrNotMember):
		status = http.StatusNotFound
	case errors.Is(err, mute.ErrUnavailable):
		status = http.StatusServiceUnavailable
	}
	writeError(w, status, sentence)
	return true
}

func (h *handler) unmuteChat(w http.ResponseWriter, r *http.Request) {
	ok, err := h.Muting.Unmute(r.Context(), userID(r), r.PathValue("chatID"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"unmuted": ok})
}

func (h *handler) messageMode(w http.ResponseWriter, r *http.Request) {
	mode, err := h.Muting.Mode(r.Context(), userID(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"mode": string(mode)})
}

func (h *handler) setMessageMode(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mode store.MessageMode `json:"mode"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || !body.Mode.Valid() {
		writeError(w, http.StatusBadRequest, `The body must be JSON like {"mode": "all"} or {"mode": "mentions"}.`)
		return
	}
	err := h.Muting.SetMode(r.Context(), userID(r), body.Mode)
	if h.muteRefused(w, err) {
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"mode": string(body.Mode)})
}
