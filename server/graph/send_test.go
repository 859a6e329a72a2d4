package graph

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSendChatMessageWithMentionAndImageAsTheUser(t *testing.T) {
	e := newSimEnv(t, Options{})
	alice, _ := e.signIn(t, aliceID)
	ctx := context.Background()

	id, err := alice.SendChatMessage(ctx, e.group, OutgoingMessage{
		HTML:     `<p>Hi <at id="0">Bob Brown</at></p><p><img src="../hostedContents/1/$value" alt="x"></p>`,
		Mentions: []OutgoingMention{{ID: 0, TeamsUserID: bobID, DisplayName: "Bob Brown"}},
		Hosted:   []OutgoingHostedContent{{TempID: "1", ContentType: "image/png", Bytes: []byte("\x89PNG fake")}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, id)

	raw, ok := e.sim.MessageJSON(e.group, id)
	require.True(t, ok)
	var m struct {
		From struct {
			User struct{ ID string } `json:"user"`
		} `json:"from"`
		Body struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		Mentions []struct {
			ID        int `json:"id"`
			Mentioned struct {
				User struct{ ID string } `json:"user"`
			} `json:"mentioned"`
		} `json:"mentions"`
	}
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, aliceID, m.From.User.ID, "sent as the signed-in user")
	assert.Equal(t, "html", m.Body.ContentType)
	assert.Contains(t, m.Body.Content, `<at id="0">Bob Brown</at>`)
	assert.Contains(t, m.Body.Content, "hostedContents/", "the image is hosted with the message")
	require.Len(t, m.Mentions, 1)
	assert.Equal(t, bobID, m.Mentions[0].Mentioned.User.ID)

	require.NoError(t, alice.SetReaction(ctx, e.group, id, "👍"))
	raw, _ = e.sim.MessageJSON(e.group, id)
	assert.Contains(t, string(raw), "👍")
	require.NoError(t, alice.UnsetReaction(ctx, e.group, id, "👍"))
	raw, _ = e.sim.MessageJSON(e.group, id)
	assert.NotContains(t, string(raw), "👍")
}

func TestSendChatMessageErrorsKeepTheirStatus(t *testing.T) {
	e := newSimEnv(t, Options{})
	carol, _ := e.signIn(t, carolID)
	ctx := context.Background()

	_, err := carol.SendChatMessage(ctx, e.dm, OutgoingMessage{HTML: "<p>hi</p>"})
	require.Error(t, err)
	assert.True(t, IsForbidden(err) || IsNotFound(err), "carol is not in the 1:1 chat: %v", err)

	require.NoError(t, e.sim.SetDelegatedScopes(simClient, []string{"User.Read", "Chat.Read", "offline_access", "openid", "profile"}))
	bob, _ := e.signIn(t, bobID)
	_, err = bob.SendChatMessage(ctx, e.dm, OutgoingMessage{HTML: "<p>hi</p>"})
	assert.True(t, IsForbidden(err), "no ChatMessage.Send: %v", err)
}

func TestRegistrationAllowsSendFollowsTheRegistration(t *testing.T) {
	e := newSimEnv(t, Options{})
	ctx := context.Background()
	ok, err := e.factory.App().RegistrationAllowsSend(ctx)
	require.NoError(t, err)
	assert.True(t, ok, "graphsim's default registration has ChatMessage.Send")

	require.NoError(t, e.sim.SetDelegatedScopes(simClient, []string{"User.Read", "Chat.Read"}))
	ok, err = e.factory.App().RegistrationAllowsSend(ctx)
	require.NoError(t, err)
	assert.False(t, ok)
}
