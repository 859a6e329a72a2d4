package graph

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetChatKeepsMemberUserIDsNotMembershipIDs(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.handle("GET /chats/19:g@thread.v2", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "members", r.URL.Query().Get("$expand"))
		writeRaw(w, http.StatusOK, `{"id":"19:g@thread.v2","chatType":"group","topic":"Launch","webUrl":"https://teams.test/c",
			"members":[
			 {"@odata.type":"#microsoft.graph.aadUserConversationMember","id":"MCMjMSMj-membership","displayName":"Jane","roles":["owner"],"userId":"u-jane","email":"jane@contoso.com","tenantId":"t-1"},
			 {"@odata.type":"#microsoft.graph.aadUserConversationMember","id":"MCMjMiMj-membership","displayName":"Guest","roles":["guest"],"userId":"u-guest","email":null,"tenantId":"t-2"}
			]}`)
	})
	chat, err := cloud.factory(Options{}).App().GetChat(context.Background(), "19:g@thread.v2")
	require.NoError(t, err)
	assert.Equal(t, Chat{ID: "19:g@thread.v2", Type: "group", Topic: "Launch", WebURL: "https://teams.test/c", Members: []ChatMember{
		{UserID: "u-jane", DisplayName: "Jane", Email: "jane@contoso.com", Roles: []string{"owner"}, TenantID: "t-1"},
		{UserID: "u-guest", DisplayName: "Guest", Roles: []string{"guest"}, TenantID: "t-2"},
	}}, chat)
}

func TestGetMessageFillsChatID(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.handle("GET /chats/19:g@thread.v2/messages/17", func(w http.ResponseWriter, _ *http.Request) {
		writeRaw(w, http.StatusOK, `{"id":"17","messageType":"message","body":{"contentType":"text","content":"hi"}}`)
	})
	msg, err := cloud.factory(Options{}).App().GetMessage(context.Background(), "19:g@thread.v2", "17")
	require.NoError(t, err)
	assert.Equal(t, "19:g@thread.v2", msg.ChatID)
	assert.Equal(t, "hi", msg.BodyHTML)
}

func TestListMessagesSinceFollowsNextLinksAndReturnsOldestFirst(t *testing.T) {
	cloud := newFakeCloud(t)
	since := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	cloud.handle("GET /chats/19:g@thread.v2/messages", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("page") == "2" {
			// An item at the boundary, as Graph returns when it ignores the filter, must be dropped.
			writeRaw(w, http.StatusOK, `{"value":[
				{"id":"2","lastModifiedDateTime":"2026-11-27T09:05:00Z"},
				{"id":"0","lastModifiedDateTime":"2026-11-27T09:00:00Z"}]}`)
			return
		}
		assert.Equal(t, "50", q.Get("$top"))
		assert.Equal(t, "lastModifiedDateTime desc", q.Get("$orderby"))
		assert.Equal(t, "lastModifiedDateTime gt 2026-11-27T09:00:00.000Z", q.Get("$filter"))
		writeJSON(w, http.StatusOK, map[string]any{
			"value": []any{
				map[string]any{"id": "4", "lastModifiedDateTime": "2026-11-27T09:30:00Z"},
				map[string]any{"id": "3", "lastModifiedDateTime": "2026-11-27T09:10:00Z"},
			},
			"@odata.nextLink": cloud.baseURL() + "/v1.0/chats/19:g@thread.v2/messages?page=2",
		})
	})
	msgs, err := cloud.factory(Options{}).App().ListMessagesSince(context.Background(), "19:g@thread.v2", since)
	require.NoError(t, err)
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
		assert.Equal(t, "19:g@thread.v2", m.ChatID)
	}
	assert.Equal(t, []string{"2", "3", "4"}, ids)
}

