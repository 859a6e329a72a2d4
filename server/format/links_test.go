package format

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Only http, https and mailto targets may be clickable in a DM; any other
// link keeps its words and loses the target.
func TestConvertKeepsOnlyWebAndMailtoLinks(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"javascript", `<p><a href="javascript:alert(1)">click</a> now</p>`, "click now"},
		{"javascript upper case", `<p><a href="JavaScript:alert(1)">click</a></p>`, "click"},
		{"data", `<p><a href="data:text/html,hi">open</a></p>`, "open"},
		{"file", `<p><a href="file:///etc/passwd">passwords</a></p>`, "passwords"},
		{"relative", `<p><a href="/api/v4/users/me">me</a></p>`, "me"},
		{"other scheme", `<p><a href="tel:+123">call</a></p>`, "call"},
		{"https kept", `<p><a href="https://contoso.com/a">site</a></p>`, "[site](https://contoso.com/a)"},
		{"http kept", `<p><a href="http://contoso.com/">site</a></p>`, "[site](http://contoso.com/)"},
		{"mailto kept", `<p><a href="mailto:jane@contoso.com">mail</a></p>`, "[mail](mailto:jane@contoso.com)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Convert(htmlMsg(tc.body), Options{ResolveUser: resolve})
			require.NoError(t, err)
			assert.Equal(t, tc.want, r.Markdown)
		})
	}
}

func TestCardLinksFollowTheMessageRule(t *testing.T) {
	hero := Attachment{ID: "1", ContentType: ContentTypeHeroCard, Content: `{"title":"[x](javascript:a)",
		"text":"see [me](javascript:alert(1)) and <data:text/html,x> and [ok](https://contoso.com) [m](mailto:a@contoso.com)\n[ref]: file:///etc/passwd"}`}
	adaptive := Attachment{ID: "2", ContentType: ContentTypeAdaptiveCard, Content: `{"type":"AdaptiveCard","body":[
		{"type":"TextBlock","text":"[run](vbscript:x) [rel](/x)"},
		{"type":"RichTextBlock","inlines":[{"type":"TextRun","text":"[go](https://contoso.com/go)"}]}]}`}
	msg := Message{Body: "<p>hi</p>", BodyType: BodyHTML, Attachments: []Attachment{hero, adaptive}}
	r, err := Convert(msg, Options{ResolveUser: resolve})
	require.NoError(t, err)
	assert.Equal(t, "hi\n\n"+
		`**\[x](javascript:a)**`+"\n\n"+
		"see me and \\<data:text/html,x> and [ok](https://contoso.com) [m](mailto:a@contoso.com)  \n\\[ref]: file:///etc/passwd\n\n"+
		// A rich text run is plain text in Teams: shown as typed, its URL linked as in message text.
		"run rel\n\n\\[go]([https://contoso.com/go](https://contoso.com/go))", r.Markdown)
}
