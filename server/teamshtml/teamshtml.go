// Package teamshtml turns the Mattermost Markdown of a post into the HTML a
// Microsoft Teams chat message body carries (Graph chatMessage body with
// contentType "html"), plus the mentions array that goes with it and the list
// of Markdown images the caller may attach as hostedContents.
//
// The package does no I/O. The caller resolves "@username" tokens through
// Options.ResolveMention and decides which images it will upload through
// Options.HostImage; Convert only parses and renders.
//
// Parsing is CommonMark plus the GFM strikethrough, table and autolink
// extensions (github.com/yuin/goldmark), close to what Mattermost renders.
// Rules every output obeys:
//   - Nothing the user typed reaches Teams as markup: raw HTML is not parsed
//     at all (it stays visible text, as in Mattermost), and every text, URL,
//     alt text, code and display name is HTML-escaped. No attribute the user
//     controls is written except escaped href, src and alt values.
//   - Only http, https and mailto targets become links; other links
//     (javascript:, data:, relative, ...) keep their words as plain text.
//   - A single newline inside a paragraph is a line break (<br>), as in
//     Mattermost.
//   - Headings 1 to 3 stay <h1>..<h3> (the levels Teams offers); deeper ones
//     become a bold paragraph.
//   - Code blocks are <pre><code class="language-x">: Teams' own
//     <codeblock> element is what Teams emits, but it is not documented as
//     accepted on send, while <pre> is plain HTML every Teams client renders.
//   - Strikethrough ("~~a~~"; a single "~" stays text, as in Mattermost) is
//     <s>, the element Teams itself uses.
//   - ":name:" shortcodes of Mattermost's system emoji become the emoji
//     character; other names stay as typed.
//   - Each resolved mention occurrence gets its own <at id="N"> and its own
//     entry N in Result.Mentions, as Teams does for messages it sends.
//     Mentions inside code or link text stay plain text.
package teamshtml

import (
	"bytes"

	"github.com/pkg/errors"
	"github.com/yuin/goldmark/text"
)

// Mention is a Teams user a Mattermost username stands for.
type Mention struct {
	// TeamsUserID is the Microsoft Entra object id of the user.
	TeamsUserID string
	// DisplayName is shown in the message as the mention text.
	DisplayName string
}

// ImageRef is one Markdown image ("![alt](url)") of the post, in order.
type ImageRef struct {
	URL string
	Alt string
	// HostedContentID is the temporary id the caller gave the image through
	// Options.HostImage; empty when the image was not hosted and was rendered
	// as a link instead.
	HostedContentID string
}

// Options carries the caller's decisions; both functions may be nil.
type Options struct {
	// ResolveMention maps a Mattermost username (lower case, without "@") to
	// the Teams user it stands for; ok=false keeps "@username" as text.
	ResolveMention func(username string) (Mention, bool)
	// HostImage is asked once per Markdown image. Returning ok=true with a
	// temporary id renders <img src="../hostedContents/{id}/$value">, and the
	// caller must send the image bytes as a hostedContents entry with that
	// "@microsoft.graph.temporaryId". Otherwise the image becomes a link to
	// its URL (or just its alt text when the URL is not http, https or
	// mailto).
	HostImage func(url, alt string) (tempID string, ok bool)
}

// Result is what a Teams chat message needs from one post.
type Result struct {
	// HTML is the message body, contentType "html".
	HTML string
	// Mentions[i] is the user of <at id="i"> in HTML.
	Mentions []Mention
	// Images lists every Markdown image in order, hosted or not.
	Images []ImageRef
}

// GraphMention is Graph's chatMessageMention, ready to marshal into the
// "mentions" array of a chatMessage.
type GraphMention struct {
	ID          int            `json:"id"`
	MentionText string         `json:"mentionText"`
	Mentioned   GraphMentioned `json:"mentioned"`
}

// GraphMentioned is the "mentioned" object of a chatMessageMention.
type GraphMentioned struct {
	User GraphUser `json:"user"`
}

// GraphUser is the identity of a mentioned Entra user.
type GraphUser struct {
	ID               string `json:"id"`
	DisplayName      string `json:"displayName"`
	UserIdentityType string `json:"userIdentityType"`
}

// GraphMentions returns Mentions in the shape Graph's chatMessage takes; the
// id of each entry is the id of its <at> element in HTML, and mentionText is
// the text inside that element, as Graph requires.
func (r Result) GraphMentions() []GraphMention {
	out := make([]GraphMention, 0, len(r.Mentions))
	for i, m := range r.Mentions {
		out = append(out, GraphMention{
			ID:          i,
			MentionText: m.DisplayName,
			Mentioned: GraphMentioned{User: GraphUser{
				ID:               m.TeamsUserID,
				DisplayName:      m.DisplayName,
				UserIdentityType: "aadUser",
			}},
		})
	}
	return out
}

// Convert renders Mattermost Markdown as Teams chat message HTML.
func Convert(markdown string, opts Options) (Result, error) {
	source := []byte(markdown)
	doc := markdownParser.Parse(text.NewReader(source))

	st := &renderState{opts: opts}
	var buf bytes.Buffer
	if err := newRenderer(st).Render(&buf, source, doc); err != nil {
		return Result{}, errors.Wrap(err, "rendering Teams HTML")
	}
	return Result{
		HTML:     string(bytes.TrimRight(buf.Bytes(), "\n")),
		Mentions: st.mentions,
		Images:   st.images,
	}, nil
}
