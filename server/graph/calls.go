package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/applicationswithappid"
	"github.com/microsoftgraph/msgraph-sdk-go/chats"
	"github.com/microsoftgraph/msgraph-sdk-go/communications"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/shares"
	"github.com/microsoftgraph/msgraph-sdk-go/subscriptions"
	"github.com/pkg/errors"
)

// MaxPresenceIDs is how many users one getPresencesByUserId request may name.
const MaxPresenceIDs = 650

// maxListPages bounds how far ListMessagesSince follows nextLinks (50 messages a page), so that a chat with an
// enormous backlog cannot keep one catch-up call busy forever.
const maxListPages = 40

// ErrSecretNotListed means none of the app registration's client secrets has the hint of the configured one.
var ErrSecretNotListed = errors.New("the configured client secret is not among the app registration's secrets")

// Client makes the plugin's Graph calls as the app or as one user, depending on how the Factory built it.
//
// It builds the request builders of the few msgraph-sdk-go subpackages it needs directly, the way the SDK's
// GraphServiceClient does (path parameters holding "baseurl"), instead of importing the SDK's root package, which
// links every request builder of Graph and makes a cold build of the plugin take minutes.
type Client struct {
	adapter    abstractions.RequestAdapter
	pathParams map[string]string // {"baseurl": adapter's base URL}; read-only, the builders copy it
	httpClient *http.Client      // with Graph middleware; for raw Graph calls
	download   *http.Client      // without credentials; for pre-authenticated URLs

	// Set on the app client only.
	clientID   string
	secretHint string
}

// The request builders of the root collections, as GraphServiceClient.Chats() etc. would return them.
func (c *Client) chats() *chats.ChatsRequestBuilder {
	return chats.NewChatsRequestBuilderInternal(c.pathParams, c.adapter)
}

func (c *Client) communications() *communications.CommunicationsRequestBuilder {
	return communications.NewCommunicationsRequestBuilderInternal(c.pathParams, c.adapter)
}

func (c *Client) shares() *shares.SharesRequestBuilder {
	return shares.NewSharesRequestBuilderInternal(c.pathParams, c.adapter)
}

func (c *Client) subscriptions() *subscriptions.SubscriptionsRequestBuilder {
	return subscriptions.NewSubscriptionsRequestBuilderInternal(c.pathParams, c.adapter)
}

// URL templates of GET /me and GET /users/{id}. The SDK's users package (10 MB of generated code) is not imported
// for two GETs; its Me() builder requests /users/me-token-to-replace, which the URL-replace middleware turns into
// /me, so asking for /me directly puts the same request on the wire.
const (
	meURLTemplate   = "{+baseurl}/me{?%24expand,%24select}"
	userURLTemplate = "{+baseurl}/users/{user%2Did}{?%24expand,%24select}"
)

// userGetQuery is users.UserItemRequestBuilderGetQueryParameters.
type userGetQuery struct {
	Expand []string `uriparametername:"%24expand"`
	Select []string `uriparametername:"%24select"`
}

// userSelect are the user properties the plugin reads.
var userSelect = []string{"id", "displayName", "mail", "userPrincipalName", "proxyAddresses"}

// getUser sends what users.UserItemRequestBuilder.Get sends: GET urlTemplate with $select, Accept JSON, a User
// answer and an ODataError for any 4xx/5xx.
func (c *Client) getUser(ctx context.Context, urlTemplate string, params map[string]string) (models.Userable, error) {
	pathParams := maps.Clone(c.pathParams)
	maps.Copy(pathParams, params)
	info := abstractions.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abstractions.GET, urlTemplate, pathParams)
	info.AddQueryParameters(userGetQuery{Select: userSelect})
	info.Headers.TryAdd("Accept", "application/json")
	errorMapping := abstractions.ErrorMappings{
		"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue,
	}
	res, err := c.adapter.Send(ctx, info, models.CreateUserFromDiscriminatorValue, errorMapping)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, nil
	}
	return res.(models.Userable), nil
}

