package changes

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	team1    = "5c7a9f1e-0000-4000-8000-0000000000t1"
	channel1 = "19:c0ffee@thread.tacv2"
)

func channelEvent(changeType, msgID, replyTo string) Event {
	return Event{ChangeType: changeType, TenantID: tenantA, TeamID: team1, ChannelID: channel1, MessageID: msgID, ReplyToID: replyTo, SenderUserID: userU}
}

func TestTeamsGetAllMessagesSubscriptionRules(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		resource   string
		wantStatus int
		wantReason string
	}{
		{"app with ChannelMessage.Read.All", "app-channel", "/teams/getAllMessages", http.StatusCreated, ""},
		{"OData key-less form with model", "app-channel", "teams/getAllMessages?model=B", http.StatusCreated, ""},
		{"app with only Chat.Read.All", "app", "/teams/getAllMessages", http.StatusForbidden, "ChannelMessage.Read.All"},
		{"delegated token", "user-channel", "/teams/getAllMessages", http.StatusForbidden, "only supported with application permissions"},
		{"Chat.Read.All does not need ChannelMessage.Read.All", "app-channel", "/chats/getAllMessages", http.StatusForbidden, "Chat.Read.All"},
		{"one channel, app", "app-channel", "/teams/" + team1 + "/channels/" + url.PathEscape(channel1) + "/messages", http.StatusCreated, ""},
		{"one channel, OData keys, delegated", "user-channel", "teams('" + team1 + "')/channels('" + channel1 + "')/messages", http.StatusCreated, ""},
		{"one channel without the permission", "app", "/teams/" + team1 + "/channels/" + channel1 + "/messages", http.StatusForbidden, "ChannelMessage.Read.All"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			rcv := newReceiver(t)
			b := h.subBodyFor(rcv)
			b["resource"] = tc.resource
			status, resp := h.create(t, tc.token, b)
			require.Equal(t, tc.wantStatus, status, resp)
			if tc.wantReason != "" {
				_, msg := errorOf(t, resp)
				assert.Contains(t, msg, tc.wantReason)
			}
		})
	}
}

func TestChannelMessagesReachOnlyTeamsSubscriptions(t *testing.T) {
	h := newHarness(t)
	chats, teams := newReceiver(t), newReceiver(t)
	h.mustCreate(t, "app", h.subBodyFor(chats))
	tb := h.subBodyFor(teams)
	tb["resource"] = "/teams/getAllMessages"
	h.mustCreate(t, "app-channel", tb)

	h.m.Publish(channelEvent("created", "1700000000001", ""))
	h.m.Publish(channelEvent("updated", "1700000000002", "1700000000001"))
	h.m.Publish(msgEvent("created", chat1, "1700000000003", userU))

	items := teams.nextItems(t, 2)
	assert.Equal(t, "teams('"+team1+"')/channels('"+channel1+"')/messages('1700000000001')", items[0].Resource)
	assert.Equal(t, "created", items[0].ChangeType)
	require.NotNil(t, items[0].ResourceData)
	assert.Equal(t, "#Microsoft.Graph.chatMessage", items[0].ResourceData.ODataType)
	assert.Equal(t, items[0].Resource, items[0].ResourceData.ODataID)
	assert.Equal(t, "teams('"+team1+"')/channels('"+channel1+"')/messages('1700000000001')/replies('1700000000002')", items[1].Resource)
	assert.Equal(t, "1700000000002", items[1].ResourceData.ID)

	got := chats.nextItems(t, 1)
	assert.Equal(t, "chats('"+chat1+"')/messages('1700000000003')", got[0].Resource)
	select {
	case p := <-chats.posts:
		t.Fatalf("a chat subscription got a channel message: %s", p.raw)
	case p := <-teams.posts:
		t.Fatalf("a teams subscription got a chat message: %s", p.raw)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestChannelRichNotificationDecrypts(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	b := richBody(h, rcv, certB64())
	b["resource"] = "/teams/getAllMessages"
	h.mustCreate(t, "app-channel", b)
	path := "teams('" + team1 + "')/channels('" + channel1 + "')/messages('1700000000001')/replies('1700000000002')"
	h.setResource(path, `{"id":"1700000000002","replyToId":"1700000000001","channelIdentity":{"teamId":"`+team1+`","channelId":"`+channel1+`"}}`)
	h.m.Publish(channelEvent("created", "1700000000002", "1700000000001"))

	n := rcv.nextItems(t, 1)[0]
	plain, _ := decryptItem(t, n, subKey)
	var msg struct {
		ID        string `json:"id"`
		ReplyToID string `json:"replyToId"`
	}
	require.NoError(t, json.Unmarshal(plain, &msg))
	assert.Equal(t, "1700000000002", msg.ID)
	assert.Equal(t, "1700000000001", msg.ReplyToID)
}

func TestChannelSubscriptionLifecycle(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	b := h.subBodyFor(rcv)
	b["resource"] = "/teams/getAllMessages"
	id := h.mustCreate(t, "app-channel", b)
	require.NoError(t, h.m.FireLifecycle(id, LifecycleReauthorizationRequired))
	p := rcv.next(t)
	require.Len(t, p.Value, 1)
	assert.Equal(t, LifecycleReauthorizationRequired, p.Value[0].LifecycleEvent)
	assert.Equal(t, "/lifecycle", p.path)

	b["expirationDateTime"] = h.in(4321 * time.Minute)
	status, resp := h.create(t, "app-channel", b)
	assert.Equal(t, http.StatusBadRequest, status, resp)
	delete(b, "lifecycleNotificationUrl")
	b["expirationDateTime"] = h.in(2 * time.Hour)
	status, resp = h.create(t, "app-channel", b)
	assert.Equal(t, http.StatusBadRequest, status, "more than an hour needs a lifecycle URL: %v", resp)
}

func TestChannelLevelSubscriptionSeesOnlyItsChannel(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	b := h.subBodyFor(rcv)
	b["resource"] = "/teams/" + team1 + "/channels/" + channel1 + "/messages"
	h.mustCreate(t, "app-channel", b)
	other := channelEvent("created", "1700000000009", "")
	other.ChannelID = "19:other@thread.tacv2"
	h.m.Publish(other)
	h.m.Publish(msgEvent("created", chat1, "1700000000008", userU))
	h.m.Publish(channelEvent("created", "1700000000010", "1700000000001"))
	items := rcv.nextItems(t, 1)
	assert.Equal(t, "teams('"+team1+"')/channels('"+channel1+"')/messages('1700000000001')/replies('1700000000010')", items[0].Resource)
	select {
	case p := <-rcv.posts:
		t.Fatalf("unexpected notification: %s", p.raw)
	case <-time.After(200 * time.Millisecond):
	}
}