func TestGetPresencesBatchesAt650(t *testing.T) {
	cloud := newFakeCloud(t)
	var mu sync.Mutex
	var batchSizes []int
	cloud.handle("POST /communications/getPresencesByUserId", func(w http.ResponseWriter, r *http.Request) {
		body := readRequestJSON(t, r)
		ids, _ := body["ids"].([]any)
		mu.Lock()
		batchSizes = append(batchSizes, len(ids))
		mu.Unlock()
		var value []any
		for _, id := range ids {
			value = append(value, map[string]any{"id": id, "availability": "Away", "activity": "Away",
				"outOfOfficeSettings": map[string]any{"message": nil, "isOutOfOffice": id == "u-0"}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": value})
	})
	ids := make([]string, 651)
	for i := range ids {
		ids[i] = fmt.Sprintf("u-%d", i)
	}
	presences, err := cloud.factory(Options{}).App().GetPresences(context.Background(), ids)
	require.NoError(t, err)
	assert.Equal(t, []int{650, 1}, batchSizes)
	require.Len(t, presences, 651)
	assert.Equal(t, Presence{UserID: "u-0", Availability: "Away", Activity: "Away", OutOfOffice: true}, presences[0])
	assert.Equal(t, "u-650", presences[650].UserID)

	none, err := cloud.factory(Options{}).App().GetPresences(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestGetHostedContentKeepsContentType(t *testing.T) {
	cloud := newFakeCloud(t)
	png := []byte("\x89PNG\r\n\x1a\nfake")
	cloud.handle("GET /chats/19:g@thread.v2/messages/17/hostedContents/aWQ=/$value", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})
	client := cloud.factory(Options{MaxRetries: -1}).App()
	hc, err := client.GetHostedContent(context.Background(), "19:g@thread.v2", "17", "aWQ=", 1<<20)
	require.NoError(t, err)
	assert.Equal(t, HostedContent{Data: png, ContentType: "image/png"}, hc)

	_, err = client.GetHostedContent(context.Background(), "19:g@thread.v2", "17", "aWQ=", 4)
	assert.ErrorContains(t, err, "exceeds the limit")

	_, err = client.GetHostedContent(context.Background(), "19:g@thread.v2", "17", "missing", 1<<20)
	assert.True(t, IsNotFound(err), "%v", err)
	assert.ErrorContains(t, err, "get hosted content: graph failed with status 404 (NotFound)")
}

func TestSharedFileResolvesAndDownloadsWithoutAGraphToken(t *testing.T) {
	cloud := newFakeCloud(t)
	shareURL := "https://contoso.sharepoint.com/sites/x/Shared Documents/report.docx"
	encoded := "u!" + base64.RawURLEncoding.EncodeToString([]byte(shareURL))
	cloud.handle("GET /shares/"+encoded+"/driveItem", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": "item-1", "name": "report.docx", "size": 11, "webUrl": shareURL,
			"file":                         map[string]any{"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
			"@microsoft.graph.downloadUrl": cloud.baseURL() + "/download/report?tempauth=secret-token",
		})
	})
	var downloadAuth []string
	var mu sync.Mutex
	// The download URL lives outside /v1.0, so the fake Graph's bearer check does not apply; record what came.
	cloud.handleOutside("/download/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		downloadAuth = append(downloadAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Query().Get("tempauth") != "secret-token" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("hello world"))
	})

	client := cloud.factory(Options{}).App()
	item, err := client.GetDriveItemByShareURL(context.Background(), shareURL)
	require.NoError(t, err)
	assert.Equal(t, DriveItem{ID: "item-1", Name: "report.docx", Size: 11, WebURL: shareURL,
		MimeType:    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		DownloadURL: cloud.baseURL() + "/download/report?tempauth=secret-token"}, item)

	data, ct, err := client.Download(context.Background(), item.DownloadURL, 100)
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(data))
	assert.Equal(t, "application/octet-stream", ct)
	assert.Equal(t, []string{""}, downloadAuth, "a pre-authenticated URL must not receive the Graph token")

	_, _, err = client.Download(context.Background(), item.DownloadURL, 5)
	assert.ErrorContains(t, err, "exceeds the limit")
	_, _, err = client.Download(context.Background(), cloud.baseURL()+"/download/report?tempauth=wrong", 100)
	assert.True(t, IsForbidden(err))

	_, _, err = client.Download(context.Background(), "https://127.0.0.1:1/download?tempauth=secret-token", 100)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret-token", "transport errors must not carry the pre-authenticated URL")
}