// GetMe returns the signed-in user (delegated clients only).
func (c *Client) GetMe(ctx context.Context) (User, error) {
	u, err := c.getUser(ctx, meURLTemplate, nil)
	if err != nil {
		return User{}, wrapErr(err, "get signed-in user")
	}
	return userFromModel(u), nil
}

// GetUser returns a user by Entra object id or user principal name.
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	u, err := c.getUser(ctx, userURLTemplate, map[string]string{"user%2Did": id})
	if err != nil {
		return User{}, wrapErr(err, "get user")
	}
	return userFromModel(u), nil
}

// GetChat returns a chat with its members.
func (c *Client) GetChat(ctx context.Context, chatID string) (Chat, error) {
	chat, err := c.chats().ByChatId(chatID).Get(ctx, &chats.ChatItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ChatItemRequestBuilderGetQueryParameters{Expand: []string{"members"}},
	})
	if err != nil {
		return Chat{}, wrapErr(err, "get chat with members")
	}
	return chatFromModel(chat), nil
}

// GetMessage returns one message of a chat.
func (c *Client) GetMessage(ctx context.Context, chatID, messageID string) (Message, error) {
	m, err := c.chats().ByChatId(chatID).Messages().ByChatMessageId(messageID).Get(ctx, nil)
	if err != nil {
		return Message{}, wrapErr(err, "get chat message")
	}
	msg := messageFromModel(m)
	if msg.ChatID == "" {
		msg.ChatID = chatID
	}
	return msg, nil
}

// ListMessagesSince returns the messages of a chat created or changed after since, oldest change first. Graph
// filters only on the property it orders by, so both are lastModifiedDateTime.
func (c *Client) ListMessagesSince(ctx context.Context, chatID string, since time.Time) ([]Message, error) {
	filter := "lastModifiedDateTime gt " + since.UTC().Format("2006-01-02T15:04:05.000Z")
	top := int32(50)
	builder := c.chats().ByChatId(chatID).Messages()
	page, err := builder.Get(ctx, &chats.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &chats.ItemMessagesRequestBuilderGetQueryParameters{
			Top:     &top,
			Orderby: []string{"lastModifiedDateTime desc"},
			Filter:  &filter,
		},
	})
	var out []Message
	for pages := 0; ; pages++ {
		if err != nil {
			return nil, wrapErr(err, "list chat messages")
		}
		for _, m := range page.GetValue() {
			msg := messageFromModel(m)
			if msg.ChatID == "" {
				msg.ChatID = chatID
			}
			// Graph may ignore the filter (e.g. when it cannot apply it); enforce it here.
			if !msg.LastModifiedAt.IsZero() && !msg.LastModifiedAt.After(since) {
				continue
			}
			out = append(out, msg)
		}
		next := deref(page.GetOdataNextLink())
		if next == "" || pages+1 >= maxListPages {
			break
		}
		page, err = builder.WithUrl(next).Get(ctx, nil)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastModifiedAt.Before(out[j].LastModifiedAt) })
	return out, nil
}

// GetPresences returns the presence of each user id, batching MaxPresenceIDs ids per request.
func (c *Client) GetPresences(ctx context.Context, userIDs []string) ([]Presence, error) {
	var out []Presence
	for start := 0; start < len(userIDs); start += MaxPresenceIDs {
		end := min(start+MaxPresenceIDs, len(userIDs))
		body := communications.NewGetPresencesByUserIdPostRequestBody()
		body.SetIds(userIDs[start:end])
		resp, err := c.communications().GetPresencesByUserId().PostAsGetPresencesByUserIdPostResponse(ctx, body, nil)
		if err != nil {
			return nil, wrapErr(err, "get presences")
		}
		for _, p := range resp.GetValue() {
			pr := Presence{UserID: deref(p.GetId()), Availability: deref(p.GetAvailability()), Activity: deref(p.GetActivity())}
			if ooo := p.GetOutOfOfficeSettings(); ooo != nil {
				pr.OutOfOffice = deref(ooo.GetIsOutOfOffice())
			}
			out = append(out, pr)
		}
	}
	return out, nil
}

