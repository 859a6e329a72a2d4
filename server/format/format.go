// Package format turns one Microsoft Teams chat message (Graph chatMessage
// body, mentions and attachments) into the Markdown text of a Mattermost post
// plus the list of files the caller has to fetch and attach.
//
// The package does no I/O: it never calls Graph or Mattermost. The caller
// maps Graph data into Message, calls Convert, downloads Result.Files, and
// creates the post (setting props[PropRemoveLinkPreview]="true" when
// Result.HasLinks). Code snippet files are fetched and added with
// AppendBlock(res.Markdown, FencedCode(code, ref.Language)).
//
// HTML goes through github.com/JohannesKaufmann/html-to-markdown/v2 (with its
// table and strikethrough plugins); this package only rewrites the
// Teams-specific parts of the DOM first (<at>, <emoji>, <customemoji>,
// hostedContents <img>, <attachment>, <codeblock>, table cells, bare URLs).
//
// Rules every output obeys:
//   - Teams text never triggers a Mattermost mention. An "@" in Teams text
//     that Mattermost could read as a mention start gets an invisible U+2060
//     WORD JOINER after it ("@\u2060all"); so does an "&" that starts a
//     character reference ("&#64;all" would decode to "@all"). Finally any
//     "@all", "@channel" or "@here" still left anywhere, code and URLs
//     included, is broken the same way. Mattermost's mention parser (server
//     and webapp) ends a word at that character, so nobody is notified and
//     nothing is highlighted, while readers still see "@all". A word joiner
//     was chosen over backticks because it leaves the text looking as typed
//     and works inside links, bold and tables.
//   - Only users the caller resolves (Options.ResolveUser) become real
//     "@username" mentions; everybody else, and "Everyone", is plain text.
//   - Literal Markdown characters are escaped, so text renders as typed.
//   - The post is valid UTF-8 and never exceeds MaxMessageRunes; a longer
//     post is cut at a line end, an open code block is closed, and
//     TruncationNote is appended.
package format

import (
	"strings"

	"github.com/pkg/errors"
)

// MaxMessageRunes is Mattermost's limit for a post message
// (model.PostMessageMaxRunesV2).
const MaxMessageRunes = 16383

// PropRemoveLinkPreview is the Mattermost post prop that hides the link
// preview of a post; set it to "true" when Result.HasLinks.
const PropRemoveLinkPreview = "remove_link_preview"

// Body content types of a Graph itemBody.
const (
	BodyHTML = "html"
	BodyText = "text"
)

// Importance values of a Graph chatMessage.
const (
	ImportanceNormal = "normal"
	ImportanceHigh   = "high"
	ImportanceUrgent = "urgent"
)

// Mention kinds, from which member of chatMessageMentionedIdentitySet is set.
const (
	MentionUser         = "user"
	MentionConversation = "conversation"
	MentionTag          = "tag"
	MentionApplication  = "application"
)

// Attachment content types of a Graph chatMessageAttachment that Convert
// understands. Anything else is shown as a link (if it has a URL) or dropped.
const (
	ContentTypeReference        = "reference"
	ContentTypeMessageReference = "messageReference"
	ContentTypeForwardedMessage = "forwardedMessageReference"
	ContentTypeAdaptiveCard     = "application/vnd.microsoft.card.adaptive"
	ContentTypeCodeSnippet      = "application/vnd.microsoft.card.codesnippet"
	ContentTypeHeroCard         = "application/vnd.microsoft.card.hero"
	ContentTypeThumbnailCard    = "application/vnd.microsoft.card.thumbnail"
)

// Message is one Teams chat message, mapped by the caller from a Graph
// chatMessage.
type Message struct {
	// Body is body.content; BodyType is body.contentType ("html" or "text";
	// anything but "text" is treated as HTML).
	Body     string
	BodyType string
	// Subject is the optional message subject.
	Subject string
	// Importance is "normal", "high" or "urgent".
	Importance string
	// Deleted is true when the message has a deletedDateTime.
	Deleted     bool
	Mentions    []Mention
	Attachments []Attachment
}

// Mention is one entry of chatMessage.mentions.
type Mention struct {
	// ID matches the id attribute of an <at> element in the body.
	ID int
	// Text is mentionText.
	Text string
	// UserID is the id of the mentioned identity (the AAD object id for
	// users; the chat/conversation id, tag id or app id otherwise).
	UserID string
	// Kind is MentionUser, MentionConversation, MentionTag or MentionApplication.
	Kind string
}

// Attachment is one entry of chatMessage.attachments.
type Attachment struct {
	ID           string
	ContentType  string
	ContentURL   string
	Content      string
	Name         string
	ThumbnailURL string
}

