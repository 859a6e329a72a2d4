package teamshtml

import (
	"strings"
	"testing"

	xhtml "golang.org/x/net/html"
)

// allowedAttrs is every element Convert may emit, with the attributes it may
// carry. Anything else in the output means user input became markup.
var allowedAttrs = map[string]map[string]bool{
	"p": {}, "br": {}, "strong": {}, "em": {}, "b": {}, "s": {}, "code": {"class": true}, "pre": {},
	"h1": {}, "h2": {}, "h3": {}, "blockquote": {}, "ul": {}, "ol": {"start": true}, "li": {}, "hr": {},
	"table": {}, "thead": {}, "tbody": {}, "tr": {}, "th": {"style": true}, "td": {"style": true},
	"a": {"href": true}, "img": {"src": true, "alt": true}, "at": {"id": true},
}

// FuzzConvertEmitsOnlyTeamsMarkup checks, for any input, that the output's
// elements and attributes are the ones the renderer writes, links point to
// http, https or mailto only, and images only to hosted contents.
func FuzzConvertEmitsOnlyTeamsMarkup(f *testing.F) {
	for _, seed := range []string{
		`<script>alert(1)</script>`, `[x](javascript:alert(1))`, `![a" onerror="b](x)`, "<div>\n*x*\n</div>",
		`<a href="javascript:x">y</a>`, "@alice <b>", "```\"><script>\nx\n```", `[a](<javascript:x>)`,
		"| <img src=x> |\n|---|\n| y |", `&lt;script&gt;`, `<http://x.com/"onclick="y>`, "[x](https://a.com\"onclick=\"y)",
		"&#x6A;avascript:alert(1)", `[x](&#x6A;avascript:alert(1))`, "www.x.com/\"<b>", "a@b.c\"<i>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, md string) {
		res, err := Convert(md, Options{
			ResolveMention: resolve,
			HostImage:      func(url, _ string) (string, bool) { return "1", strings.Contains(url, "host") },
		})
		if err != nil {
			t.Fatal(err)
		}
		z := xhtml.NewTokenizer(strings.NewReader(res.HTML))
		for {
			tt := z.Next()
			if tt == xhtml.ErrorToken {
				return
			}
			if tt == xhtml.CommentToken || tt == xhtml.DoctypeToken {
				t.Fatalf("markup %q in output %q", z.Token().String(), res.HTML)
			}
			if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
				continue
			}
			tok := z.Token()
			attrs, ok := allowedAttrs[tok.Data]
			if !ok {
				t.Fatalf("element <%s> in output %q", tok.Data, res.HTML)
			}
			for _, a := range tok.Attr {
				if !attrs[a.Key] {
					t.Fatalf("attribute %s on <%s> in output %q", a.Key, tok.Data, res.HTML)
				}
				v := strings.ToLower(a.Val)
				switch {
				case a.Key == "href" && !(strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "mailto:")):
					t.Fatalf("link to %q in output %q", a.Val, res.HTML)
				case a.Key == "src" && !strings.HasPrefix(v, "../hostedcontents/"):
					t.Fatalf("image from %q in output %q", a.Val, res.HTML)
				case a.Key == "style" && !strings.HasPrefix(v, "text-align:"):
					t.Fatalf("style %q in output %q", a.Val, res.HTML)
				case a.Key == "class" && strings.ContainsAny(v, " \"'<>"):
					t.Fatalf("class %q in output %q", a.Val, res.HTML)
				}
			}
		}
	})
}
