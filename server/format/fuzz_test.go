package format

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/shared/markdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fuzzMentions is the mention table every fuzzed body is read with: <at>
// ids 0-4 point at connected users, an unconnected user and the chat.
var fuzzMentions = []Mention{
	{ID: 0, Text: "Megan", UserID: "aad-megan", Kind: MentionUser},
	{ID: 1, Text: "Jane", UserID: "aad-jane", Kind: MentionUser},
	{ID: 2, Text: "Doe", UserID: "aad-jane", Kind: MentionUser},
	{ID: 3, Text: "Everyone", UserID: "19:abc@thread.v2", Kind: MentionConversation},
	{ID: 4, Text: "Bob", UserID: "aad-bob", Kind: MentionUser},
}

// FuzzConvert checks, for any body, attachment and subject, that Convert
// does not panic and that the post it produces cannot notify anyone but
// the connected users the message really mentioned: no @all, @channel or
// @here in any form, and every mention Mattermost's own Markdown parser
// finds is a username the resolver returned. The seed corpus is the
// convertCases table, so the seeds run with every `go test`.
func FuzzConvert(f *testing.F) {
	for _, tc := range convertCases {
		att := Attachment{}
		if len(tc.msg.Attachments) > 0 {
			att = tc.msg.Attachments[0]
		}
		f.Add(tc.msg.Body, tc.msg.BodyType, tc.msg.Subject, tc.msg.Importance, att.ID, att.ContentType, att.Content)
	}
	f.Add(`<p>@<b>all</b> @<at id="3">Everyone</at> <at id="0">@all</at></p>`, "html", "@here", "urgent", "", "", "")
	f.Add("x&#x40;channel &commat;here @@all", "text", "", "", "", "", "")
	f.Add(`<p>![x](https://t.example/p.png)</p>`, "text", "![s](https://t.example/s.png)", "", "c",
		"application/vnd.microsoft.card.adaptive", `{"body":[{"type":"TextBlock","text":"![![a](https://t.example/a.png)](b) ok"}]}`)
	f.Add(`<at id="1">Jane</at> <at id="2">Doe</at><attachment id="r"></attachment>`, "html", "", "",
		"r", "messageReference", `{"messagePreview":"@here now","messageSender":{"user":{"displayName":"@channel"}}}`)

	allowed := map[string]bool{}
	for _, u := range connected {
		allowed[u] = true
	}

	f.Fuzz(func(t *testing.T, body, bodyType, subject, importance, attID, attType, attContent string) {
		msg := Message{
			Body: body, BodyType: bodyType, Subject: subject, Importance: importance,
			Mentions: fuzzMentions,
			Attachments: []Attachment{{
				ID: attID, ContentType: attType, Content: attContent,
				ContentURL: "https://contoso.sharepoint.com/@all/file", Name: "@here.txt",
			}},
		}
		got, err := Convert(msg, Options{ResolveUser: resolve})
		if err != nil {
			assert.Equal(t, Result{}, got, "an error comes with an empty result")
			return
		}
		md := got.Markdown

		require.True(t, utf8.ValidString(md), "valid UTF-8")
		assert.LessOrEqual(t, utf8.RuneCountInString(md), MaxMessageRunes)
		assert.NotContains(t, md, "\a", "library escape marker leaked")
		assert.NotContains(t, md, "\uF002", "library newline marker leaked")
		assert.False(t, reservedMentionRe.MatchString(md), "raw reserved mention in %q", md)

		assert.False(t, hasMarkdownImage(md), "Markdown image in %q", md)
		for _, m := range mattermostMentions(md) {
			assert.True(t, allowed[m], "Mattermost would read @%s as a mention in %q", m, md)
		}
	})
}

