package changes_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// channelSub is a rich /teams/getAllMessages subscription as the plugin makes it.
func channelSub(e *simEnv, wh *webhook, der []byte) models.Subscriptionable {
	sub := models.NewSubscription()
	sub.SetChangeType(ptr("created,updated,deleted"))
	sub.SetResource(ptr("/teams/getAllMessages"))
	sub.SetNotificationUrl(ptr(wh.srv.URL + "/changes"))
	sub.SetLifecycleNotificationUrl(ptr(wh.srv.URL + "/lifecycle"))
	sub.SetExpirationDateTime(ptr(e.clock.Now().Add(2 * time.Hour)))
	sub.SetClientState(ptr("cs-channels"))
	sub.SetIncludeResourceData(ptr(true))
	sub.SetEncryptionCertificate(ptr(base64.StdEncoding.EncodeToString(der)))
	sub.SetEncryptionCertificateId(ptr("mm-key-1"))
	return sub
}

func TestSDKChannelMessageSubscriptionGetsRichNotifications(t *testing.T) {
	e := newSimEnv(t)
	require.NoError(t, e.sim.SetAppRoles(simClient, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	team, err := e.sim.CreateTeam(graphsim.TeamSpec{DisplayName: "Contoso", Owners: []string{alice}, Members: []string{bob}})
	require.NoError(t, err)
	channel, err := e.sim.CreateChannel(team, graphsim.ChannelSpec{DisplayName: "Releases"})
	require.NoError(t, err)
	tag, err := e.sim.CreateTag(team, graphsim.TagSpec{DisplayName: "Oncall", Members: []string{bob}})
	require.NoError(t, err)
	wh := newWebhook(t)
	key, der := selfSignedCert(t)
	ctx := context.Background()

	created, err := e.client.Subscriptions().Post(ctx, channelSub(e, wh, der), nil)
	require.NoError(t, err)
	assert.Equal(t, "/teams/getAllMessages", *created.GetResource())

	// A chat message is not a channel message: only the channel post and its reply are notified.
	_, err = e.sim.SendMessage(e.chat, graphsim.NewMessage{From: alice, HTML: "<p>in a chat</p>"})
	require.NoError(t, err)
	root, err := e.sim.SendChannelMessage(team, channel, graphsim.NewMessage{From: alice, HTML: `<p><at id="0">Oncall</at> hello</p>`,
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "Oncall", TagID: tag}}})
	require.NoError(t, err)
	reply, err := e.sim.ReplyChannelMessage(team, channel, root, graphsim.NewMessage{From: bob, HTML: "<p>on it</p>"})
	require.NoError(t, err)
	require.NoError(t, e.sim.DeleteChannelMessage(team, channel, reply))

	type item struct {
		ChangeType       string `json:"changeType"`
		ClientState      string `json:"clientState"`
		Resource         string `json:"resource"`
		EncryptedContent struct {
			Data, DataSignature, DataKey string
		} `json:"encryptedContent"`
	}
	var items []item
	for len(items) < 3 {
		var payload struct {
			Value []item `json:"value"`
		}
		require.NoError(t, json.Unmarshal(wh.next(t), &payload))
		items = append(items, payload.Value...)
	}
	require.Len(t, items, 3)
	prefix := "teams('" + team + "')/channels('" + channel + "')/messages('" + root + "')"
	assert.Equal(t, prefix, items[0].Resource)
	assert.Equal(t, prefix+"/replies('"+reply+"')", items[1].Resource)
	assert.Equal(t, "deleted", items[2].ChangeType)
	assert.Equal(t, "cs-channels", items[0].ClientState)

	var msg struct {
		ID              string `json:"id"`
		ReplyToID       any    `json:"replyToId"`
		ChannelIdentity struct {
			TeamID, ChannelID string
		} `json:"channelIdentity"`
		Mentions []struct {
			Mentioned struct {
				Tag struct{ ID string } `json:"tag"`
			} `json:"mentioned"`
		} `json:"mentions"`
	}
	ec := items[0].EncryptedContent
	require.NoError(t, json.Unmarshal(decrypt(t, key, ec.Data, ec.DataSignature, ec.DataKey), &msg))
	assert.Equal(t, root, msg.ID)
	assert.Nil(t, msg.ReplyToID)
	assert.Equal(t, team, msg.ChannelIdentity.TeamID)
	assert.Equal(t, channel, msg.ChannelIdentity.ChannelID)
	require.Len(t, msg.Mentions, 1)
	assert.Equal(t, tag, msg.Mentions[0].Mentioned.Tag.ID)

	ec = items[1].EncryptedContent
	require.NoError(t, json.Unmarshal(decrypt(t, key, ec.Data, ec.DataSignature, ec.DataKey), &msg))
	assert.Equal(t, reply, msg.ID)
	assert.Equal(t, root, msg.ReplyToID)
}

func TestSDKChannelSubscriptionNeedsChannelMessageReadAll(t *testing.T) {
	e := newSimEnv(t) // Chat.Read.All only
	wh := newWebhook(t)
	_, der := selfSignedCert(t)
	_, err := e.client.Subscriptions().Post(context.Background(), channelSub(e, wh, der), nil)
	var odataErr *odataerrors.ODataError
	require.ErrorAs(t, err, &odataErr)
	assert.Equal(t, http.StatusForbidden, odataErr.ResponseStatusCode)
}
