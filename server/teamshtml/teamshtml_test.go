package teamshtml

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// people is the directory the mention cases resolve against.
var people = map[string]Mention{
	"alice":       {TeamsUserID: "aad-alice", DisplayName: "Alice Adams"},
	"bob.smith":   {TeamsUserID: "aad-bob", DisplayName: "Bob Smith"},
	"eve":         {TeamsUserID: "aad-eve", DisplayName: `Eve <img src=x onerror=alert(1)> "E"`},
	"noname":      {TeamsUserID: "aad-noname"},
	"carol_":      {TeamsUserID: "aad-carol-underscore", DisplayName: "Carol Underscore"},
	"unlinked-ok": {DisplayName: "No Teams id"},
}

func resolve(username string) (Mention, bool) {
	m, ok := people[username]
	return m, ok
}

func convert(t *testing.T, md string, opts Options) Result {
	t.Helper()
	res, err := Convert(md, opts)
	require.NoError(t, err)
	return res
}

// TestConvertFormatting specifies how each Markdown feature a Mattermost user
// types looks in the Teams message.
func TestConvertFormatting(t *testing.T) {
	cases := []struct {
		name, md, want string
	}{
		{"plain text is a paragraph", "hello", "<p>hello</p>"},
		{"bold with stars and underscores", "**a** __b__", "<p><strong>a</strong> <strong>b</strong></p>"},
		{"italic with stars and underscores", "*a* _b_", "<p><em>a</em> <em>b</em></p>"},
		{"bold italic", "***a***", "<p><em><strong>a</strong></em></p>"},
		{"strikethrough is Teams' <s>", "~~gone~~", "<p><s>gone</s></p>"},
		{"a single tilde is no strikethrough, as in Mattermost", "~a~ ~town-square", "<p>~a~ ~town-square</p>"},
		{"inline code keeps its characters", "run `a<b && c>d`", "<p>run <code>a&lt;b &amp;&amp; c&gt;d</code></p>"},
		{"markdown inside code stays literal", "`**not bold** :smile:`", "<p><code>**not bold** :smile:</code></p>"},
		{
			"fenced code block with its language, no trailing empty line",
			"```go\nif a < b {\n\treturn \"x\"\n}\n```",
			"<pre><code class=\"language-go\">if a &lt; b {\n\treturn &quot;x&quot;\n}</code></pre>",
		},
		{"fenced code block without language", "~~~\nplain\n~~~", "<pre><code>plain</code></pre>"},
		{
			"a crafted info string adds no class",
			"```x\"onmouseover=\"alert(1)\ncode\n```",
			"<pre><code>code</code></pre>",
		},
		{"indented code block", "    indented\n    more", "<pre><code>indented\nmore</code></pre>"},
		{"single newline is a line break, as in Mattermost", "line one\nline two", "<p>line one<br>\nline two</p>"},
		{"backslash hard break", "a\\\nb", "<p>a<br>\nb</p>"},
		{"blank line separates paragraphs", "one\n\ntwo", "<p>one</p>\n<p>two</p>"},
		{"heading 1", "# Title", "<h1>Title</h1>"},
		{"heading 2", "## Sub", "<h2>Sub</h2>"},
		{"heading 3", "### Small", "<h3>Small</h3>"},
		{"heading 4 and deeper become bold paragraphs", "#### Deep\n###### Deeper", "<p><b>Deep</b></p>\n<p><b>Deeper</b></p>"},
		{"setext heading", "Title\n===", "<h1>Title</h1>"},
		{"block quote", "> quoted\n> text", "<blockquote>\n<p>quoted<br>\ntext</p>\n</blockquote>"},
		{"bullet list", "- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"},
		{"numbered list", "1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"},
		{"numbered list keeps its start", "3. three\n4. four", "<ol start=\"3\">\n<li>three</li>\n<li>four</li>\n</ol>"},
		{
			"nested lists",
			"- fruit\n  1. apple\n  2. pear\n- veg\n  - leek",
			"<ul>\n<li>fruit\n<ol>\n<li>apple</li>\n<li>pear</li>\n</ol>\n</li>\n<li>veg\n<ul>\n<li>leek</li>\n</ul>\n</li>\n</ul>",
		},
		{"thematic break", "a\n\n---\n\nb", "<p>a</p>\n<hr>\n<p>b</p>"},
		{
			"table with alignment",
			"| Name | Qty |\n|:-----|----:|\n| **pen** | 2 |",
			"<table>\n<thead>\n<tr>\n<th style=\"text-align:left\">Name</th>\n<th style=\"text-align:right\">Qty</th>\n</tr>\n</thead>\n" +
				"<tbody>\n<tr>\n<td style=\"text-align:left\"><strong>pen</strong></td>\n<td style=\"text-align:right\">2</td>\n</tr>\n</tbody>\n</table>",
		},
		{"emoji shortcodes become characters", ":smile: :+1: :heart: :flag-us:", "<p>😄 👍 ❤️ 🇺🇸</p>"},
		{"emoji shortcode next to punctuation", "done:tada:!", "<p>done:tada:!</p>"},
		{"emoji shortcode after a space and before punctuation", "done :tada:!", "<p>done 🎉!</p>"},
		{"unknown shortcode stays as typed", ":not_an_emoji: :partyparrot:", "<p>:not_an_emoji: :partyparrot:</p>"},
		{"time-like colons stay", "at 10:30:00", "<p>at 10:30:00</p>"},
		{"empty message", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, convert(t, tc.md, Options{}).HTML)
		})
	}
}

