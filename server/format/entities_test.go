package format

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DM text is also read where Markdown is not rendered (push notifications, e-mail): no HTML entities may be
// left in it.
func TestConvertLeavesNoHTMLEntities(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"angle brackets", `<p>use &lt;div&gt; here</p>`, "use <div> here"},
		{"quotes and apostrophe", `<p>it&#39;s &quot;done&quot; &amp; shipped</p>`, `it's "done" & shipped`},
		{"no-break space", `<p>a&nbsp;&nbsp;b</p>`, "a b"},
		{"sentence punctuation stays bare", `<p>Costs 5 - 3 (ok). Done! #1 +2</p>`, "Costs 5 - 3 (ok). Done! #1 +2"},
		{"autolink-looking text stays text", `<p>&lt;javascript:alert(1)&gt;</p>`, `\<javascript:alert(1)>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Convert(htmlMsg(tc.body), Options{ResolveUser: resolve})
			require.NoError(t, err)
			assert.Equal(t, tc.want, r.Markdown)
		})
	}
	assert.Equal(t, `a <b> c`, InlineText("a <b> c"))
}