// Options carries the caller's lookups.
type Options struct {
	// ResolveUser maps a Teams user id to the Mattermost username of a
	// connected user, or "" when that user is not connected. Nil means
	// nobody is connected.
	ResolveUser func(teamsUserID string) string
	// GraphHosts are the hosts (host or host:port) whose https URLs may
	// become FileHostedContent and FileCodeSnippet refs, which the caller
	// fetches with the user's token. Empty means DefaultGraphHosts; tests
	// against a Graph emulator list the emulator's host here.
	GraphHosts []string
}

// FileKind says how the caller must fetch a FileRef.
type FileKind string

const (
	// FileHostedContent is an inline image: GET URL (a Graph
	// .../hostedContents/{id}/$value URL on one of Options.GraphHosts)
	// with the user's token.
	FileHostedContent FileKind = "hostedContent"
	// FileReference is a SharePoint/OneDrive file shared in the chat: URL
	// is the contentUrl, Name the file name. The URL comes from the
	// sender: resolve it through Graph (for example /shares/{encoded url})
	// rather than sending a token to it.
	FileReference FileKind = "reference"
	// FileCodeSnippet is a code snippet card: GET URL (a hostedContents URL
	// on one of Options.GraphHosts) returns the code; add it with
	// AppendBlock(res.Markdown, FencedCode(code, ref.Language)).
	FileCodeSnippet FileKind = "codeSnippet"
)

// FileRef is something the caller fetches and attaches to the post.
type FileRef struct {
	Kind FileKind
	URL  string
	// Name is the file name when Teams gives one (references), otherwise
	// the image alt text or "" (the caller picks a name).
	Name string
	// AttachmentID is the Graph attachment id ("" for inline images).
	AttachmentID string
	// Language is the code snippet language (FileCodeSnippet only).
	Language string
}

// QuotedReply describes the message a Teams reply quotes
// (a messageReference attachment).
type QuotedReply struct {
	MessageID string
	Sender    string
	Preview   string
}

// Result is the Mattermost side of one Teams message.
type Result struct {
	// Markdown is the post message; "" for deleted or empty messages (the
	// caller decides whether to post anything then).
	Markdown string
	// Files lists what to fetch and attach, in the order they appear.
	Files []FileRef
	// Reply is set when the message quotes another message; the quote is
	// already rendered at the top of Markdown.
	Reply *QuotedReply
	// HasLinks is true when Markdown contains a URL that Mattermost could
	// turn into a link preview. Teams showed no preview, so the caller
	// should then create the post with props[PropRemoveLinkPreview] =
	// "true" (the flag Mattermost's own "Remove preview" action sets; the
	// webapp then shows no OpenGraph card). Do not use "unsafe_links" for
	// this: it also stops links from being clickable.
	HasLinks bool
	// Truncated is true when Markdown was cut to fit MaxMessageRunes.
	Truncated bool
}

// Convert turns a Teams message into a Mattermost post body.
func Convert(m Message, opt Options) (Result, error) {
	if m.Deleted {
		return Result{}, nil
	}

	c := newConversion(m, opt)

	var body string
	var err error
	if strings.EqualFold(m.BodyType, BodyText) {
		body, err = c.convertHTML(textToHTML(m.Body))
	} else {
		body, err = c.convertHTML(m.Body)
	}
	if err != nil {
		return Result{}, errors.Wrap(err, "convert message body")
	}

	// Attachments without a placeholder in the body still count: bots often
	// send cards with no body text at all.
	for i := range m.Attachments {
		if !c.usedAttachments[m.Attachments[i].ID] || m.Attachments[i].ID == "" {
			c.handleAttachment(&m.Attachments[i])
		}
	}

	if body == "" && len(c.cards) == 0 && c.reply == nil && len(c.files) == 0 {
		return Result{}, nil
	}

	var blocks []string
	if marker := importanceMarker(m.Importance); marker != "" {
		blocks = append(blocks, marker)
	}
	if subject, err := c.inlineText(m.Subject); err != nil {
		return Result{}, errors.Wrap(err, "convert subject")
	} else if subject != "" {
		blocks = append(blocks, "#### "+subject)
	}
	if c.reply != nil {
		quote, err := c.renderQuote(c.reply)
		if err != nil {
			return Result{}, errors.Wrap(err, "convert quoted reply")
		}
		blocks = append(blocks, quote)
	}
	if body != "" {
		blocks = append(blocks, body)
	}
	blocks = append(blocks, c.cards...)

	md := strings.Join(blocks, "\n\n")
	// Mattermost rejects posts that are not valid UTF-8.
	md = strings.ToValidUTF8(md, "\uFFFD")
	md = neutralizeReserved(decodeLibraryEntities(md))
	md, truncated := Truncate(md, MaxMessageRunes)

	return Result{
		Markdown:  md,
		Files:     c.files,
		Reply:     c.reply,
		HasLinks:  hasLinks(md),
		Truncated: truncated,
	}, nil
}

func importanceMarker(importance string) string {
	switch strings.ToLower(importance) {
	case ImportanceHigh:
		return "**Important!**"
	case ImportanceUrgent:
		return "**Urgent!**"
	}
	return ""
}