// GetHostedContent downloads an inline image (or other hosted content) of a message with its content type.
func (c *Client) GetHostedContent(ctx context.Context, chatID, messageID, hostedContentID string, maxBytes int64) (HostedContent, error) {
	info, err := c.chats().ByChatId(chatID).Messages().ByChatMessageId(messageID).
		HostedContents().ByChatMessageHostedContentId(hostedContentID).Content().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return HostedContent{}, errors.Wrap(err, "build hosted content request")
	}
	data, contentType, err := c.rawGraphGet(ctx, info, maxBytes)
	if err != nil {
		return HostedContent{}, wrapErr(err, "get hosted content")
	}
	return HostedContent{Data: data, ContentType: contentType}, nil
}

// GetDriveItemByShareURL resolves a SharePoint/OneDrive file URL (a "reference" attachment's contentUrl) to the
// file's name, size and a short-lived download URL.
func (c *Client) GetDriveItemByShareURL(ctx context.Context, shareURL string) (DriveItem, error) {
	// The shares API takes the URL itself as an id: "u!" + unpadded base64url.
	id := "u!" + base64.RawURLEncoding.EncodeToString([]byte(shareURL))
	item, err := c.shares().BySharedDriveItemId(id).DriveItem().Get(ctx, nil)
	if err != nil {
		return DriveItem{}, wrapErr(err, "resolve shared file")
	}
	out := DriveItem{
		ID:     deref(item.GetId()),
		Name:   deref(item.GetName()),
		Size:   deref(item.GetSize()),
		WebURL: deref(item.GetWebUrl()),
	}
	if f := item.GetFile(); f != nil {
		out.MimeType = deref(f.GetMimeType())
	}
	out.DownloadURL, _ = stringFrom(item.GetAdditionalData(), "@microsoft.graph.downloadUrl")
	return out, nil
}