// TestConvertEscaping specifies that nothing a user types becomes markup or
// an attribute in Teams.
func TestConvertEscaping(t *testing.T) {
	cases := []struct {
		name, md, want string
	}{
		{"angle brackets, ampersand and double quotes", `1 < 2 > 0 & "q" 'a'`, "<p>1 &lt; 2 &gt; 0 &amp; &quot;q&quot; 'a'</p>"},
		{"inline raw HTML is visible text", `hi <b onclick="x()">there</b>`, "<p>hi &lt;b onclick=&quot;x()&quot;&gt;there&lt;/b&gt;</p>"},
		{"script block is visible text", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{
			"markdown around an HTML block still renders, the tags stay text",
			"<div>\n**bold**\n</div>",
			"<p>&lt;div&gt;<br>\n<strong>bold</strong><br>\n&lt;/div&gt;</p>",
		},
		{"html comment is visible text", "<!-- secret -->", "<p>&lt;!-- secret --&gt;</p>"},
		{"image tag with onerror is visible text", `<img src=x onerror="alert(1)">`, "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>"},
		{"entity references decode, then are escaped again", "&lt;b&gt; &amp; &#60;i&#62; &quot;", "<p>&lt;b&gt; &amp; &lt;i&gt; &quot;</p>"},
		{"backslash escapes show the character", `\*not italic\* \<b\>`, "<p>*not italic* &lt;b&gt;</p>"},
		{"html in a table cell is text", "| a |\n|---|\n| <i>x</i> |", "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>&lt;i&gt;x&lt;/i&gt;</td>\n</tr>\n</tbody>\n</table>"},
		{"html in a heading is text", "# <u>x</u>", "<h1>&lt;u&gt;x&lt;/u&gt;</h1>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, convert(t, tc.md, Options{}).HTML)
		})
	}
}

