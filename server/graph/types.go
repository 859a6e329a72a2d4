package graph

import "time"

// User is a Microsoft Entra user as the plugin needs it for linking accounts.
type User struct {
	ID                string // Entra object id
	DisplayName       string
	Mail              string
	UserPrincipalName string
	ProxyAddresses    []string // e.g. "SMTP:jane@contoso.com", "smtp:j.doe@contoso.com"
}

// Identity is who sent a message: a user, or an application (bot) when IsApplication is set.
type Identity struct {
	UserID        string // Entra object id of the user, or the application id for a bot
	DisplayName   string
	IsApplication bool
	// IdentityType is userIdentityType (aadUser, federatedUser, anonymousGuest, …) or applicationIdentityType.
	IdentityType string
	TenantID     string
}

// Attachment is one chatMessage attachment. For a file ("reference") ContentURL is the SharePoint/OneDrive URL;
// for a quoted reply ("messageReference") Content is a JSON string; for cards Content is the card JSON.
type Attachment struct {
	ID           string
	ContentType  string
	ContentURL   string
	Content      string
	Name         string
	ThumbnailURL string
	TeamsAppID   string
}

// Mention is one <at id="N"> in the body. UserID is set when a user is mentioned; ConversationID when a whole
// chat, channel or team is (ConversationType says which), TagID for a team's tag, ApplicationID for a bot.
type Mention struct {
	ID             int
	Text           string
	UserID         string
	DisplayName    string
	ConversationID string
	// ConversationType is Graph's conversationIdentityType: "chat", "channel" or "team".
	ConversationType string
	TagID            string
	ApplicationID    string
}

// Reaction is one reaction on a message.
type Reaction struct {
	Type        string // an emoji, "custom", or a legacy name such as "like"
	DisplayName string
	UserID      string
	CreatedAt   time.Time
}

// Message is a Teams chatMessage. Times are zero when absent; DeletedAt is set for deleted messages.
type Message struct {
	ID     string
	ChatID string
	// TeamID and ChannelID are set for a channel message or reply (Graph's channelIdentity); ChatID is then empty.
	TeamID      string
	ChannelID   string
	ReplyToID   string
	Etag        string
	From        Identity
	BodyHTML    string // body.content, HTML or text according to BodyType
	BodyType    string // "html" or "text"
	Subject     string
	Summary     string
	Importance  string // normal, high, urgent
	MessageType string // message, chatEvent, typing, systemEventMessage
	// EventDetailType is the @odata.type of eventDetail for system messages (e.g. "#microsoft.graph.membersAddedEventMessageDetail").
	EventDetailType string
	Locale          string
	CreatedAt       time.Time
	LastModifiedAt  time.Time
	LastEditedAt    time.Time
	DeletedAt       time.Time
	WebURL          string
	Attachments     []Attachment
	Mentions        []Mention
	Reactions       []Reaction
}

// Chat is a Teams chat with its members.
type Chat struct {
	ID      string
	Type    string // oneOnOne, group, meeting
	Topic   string
	WebURL  string
	Members []ChatMember
}

// ChatMember is one member of a chat. UserID is the Entra object id; Graph's membership id is not kept because
// it is not a user id.
type ChatMember struct {
	UserID      string
	DisplayName string
	Email       string
	Roles       []string
	TenantID    string
}

// Presence is a user's Teams presence.
type Presence struct {
	UserID       string
	Availability string // Available, Busy, DoNotDisturb, BeRightBack, Away, Offline, PresenceUnknown, …
	Activity     string
	OutOfOffice  bool
}

// HostedContent is an inline image or other hosted content of a message.
type HostedContent struct {
	Data        []byte
	ContentType string
}

// DriveItem is a shared file, resolved from its sharing URL.
type DriveItem struct {
	ID          string
	Name        string
	Size        int64
	MimeType    string
	WebURL      string
	DownloadURL string // pre-authenticated and short-lived; fetch it with Download, never with a Graph token
}

// Subscription is a Graph change-notification subscription. The clientState is deliberately not returned: it is
// the webhook secret.
type Subscription struct {
	ID                       string
	Resource                 string
	ChangeType               string
	NotificationURL          string
	LifecycleNotificationURL string
	ExpiresAt                time.Time
	IncludeResourceData      bool
	EncryptionCertificateID  string
	ApplicationID            string
	CreatorID                string
}

// SubscriptionRequest creates a subscription. EncryptionCertificate (base64 DER) and EncryptionCertificateID are
// required when IncludeResourceData is set.
type SubscriptionRequest struct {
	Resource                  string
	ChangeType                string
	NotificationURL           string
	LifecycleNotificationURL  string
	ClientState               string
	ExpiresAt                 time.Time
	IncludeResourceData       bool
	EncryptionCertificate     string
	EncryptionCertificateID   string
	LatestSupportedTLSVersion string
}

// DeltaPage is one page of a getAllMessages delta query. Exactly one of NextLink (more pages now) and DeltaLink
// (caught up; keep it as the cursor for next time) is set.
type DeltaPage struct {
	Messages  []Message
	NextLink  string
	DeltaLink string
}

// PasswordCredential is one client secret of the app registration (never its value).
type PasswordCredential struct {
	KeyID       string
	DisplayName string
	Hint        string // first three characters of the secret
	StartsAt    time.Time
	EndsAt      time.Time
}
