package format

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func adaptiveCard(t *testing.T, text string) Message {
	t.Helper()
	content, err := json.Marshal(map[string]any{"type": "AdaptiveCard", "version": "1.4",
		"body": []any{map[string]any{"type": "TextBlock", "text": text}}})
	require.NoError(t, err)
	return Message{BodyType: BodyHTML, Attachments: []Attachment{{ID: "c", ContentType: ContentTypeAdaptiveCard, Content: string(content)}}}
}

// Text outside Teams' card Markdown (bold, italic, links, lists) shows in a card as typed; in the DM it is
// escaped exactly as the same text typed in a message is.
func TestCardTextIsEscapedLikeMessageText(t *testing.T) {
	for _, text := range []string{
		"# not a heading",
		"> not a quote",
		"| a | b |\n|---|---|\n| 1 | 2 |",
		"`not code` and ```fenced```",
		"<b>not html</b> <script>x</script>",
		"~~not struck~~",
		"a &lt; b &amp; c",
		"@all see &#64;here (@channel)",
		"1.5 million + 2 = more!",
		"<https://example.com> and <mailto:a@b.c>",
		"line one\nline two",
		"snake_case_name and 2 * 3 * 4",
	} {
		t.Run(text, func(t *testing.T) {
			asMessage, err := Convert(Message{Body: text, BodyType: BodyText}, Options{})
			require.NoError(t, err)
			inCard, err := Convert(adaptiveCard(t, text), Options{})
			require.NoError(t, err)
			assert.Equal(t, asMessage.Markdown, inCard.Markdown)
		})
	}
}

// What Teams renders in card text keeps its meaning; its contents are still escaped like message text.
func TestCardMarkdownSubset(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Build **failed** on _main_", "Build **failed** on *main*"},
		{"__strong__ and *em*", "**strong** and *em*"},
		{"**a # b > c**", "**a # b > c**"},
		{`\*not em\* and \_x\_`, `\*not em\* and \_x\_`},
		{"- one\n- **two**\n\n1. first\n2. second", "- one\n- **two**\n\n1. first\n2. second"},
		{"3. third\n4. fourth", "3. third\n4. fourth"},
		{"[docs](https://example.com/a_(b)) [bad](javascript:alert(1))", "[docs](https://example.com/a_%28b%29) bad"},
		{"![pixel](https://t.example/p.gif)", "[pixel](https://t.example/p.gif)"},
		{"**@here** [@all](https://x.example)", "**@" + wordJoiner + "here** [@" + wordJoiner + "all](https://x.example)"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			r, err := Convert(adaptiveCard(t, tt.text), Options{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.Markdown)
		})
	}
}