// TestConvertLinks specifies which targets stay clickable.
func TestConvertLinks(t *testing.T) {
	cases := []struct {
		name, md, want string
	}{
		{"https link", "[docs](https://example.com/a?b=1&c=2)", `<p><a href="https://example.com/a?b=1&amp;c=2">docs</a></p>`},
		{"http link", "[x](http://example.com)", `<p><a href="http://example.com">x</a></p>`},
		{"mailto link", "[mail me](mailto:a@example.com)", `<p><a href="mailto:a@example.com">mail me</a></p>`},
		{"link title is dropped", `[x](https://e.com "title")`, `<p><a href="https://e.com">x</a></p>`},
		{"quotes in a target cannot end the attribute", `[x](https://e.com/"onmouseover="alert(1))`, `<p><a href="https://e.com/%22onmouseover=%22alert(1)">x</a></p>`},
		{"formatting inside link text", "[**bold** link](https://e.com)", `<p><a href="https://e.com"><strong>bold</strong> link</a></p>`},
		{"javascript: link keeps only its words", "[click](javascript:alert(1))", "<p>click</p>"},
		{"JaVaScRiPt: in any case", "[click](JaVaScRiPt:alert(1))", "<p>click</p>"},
		{"data: link keeps only its words", "[x](data:text/html;base64,PHNjcmlwdD4=)", "<p>x</p>"},
		{"relative link keeps only its words", "[x](/etc/passwd)", "<p>x</p>"},
		{"vbscript autolink is text", "<vbscript:msgbox>", "<p>vbscript:msgbox</p>"},
		{"angle autolink", "<https://e.com/x>", `<p><a href="https://e.com/x">https://e.com/x</a></p>`},
		{"bare URL", "see https://e.com/a_b_c now", `<p>see <a href="https://e.com/a_b_c">https://e.com/a_b_c</a> now</p>`},
		{"bare www address", "www.example.com", `<p><a href="http://www.example.com">www.example.com</a></p>`},
		{"bare email address", "write to bob@example.com", `<p>write to <a href="mailto:bob@example.com">bob@example.com</a></p>`},
		{"reference link", "[x][r]\n\n[r]: https://e.com", `<p><a href="https://e.com">x</a></p>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, convert(t, tc.md, Options{}).HTML)
		})
	}
}

// TestConvertMentions specifies which "@username" tokens notify a Teams user.
func TestConvertMentions(t *testing.T) {
	cases := []struct {
		name, md, want string
		mentioned      []string // Teams user ids, in <at id> order
	}{
		{"resolved mention", "hi @alice", `<p>hi <at id="0">Alice Adams</at></p>`, []string{"aad-alice"}},
		{"username with a dot", "@bob.smith ok", `<p><at id="0">Bob Smith</at> ok</p>`, []string{"aad-bob"}},
		{"typed case does not matter", "@Alice", `<p><at id="0">Alice Adams</at></p>`, []string{"aad-alice"}},
		{"sentence punctuation after the name", "thanks @alice.", `<p>thanks <at id="0">Alice Adams</at>.</p>`, []string{"aad-alice"}},
		{"comma and colon end the name", "@alice, @bob.smith: hi", `<p><at id="0">Alice Adams</at>, <at id="1">Bob Smith</at>: hi</p>`, []string{"aad-alice", "aad-bob"}},
		{"a trailing underscore that is part of a name", "@carol_ hi", `<p><at id="0">Carol Underscore</at> hi</p>`, []string{"aad-carol-underscore"}},
		{"each occurrence is its own mention", "@alice and @alice", `<p><at id="0">Alice Adams</at> and <at id="1">Alice Adams</at></p>`, []string{"aad-alice", "aad-alice"}},
		{"unresolved mention stays text", "hi @nobody", "<p>hi @nobody</p>", nil},
		{"a user without a Teams id stays text", "@unlinked-ok", "<p>@unlinked-ok</p>", nil},
		{"@all stays text", "@all @channel @here", "<p>@all @channel @here</p>", nil},
		{"an email address is no mention", "alice@alice.com", `<p><a href="mailto:alice@alice.com">alice@alice.com</a></p>`, nil},
		{"a word before the @ is no mention", "x@alice", "<p>x@alice</p>", nil},
		{"no mention in inline code", "`@alice`", "<p><code>@alice</code></p>", nil},
		{"no mention in a code block", "```\n@alice\n```", "<pre><code>@alice</code></pre>", nil},
		{"no mention in link text", "[@alice](https://e.com)", `<p><a href="https://e.com">@alice</a></p>`, nil},
		{"mention in bold", "**@alice**", `<p><strong><at id="0">Alice Adams</at></strong></p>`, []string{"aad-alice"}},
		{"mention in a list and a quote", "- @alice\n\n> @bob.smith", "<ul>\n<li><at id=\"0\">Alice Adams</at></li>\n</ul>\n<blockquote>\n<p><at id=\"1\">Bob Smith</at></p>\n</blockquote>", []string{"aad-alice", "aad-bob"}},
		{"display name is escaped", "@eve", `<p><at id="0">Eve &lt;img src=x onerror=alert(1)&gt; &quot;E&quot;</at></p>`, []string{"aad-eve"}},
		{"empty display name falls back to the typed name", "@noname", `<p><at id="0">noname</at></p>`, []string{"aad-noname"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := convert(t, tc.md, Options{ResolveMention: resolve})
			assert.Equal(t, tc.want, res.HTML)
			var got []string
			for _, m := range res.Mentions {
				got = append(got, m.TeamsUserID)
			}
			assert.Equal(t, tc.mentioned, got)
		})
	}

	t.Run("without a resolver every mention is text", func(t *testing.T) {
		res := convert(t, "@alice", Options{})
		assert.Equal(t, "<p>@alice</p>", res.HTML)
		assert.Empty(t, res.Mentions)
	})
}

// TestGraphMentionsShape pins the JSON Graph's chatMessage takes in its
// "mentions" array: id matches <at id>, mentionText the text inside it.
func TestGraphMentionsShape(t *testing.T) {
	res := convert(t, "@alice and @bob.smith", Options{ResolveMention: resolve})
	got, err := json.Marshal(res.GraphMentions())
	require.NoError(t, err)
	assert.JSONEq(t, `[
	  {"id":0,"mentionText":"Alice Adams","mentioned":{"user":{"id":"aad-alice","displayName":"Alice Adams","userIdentityType":"aadUser"}}},
	  {"id":1,"mentionText":"Bob Smith","mentioned":{"user":{"id":"aad-bob","displayName":"Bob Smith","userIdentityType":"aadUser"}}}
	]`, string(got))
	assert.Equal(t, `<p><at id="0">Alice Adams</at> and <at id="1">Bob Smith</at></p>`, res.HTML)

	empty, err := json.Marshal(convert(t, "nobody here", Options{ResolveMention: resolve}).GraphMentions())
	require.NoError(t, err)
	assert.Equal(t, "[]", string(empty), "Graph takes an empty array, not null")
}

// TestConvertImages specifies that images are reported to the caller and
// only hosted ones become <img> elements.
func TestConvertImages(t *testing.T) {
	var asked []string
	host := func(url, alt string) (string, bool) {
		asked = append(asked, url+"|"+alt)
		if strings.HasPrefix(url, "https://mm.example.com/api/v4/files/") {
			return "1", true
		}
		return "", false
	}
	md := "![chart *q3*](https://mm.example.com/api/v4/files/abc) and ![logo](https://cdn.example.com/l.png)\n\n" +
		"![x\" onerror=\"y](javascript:alert(1)) [![badge](https://b.example.com/b.svg)](https://ci.example.com)"
	res := convert(t, md, Options{HostImage: host})

	assert.Equal(t, `<p><img src="../hostedContents/1/$value" alt="chart q3"> and <a href="https://cdn.example.com/l.png">logo</a></p>`+"\n"+
		`<p>x&quot; onerror=&quot;y <a href="https://ci.example.com">badge</a></p>`, res.HTML)
	assert.Equal(t, []ImageRef{
		{URL: "https://mm.example.com/api/v4/files/abc", Alt: "chart q3", HostedContentID: "1"},
		{URL: "https://cdn.example.com/l.png", Alt: "logo"},
		{URL: "javascript:alert(1)", Alt: `x" onerror="y`},
		{URL: "https://b.example.com/b.svg", Alt: "badge"},
	}, res.Images)
	assert.Len(t, asked, 4, "the caller is asked once per image")

	t.Run("without HostImage images are links", func(t *testing.T) {
		res := convert(t, "![](https://e.com/a.png)", Options{})
		assert.Equal(t, `<p><a href="https://e.com/a.png">https://e.com/a.png</a></p>`, res.HTML)
		assert.Equal(t, []ImageRef{{URL: "https://e.com/a.png"}}, res.Images)
	})

	t.Run("a temporary id is escaped in the src", func(t *testing.T) {
		res := convert(t, "![a](https://e.com/a.png)", Options{HostImage: func(string, string) (string, bool) { return `x"/><b`, true }})
		assert.Equal(t, `<p><img src="../hostedContents/x%22%2F%3E%3Cb/$value" alt="a"></p>`, res.HTML)
	})
}

// TestConvertMixedMessage is a realistic reply, end to end.
func TestConvertMixedMessage(t *testing.T) {
	md := "Thanks @alice! :tada:\n\nThe fix:\n```python\nprint('<ok>')\n```\n1. merge\n2. deploy to **prod** ~~today~~\n\n> see https://ci.example.com/run/42"
	res := convert(t, md, Options{ResolveMention: resolve})
	assert.Equal(t, `<p>Thanks <at id="0">Alice Adams</at>! 🎉</p>`+"\n"+
		`<p>The fix:</p>`+"\n"+
		`<pre><code class="language-python">print('&lt;ok&gt;')</code></pre>`+"\n"+
		"<ol>\n<li>merge</li>\n<li>deploy to <strong>prod</strong> <s>today</s></li>\n</ol>\n"+
		`<blockquote>`+"\n"+`<p>see <a href="https://ci.example.com/run/42">https://ci.example.com/run/42</a></p>`+"\n"+`</blockquote>`, res.HTML)
	assert.Equal(t, []Mention{people["alice"]}, res.Mentions)
}