func TestSubscriptionLifecycle(t *testing.T) {
	cloud := newFakeCloud(t)
	expires := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	subJSON := func(id string, exp time.Time) map[string]any {
		return map[string]any{
			"id": id, "resource": "/chats/getAllMessages", "changeType": "created,updated,deleted",
			"notificationUrl": "https://mm.test/changes", "lifecycleNotificationUrl": "https://mm.test/lifecycle",
			"expirationDateTime": exp.Format(time.RFC3339), "includeResourceData": true, "encryptionCertificateId": "cert-1",
			"applicationId": testClient, "creatorId": "creator", "clientState": "webhook-secret",
		}
	}
	cloud.handle("POST /subscriptions", func(w http.ResponseWriter, r *http.Request) {
		body := readRequestJSON(t, r)
		assert.Equal(t, "/chats/getAllMessages", body["resource"])
		assert.Equal(t, "created,updated,deleted", body["changeType"])
		assert.Equal(t, "https://mm.test/changes", body["notificationUrl"])
		assert.Equal(t, "https://mm.test/lifecycle", body["lifecycleNotificationUrl"])
		assert.Equal(t, "webhook-secret", body["clientState"])
		assert.Equal(t, true, body["includeResourceData"])
		assert.Equal(t, "MIIB", body["encryptionCertificate"])
		assert.Equal(t, "cert-1", body["encryptionCertificateId"])
		assert.Equal(t, "2026-11-27T12:00:00Z", body["expirationDateTime"])
		writeJSON(w, http.StatusCreated, subJSON("sub-1", expires))
	})
	cloud.handle("PATCH /subscriptions/sub-1", func(w http.ResponseWriter, r *http.Request) {
		body := readRequestJSON(t, r)
		assert.Equal(t, map[string]any{"expirationDateTime": "2026-11-28T12:00:00Z"}, body)
		writeJSON(w, http.StatusOK, subJSON("sub-1", expires.Add(24*time.Hour)))
	})
	cloud.handle("GET /subscriptions/sub-1", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, subJSON("sub-1", expires))
	})
	cloud.handle("POST /subscriptions/sub-1/reauthorize", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	cloud.handle("DELETE /subscriptions/sub-1", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	cloud.handle("DELETE /subscriptions/gone", func(w http.ResponseWriter, _ *http.Request) {
		writeODataError(w, http.StatusNotFound, "ResourceNotFound", "gone")
	})
	cloud.handle("GET /subscriptions", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			writeJSON(w, http.StatusOK, map[string]any{"value": []any{subJSON("sub-2", expires)}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{subJSON("sub-1", expires)}, "@odata.nextLink": cloud.baseURL() + "/v1.0/subscriptions?page=2"})
	})

	client := cloud.factory(Options{}).App()
	ctx := context.Background()
	want := Subscription{ID: "sub-1", Resource: "/chats/getAllMessages", ChangeType: "created,updated,deleted",
		NotificationURL: "https://mm.test/changes", LifecycleNotificationURL: "https://mm.test/lifecycle",
		ExpiresAt: expires, IncludeResourceData: true, EncryptionCertificateID: "cert-1", ApplicationID: testClient, CreatorID: "creator"}

	created, err := client.CreateSubscription(ctx, SubscriptionRequest{
		Resource: "/chats/getAllMessages", ChangeType: "created,updated,deleted",
		NotificationURL: "https://mm.test/changes", LifecycleNotificationURL: "https://mm.test/lifecycle",
		ClientState: "webhook-secret", ExpiresAt: expires.In(time.FixedZone("x", 3600)),
		IncludeResourceData: true, EncryptionCertificate: "MIIB", EncryptionCertificateID: "cert-1",
	})
	require.NoError(t, err)
	assert.Equal(t, want, created)

	renewed, err := client.RenewSubscription(ctx, "sub-1", expires.Add(24*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, expires.Add(24*time.Hour), renewed.ExpiresAt)

	got, err := client.GetSubscription(ctx, "sub-1")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	require.NoError(t, client.ReauthorizeSubscription(ctx, "sub-1"))
	require.NoError(t, client.DeleteSubscription(ctx, "sub-1"))
	require.NoError(t, client.DeleteSubscription(ctx, "gone"), "deleting what is already gone succeeds")

	_, err = client.GetSubscription(ctx, "missing")
	assert.True(t, IsNotFound(err))

	all, err := client.ListSubscriptions(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "sub-2", all[1].ID)
}

func TestGetAllMessagesDeltaPages(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.handle("GET /users/u-1/chats/getAllMessages/delta", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("$skiptoken") == "p2":
			writeJSON(w, http.StatusOK, map[string]any{
				"value":            []any{map[string]any{"id": "2", "chatId": "19:b@thread.v2"}},
				"@odata.deltaLink": cloud.baseURL() + "/v1.0/users/u-1/chats/getAllMessages/delta?$deltatoken=d1",
			})
		default:
			writeJSON(w, http.StatusOK, map[string]any{
				"value":           []any{map[string]any{"id": "1", "chatId": "19:a@thread.v2", "body": map[string]any{"contentType": "text", "content": "x"}}},
				"@odata.nextLink": cloud.baseURL() + "/v1.0/users/u-1/chats/getAllMessages/delta?$skiptoken=p2",
			})
		}
	})
	client := cloud.factory(Options{}).App()
	first, err := client.GetAllMessagesDelta(context.Background(), "u-1", "")
	require.NoError(t, err)
	assert.Equal(t, "19:a@thread.v2", first.Messages[0].ChatID)
	assert.Empty(t, first.DeltaLink)
	require.NotEmpty(t, first.NextLink)

	second, err := client.GetAllMessagesDelta(context.Background(), "u-1", first.NextLink)
	require.NoError(t, err)
	assert.Equal(t, "2", second.Messages[0].ID)
	assert.Empty(t, second.NextLink)
	assert.Equal(t, cloud.baseURL()+"/v1.0/users/u-1/chats/getAllMessages/delta?$deltatoken=d1", second.DeltaLink)
}