// Download fetches a pre-authenticated URL (a DriveItem's DownloadURL) without sending any Graph token, refusing
// bodies larger than maxBytes.
func (c *Client) Download(ctx context.Context, downloadURL string, maxBytes int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, downloadURL, nil)
	if err != nil {
		return nil, "", errors.Wrap(err, "build download request")
	}
	resp, err := c.download.Do(req)
	if err != nil {
		return nil, "", errors.Wrap(stripURL(err), "download file")
	}
	defer resp.Body.Close()
	data, err := readBody(resp, maxBytes)
	if err != nil {
		return nil, "", errors.Wrap(err, "download file")
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// CreateSubscription creates a change-notification subscription. Graph validates the notification URLs
// synchronously before it answers.
func (c *Client) CreateSubscription(ctx context.Context, r SubscriptionRequest) (Subscription, error) {
	body := models.NewSubscription()
	body.SetResource(&r.Resource)
	body.SetChangeType(&r.ChangeType)
	body.SetNotificationUrl(&r.NotificationURL)
	if r.LifecycleNotificationURL != "" {
		body.SetLifecycleNotificationUrl(&r.LifecycleNotificationURL)
	}
	if r.ClientState != "" {
		body.SetClientState(&r.ClientState)
	}
	expires := r.ExpiresAt.UTC()
	body.SetExpirationDateTime(&expires)
	if r.IncludeResourceData {
		include := true
		body.SetIncludeResourceData(&include)
		body.SetEncryptionCertificate(&r.EncryptionCertificate)
		body.SetEncryptionCertificateId(&r.EncryptionCertificateID)
	}
	if r.LatestSupportedTLSVersion != "" {
		body.SetLatestSupportedTlsVersion(&r.LatestSupportedTLSVersion)
	}
	s, err := c.subscriptions().Post(ctx, body, nil)
	if err != nil {
		return Subscription{}, wrapErr(err, "create subscription")
	}
	return subscriptionFromModel(s), nil
}

// RenewSubscription moves a subscription's expiry.
func (c *Client) RenewSubscription(ctx context.Context, id string, expiresAt time.Time) (Subscription, error) {
	body := models.NewSubscription()
	expires := expiresAt.UTC()
	body.SetExpirationDateTime(&expires)
	s, err := c.subscriptions().BySubscriptionId(id).Patch(ctx, body, nil)
	if err != nil {
		return Subscription{}, wrapErr(err, "renew subscription")
	}
	return subscriptionFromModel(s), nil
}

// UpdateSubscriptionCertificate rotates the key Graph encrypts rich notifications to, without recreating the
// subscription (so no notification is lost to a gap). Items already in flight may still use the old key.
func (c *Client) UpdateSubscriptionCertificate(ctx context.Context, id, certificate, certificateID string) (Subscription, error) {
	body := models.NewSubscription()
	body.SetEncryptionCertificate(&certificate)
	body.SetEncryptionCertificateId(&certificateID)
	s, err := c.subscriptions().BySubscriptionId(id).Patch(ctx, body, nil)
	if err != nil {
		return Subscription{}, wrapErr(err, "update subscription certificate")
	}
	return subscriptionFromModel(s), nil
}

// ReauthorizeSubscription answers a reauthorizationRequired lifecycle event.
func (c *Client) ReauthorizeSubscription(ctx context.Context, id string) error {
	return wrapErr(c.subscriptions().BySubscriptionId(id).Reauthorize().Post(ctx, nil), "reauthorize subscription")
}

// DeleteSubscription deletes a subscription. A subscription that no longer exists is not an error.
func (c *Client) DeleteSubscription(ctx context.Context, id string) error {
	err := c.subscriptions().BySubscriptionId(id).Delete(ctx, nil)
	if err != nil {
		err = wrapErr(err, "delete subscription")
		if IsNotFound(err) {
			return nil
		}
	}
	return err
}

// GetSubscription returns one subscription; IsNotFound(err) once it has expired or been removed.
func (c *Client) GetSubscription(ctx context.Context, id string) (Subscription, error) {
	s, err := c.subscriptions().BySubscriptionId(id).Get(ctx, nil)
	if err != nil {
		return Subscription{}, wrapErr(err, "get subscription")
	}
	return subscriptionFromModel(s), nil
}

// ListSubscriptions returns the subscriptions this app owns.
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	builder := c.subscriptions()
	page, err := builder.Get(ctx, nil)
	var out []Subscription
	for {
		if err != nil {
			return nil, wrapErr(err, "list subscriptions")
		}
		for _, s := range page.GetValue() {
			out = append(out, subscriptionFromModel(s))
		}
		next := deref(page.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		page, err = builder.WithUrl(next).Get(ctx, nil)
	}
}

// GetAllMessagesDelta returns one page of GET /users/{id}/chats/getAllMessages/delta (app-only). Pass "" to
// start, then the page's NextLink until a page carries a DeltaLink; store that and pass it next time.
func (c *Client) GetAllMessagesDelta(ctx context.Context, userID, link string) (DeltaPage, error) {
	if link == "" {
		link = strings.TrimRight(c.adapter.GetBaseUrl(), "/") + "/users/" + url.PathEscape(userID) + "/chats/getAllMessages/delta"
	}
	// The SDK has no builder for this path; the per-chat delta builder parses the same response shape.
	resp, err := chats.NewItemMessagesDeltaRequestBuilder(link, c.adapter).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		return DeltaPage{}, wrapErr(err, "get all messages delta")
	}
	out := DeltaPage{NextLink: deref(resp.GetOdataNextLink()), DeltaLink: deref(resp.GetOdataDeltaLink())}
	for _, m := range resp.GetValue() {
		out.Messages = append(out.Messages, messageFromModel(m))
	}
	return out, nil
}