// mattermostMentions lists the words Mattermost's server would treat as
// @-mentions in a post: it parses the post with Mattermost's own Markdown
// parser, reads the text of paragraphs (not code), and splits words the way
// the server's mention parser does: words are runs of letters, digits and
// ".-_:@"; leading ".-_:" and trailing ".-_:" are ignored; a word that is
// not a mention as a whole is split again on ".-:".
func mattermostMentions(md string) []string {
	var found []string
	var text strings.Builder
	flush := func() {
		found = append(found, mentionWords(text.String())...)
		text.Reset()
	}
	markdown.Inspect(md, func(node any) bool {
		if node == nil {
			return true // end of a node's children, not a boundary
		}
		if t, ok := node.(*markdown.Text); ok {
			text.WriteString(t.Text)
			return false
		}
		flush()
		return true
	})
	flush()
	return found
}

// hasMarkdownImage reports whether Mattermost would render an image from
// the post text itself (images come as attached files, never as remote
// loads).
func hasMarkdownImage(md string) bool {
	found := false
	markdown.Inspect(md, func(node any) bool {
		switch node.(type) {
		case *markdown.InlineImage, *markdown.ReferenceImage:
			found = true
		}
		return !found
	})
	return found
}

func mentionWords(s string) []string {
	var found []string
	words := strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsNumber(r) || strings.ContainsRune(".-_:@", r))
	})
	for _, word := range words {
		word = strings.TrimLeft(word, ":.-_")
		candidates := []string{strings.TrimRight(word, ":.-_")}
		for _, part := range strings.FieldsFunc(word, func(r rune) bool { return strings.ContainsRune(".-:", r) }) {
			candidates = append(candidates, part, strings.TrimRight(part, "_"))
		}
		for _, c := range candidates {
			if len(c) > 1 && c[0] == '@' && strings.IndexFunc(c[1:], isWordRune) >= 0 {
				found = append(found, strings.ToLower(c[1:]))
				break
			}
		}
	}
	return found
}

func TestMattermostMentionsModel(t *testing.T) {
	// The checker FuzzConvert relies on must itself see real mentions.
	tests := []struct {
		md   string
		want []string
	}{
		{"hi @all", []string{"all"}},
		{"(@here) x.@channel _@bob", []string{"here", "channel", "bob"}},
		{"@jane.doe, and @megan.", []string{"jane.doe", "megan"}},
		{"mail bob@contoso.com", nil},
		{"@" + wj + "all", nil},
		{"&#64;all", []string{"all"}},
		{"`@all` and\n\n```\n@here\n```", nil},
		{"[@bob](https://example.com)", []string{"bob"}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, mattermostMentions(tc.md), "markdown %q", tc.md)
	}
}

var htmlTagRe = regexp.MustCompile(`<[^>]*>`)

// TestPlainTextRendersAsTyped renders Convert's output for text bodies with
// Mattermost's Markdown parser and checks the reader sees exactly what was
// typed in Teams.
func TestPlainTextRendersAsTyped(t *testing.T) {
	texts := []string{
		"# not a heading",
		"* not a list\n- nor this\n+ nor this",
		"1. not ordered\n2) nor this",
		"_x_ *y* **z** __w__ ~~s~~",
		"`code` and ``more``",
		"[text](https://example.com) ![img](x.png)",
		"<b>tag</b> & &amp; &lt;",
		"> not a quote",
		"a | b\n---|---",
		"back\\slash \\* done",
		"line one\nline two",
		"setext\n===",
		"    indented",
	}
	for _, text := range texts {
		got, err := Convert(Message{Body: text, BodyType: BodyText}, Options{})
		require.NoError(t, err)
		rendered := markdown.RenderHTML(got.Markdown)
		rendered = strings.ReplaceAll(rendered, "<br />", "\n")
		rendered = strings.ReplaceAll(rendered, "</p><p>", "\n\n")
		rendered = unescapeHTML(htmlTagRe.ReplaceAllString(rendered, ""))
		rendered = strings.ReplaceAll(rendered, wj, "")
		assert.Equal(t, collapseSpaces(text), strings.TrimSpace(collapseSpaces(rendered)), "markdown %q", got.Markdown)
	}
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&amp;", "&").Replace(s)
}

// collapseSpaces mirrors HTML whitespace rendering: runs of spaces are one
// space and lines carry no surrounding spaces.
func collapseSpaces(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