func TestApplicationSecretExpiryMatchesTheConfiguredSecretByHint(t *testing.T) {
	cloud := newFakeCloud(t)
	cloud.handle("GET /applications(appId='"+testClient+"')", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": "obj-1", "appId": testClient, "passwordCredentials": []any{
			map[string]any{"keyId": "0c9d0b4e-1a6b-4b8e-9f52-3d2c1b0a9f8e", "displayName": "old", "hint": "Abc", "endDateTime": "2026-12-01T00:00:00Z", "secretText": nil},
			map[string]any{"keyId": "1c9d0b4e-1a6b-4b8e-9f52-3d2c1b0a9f8e", "displayName": "current", "hint": testSecret[:3], "startDateTime": "2026-06-01T00:00:00Z", "endDateTime": "2027-06-01T00:00:00Z"},
		}})
	})
	client := cloud.factory(Options{}).App()
	secrets, err := client.ApplicationSecrets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, PasswordCredential{KeyID: "1c9d0b4e-1a6b-4b8e-9f52-3d2c1b0a9f8e", DisplayName: "current", Hint: "Xyz",
		StartsAt: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)}, secrets[1])

	expiry, err := client.GetApplicationSecretExpiry(context.Background())
	require.NoError(t, err)
	assert.Equal(t, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), expiry)

	client.secretHint = "Qqq"
	_, err = client.GetApplicationSecretExpiry(context.Background())
	assert.ErrorIs(t, err, ErrSecretNotListed)
}