// ApplicationSecrets lists the client secrets of this app's registration (needs Application.Read.All).
func (c *Client) ApplicationSecrets(ctx context.Context) ([]PasswordCredential, error) {
	if c.clientID == "" {
		return nil, errors.New("application secrets: not an app-only client")
	}
	appID := c.clientID
	app, err := applicationswithappid.NewApplicationsWithAppIdRequestBuilderInternal(c.pathParams, c.adapter, &appID).Get(ctx, &applicationswithappid.ApplicationsWithAppIdRequestBuilderGetRequestConfiguration{
		QueryParameters: &applicationswithappid.ApplicationsWithAppIdRequestBuilderGetQueryParameters{
			Select: []string{"id", "appId", "passwordCredentials"},
		},
	})
	if err != nil {
		return nil, wrapErr(err, "get app registration")
	}
	var out []PasswordCredential
	for _, p := range app.GetPasswordCredentials() {
		pc := PasswordCredential{
			DisplayName: deref(p.GetDisplayName()),
			Hint:        deref(p.GetHint()),
			StartsAt:    timeOf(p.GetStartDateTime()),
			EndsAt:      timeOf(p.GetEndDateTime()),
		}
		if k := p.GetKeyId(); k != nil {
			pc.KeyID = k.String()
		}
		out = append(out, pc)
	}
	return out, nil
}

// GetApplicationSecretExpiry returns when the configured client secret expires. Entra never returns secret
// values, only their first three characters as a hint; when several secrets share the hint the earliest expiry
// wins, so a warning comes too early rather than too late. ErrSecretNotListed when no secret matches.
func (c *Client) GetApplicationSecretExpiry(ctx context.Context) (time.Time, error) {
	secrets, err := c.ApplicationSecrets(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var earliest time.Time
	for _, s := range secrets {
		if c.secretHint == "" || s.Hint != c.secretHint || s.EndsAt.IsZero() {
			continue
		}
		if earliest.IsZero() || s.EndsAt.Before(earliest) {
			earliest = s.EndsAt
		}
	}
	if earliest.IsZero() {
		return time.Time{}, ErrSecretNotListed
	}
	return earliest, nil
}

// rawGraphGet sends an authenticated GET through the Graph middleware and returns the body as bytes with its
// content type, for the binary endpoints where the SDK would drop the content type.
func (c *Client) rawGraphGet(ctx context.Context, info *abstractions.RequestInformation, maxBytes int64) ([]byte, string, error) {
	info.PathParameters["baseurl"] = c.adapter.GetBaseUrl()
	native, err := c.adapter.ConvertToNativeRequest(ctx, info)
	if err != nil {
		return nil, "", err
	}
	req, ok := native.(*http.Request)
	if !ok {
		return nil, "", errors.New("unexpected native request type")
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, "", stripURL(err)
	}
	defer resp.Body.Close()
	data, err := readBody(resp, maxBytes)
	if err != nil {
		return nil, "", err
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// readBody returns the body of a 2xx answer, or an *APIError built from an error answer (OData JSON when the
// body has it).
func readBody(resp *http.Response, maxBytes int64) ([]byte, error) {
	if resp.StatusCode >= 300 {
		apiErr := &APIError{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
		var body struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(bytes.TrimSpace(raw), &body) == nil {
			apiErr.Code, apiErr.Message = body.Error.Code, body.Error.Message
		}
		return nil, apiErr
	}
	if maxBytes <= 0 {
		maxBytes = 1 << 62
	}
	if resp.ContentLength > maxBytes {
		return nil, errors.Errorf("content of %d bytes exceeds the limit of %d", resp.ContentLength, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, errors.Wrap(err, "read body")
	}
	if int64(len(data)) > maxBytes {
		return nil, errors.Errorf("content exceeds the limit of %d bytes", maxBytes)
	}
	return data, nil
}

// stripURL drops the request URL from a transport error: pre-authenticated download URLs carry a token in the
// query string and must not reach logs.
func stripURL(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return errors.Errorf("%s request failed: %v", urlErr.Op, urlErr.Err)
	}
	return err
}
