package format

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/shared/markdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wj is the invisible word joiner Convert puts after an "@" or "&" that
// must not reach Mattermost's mention parser.
const wj = "\u2060"

// connected is the Mattermost side of the sample tenant: Teams user id →
// username of a connected user.
var connected = map[string]string{
	"aad-megan": "megan",
	"aad-jane":  "jane.doe",
}

func resolve(id string) string { return connected[id] }

func htmlMsg(body string, mentions ...Mention) Message {
	return Message{Body: body, BodyType: BodyHTML, Mentions: mentions}
}

const hostedImage = "https://graph.microsoft.com/v1.0/chats/19:abc_def@unq.gbl.spaces/messages/1700000000000/hostedContents/aWQ9eF8wLXd1cy1kMy1mYWtl/$value"

type convertCase struct {
	name  string
	msg   Message
	want  string
	files []FileRef
	reply *QuotedReply
	links bool
}

// convertCases are realistic Teams bodies (shapes as Graph returns them)
// with the exact Mattermost Markdown they must become. FuzzConvert uses
// them as its seed corpus.
var convertCases = []convertCase{
	{
		name: "mention of a connected user becomes a Mattermost mention",
		msg: htmlMsg(`<div><div>Ah, <at id="0">Megan</at>, I saw them in a separate folder. Thanks!</div>
</div>`, Mention{ID: 0, Text: "Megan", UserID: "aad-megan", Kind: MentionUser}),
		want: "Ah, @megan, I saw them in a separate folder. Thanks!",
	},
	{
		name: "multi-word mention split over several at elements is one mention",
		msg: htmlMsg(`<p><at id="0">Jane</at>&nbsp;<at id="1">Doe</at>&nbsp;can you review?</p>`,
			Mention{ID: 0, Text: "Jane", UserID: "aad-jane", Kind: MentionUser},
			Mention{ID: 1, Text: "Doe", UserID: "aad-jane", Kind: MentionUser}),
		want: "@jane.doe can you review?",
	},
	{
		name: "split mention of a user who is not connected is the plain full name",
		msg: htmlMsg(`<p>Thanks <at id="0">Bob</at>&nbsp;<at id="1">van</at>&nbsp;<at id="2">Dijk</at>!</p>`,
			Mention{ID: 0, Text: "Bob", UserID: "aad-bob", Kind: MentionUser},
			Mention{ID: 1, Text: "van", UserID: "aad-bob", Kind: MentionUser},
			Mention{ID: 2, Text: "Dijk", UserID: "aad-bob", Kind: MentionUser}),
		want: "Thanks Bob van Dijk!",
	},
	{
		name: "adjacent mentions of different people stay apart",
		msg: htmlMsg(`<p>Hi <at id="0">Megan</at> <at id="1">Alex</at>, <at id="2">Jane</at></p>`,
			Mention{ID: 0, Text: "Megan", UserID: "aad-megan", Kind: MentionUser},
			Mention{ID: 1, Text: "Alex", UserID: "aad-alex", Kind: MentionUser},
			Mention{ID: 2, Text: "Jane", UserID: "aad-jane", Kind: MentionUser}),
		want: "Hi @megan Alex, @jane.doe",
	},
	{
		name: "Everyone mention of the chat never becomes @all",
		msg: htmlMsg(`<p><at id="0">Everyone</at>&nbsp;lunch at noon?</p>`,
			Mention{ID: 0, Text: "Everyone", UserID: "19:abc@thread.v2", Kind: MentionConversation}),
		want: "Everyone lunch at noon?",
	},
	{
		name: "tag and bot mentions are plain names",
		msg: htmlMsg(`<p><at id="0">Designers</at> and <at id="1">Polly</at></p>`,
			Mention{ID: 0, Text: "Designers", UserID: "tag-1", Kind: MentionTag},
			Mention{ID: 1, Text: "Polly", UserID: "app-1", Kind: MentionApplication}),
		want: "Designers and Polly",
	},
	{
		name: "a resolver answer that is not a safe username is ignored",
		msg: htmlMsg(`<p><at id="0">All Hands</at> <at id="1">Eve</at></p>`,
			Mention{ID: 0, Text: "All Hands", UserID: "aad-reserved", Kind: MentionUser},
			Mention{ID: 1, Text: "Eve", UserID: "aad-weird", Kind: MentionUser}),
		want: "All Hands Eve",
	},
	{
		name: "typed @all, @channel, @here and @username notify nobody; e-mail stays intact",
		msg:  htmlMsg(`<p>@all please read (@here too) x.@Channel and @bob, mail bob@contoso.com</p>`),
		want: "@" + wj + "all please read (@" + wj + "here too) x.@" + wj + "Channel and @" + wj + "bob, mail bob@contoso.com",
	},
	{
		name: "character references that would decode to @ are broken",
		msg:  htmlMsg(`<p>&amp;#64;all and &amp;commat;here</p>`),
		want: "&" + wj + "#64;all and &" + wj + "commat;here",
	},
	{
		name: "emoji become their characters, custom emoji their :name:",
		msg:  htmlMsg(`<p>Great job <emoji id="clap" alt="👏" title="Clapping hands"></emoji><emoji id="1f389_partypopper" alt="🎉" title="Party popper"></emoji> <customemoji id="c-1" alt="shipit" source="https://example.com/shipit.png"></customemoji> <img itemtype="http://schema.skype.com/Emoji" itemid="smile" alt="😄" src="https://statics.teams.cdn.office.net/evergreen-assets/personal-expressions/v2/assets/emoticons/smile/default/20_f.png"></p>`),
		want: "Great job 👏🎉 :shipit: 😄",
	},
	{
		name: "hosted images become files, never Markdown images",
		msg:  htmlMsg(`<p>Look at this:</p><p><img src="` + hostedImage + `" width="250" height="187" alt="image" itemid="0-wus-d3-fake"></p>`),
		want: "Look at this:",
		files: []FileRef{
			{Kind: FileHostedContent, URL: hostedImage},
		},
	},
	{
		name:  "external images become links",
		msg:   htmlMsg(`<p>Logo: <img src="https://www.example.com/logo.png" alt="Contoso logo"> and <img src="https://www.example.com/x.gif"></p>`),
		want:  "Logo: [Contoso logo](https://www.example.com/logo.png) and [image](https://www.example.com/x.gif)",
		links: true,
	},
	{
		name: "file references are files to attach and leave no placeholder",
		msg: Message{
			Body:     `<p>Here is the report</p><attachment id="5e0b7c35-0a39-4ad2-9bf5-4a1d5a1ce9cb"></attachment>`,
			BodyType: BodyHTML,
			Attachments: []Attachment{{
				ID:          "5e0b7c35-0a39-4ad2-9bf5-4a1d5a1ce9cb",
				ContentType: "reference",
				ContentURL:  "https://contoso.sharepoint.com/sites/Sales/Shared Documents/General/Q3 report.docx",
				Name:        "Q3 report.docx",
			}},
		},
		want: "Here is the report",
		files: []FileRef{{
			Kind:         FileReference,
			URL:          "https://contoso.sharepoint.com/sites/Sales/Shared Documents/General/Q3 report.docx",
			Name:         "Q3 report.docx",
			AttachmentID: "5e0b7c35-0a39-4ad2-9bf5-4a1d5a1ce9cb",
		}},
	},
	{
		name: "Teams code block keeps lines, blank lines and language",
		msg:  htmlMsg(`<p>Try this:</p><codeblock class="language-javascript"><code>function add(a, b) {<br>  return a + b;<br>}<br><br>console.log(add(1, 2));</code></codeblock>`),
		want: "Try this:\n\n```javascript\nfunction add(a, b) {\n  return a + b;\n}\n\nconsole.log(add(1, 2));\n```",
	},
	{
		name: "pre code block with a Teams language name and a backtick fence inside",
		msg:  htmlMsg("<pre class=\"C#\"><code>var s = \"```\";\nConsole.WriteLine(s);</code></pre>"),
		want: "````csharp\nvar s = \"```\";\nConsole.WriteLine(s);\n````",
	},
	{
		name: "inline code keeps its content, and @all is broken even there",
		msg:  htmlMsg(`<p>Run <code>git push --force</code> then ping <code>@all</code></p>`),
		want: "Run `git push --force` then ping `@" + wj + "all`",
	},
	{
		name: "Teams table with its first row as header and one-line cells",
		msg:  htmlMsg(`<table itemprop="copy-paste-table"><tbody><tr><td><p>Name</p></td><td><p>Role</p></td></tr><tr><td><p>Ann</p></td><td><p>Dev | Ops</p></td></tr><tr><td><p>Bo</p></td><td><p>QA</p><p>lead<br>on call</p></td></tr></tbody></table>`),
		want: "| Name | Role            |\n|------|-----------------|\n| Ann  | Dev \\| Ops      |\n| Bo   | QA lead on call |",
	},
	{
		name: "nested lists stay tight",
		msg:  htmlMsg(`<ul><li>fruit<ul><li>apple</li><li>pear</li></ul></li><li>veg</li></ul><ol><li>first</li><li>second</li></ol>`),
		want: "- fruit\n  - apple\n  - pear\n- veg\n\n1. first\n2. second",
	},
	{
		name:  "links keep their text and drop the title Teams adds",
		msg:   htmlMsg(`<p>See <a href="https://learn.microsoft.com/graph/overview" rel="noreferrer noopener" target="_blank" title="https://learn.microsoft.com/graph/overview">the docs</a> and <a href="https://example.com/a_b" title="https://example.com/a_b">https://example.com/a_b</a></p>`),
		want:  "See [the docs](https://learn.microsoft.com/graph/overview) and [https://example.com/a\\_b](https://example.com/a_b)",
		links: true,
	},
	{
		name: "bare URLs become exact links, their text escaped and their target not",
		msg:  htmlMsg(`<p>see https://example.com/a_b?q=*x* (or www.example.com/~me_too), @medium https://medium.com/@bob/post.</p>`),
		// A trailing "*", "_" or "." is emphasis or punctuation around the URL, not part of it.
		want:  "see [https://example.com/a\\_b?q=\\*x](https://example.com/a_b?q=%2Ax)\\* (or [www.example.com/\\~me\\_too](http://www.example.com/~me_too)), @" + wj + "medium [https://medium.com/@" + wj + "bob/post](https://medium.com/@bob/post).",
		links: true,
	},
	{
		name: "old-style reply quote inside the body stays a quote",
		msg:  htmlMsg(`<blockquote itemscope="" itemtype="http://schema.skype.com/Reply" itemid="1616060914838"><strong itemprop="mri" itemid="8:orgid:abc">Bob Smith</strong><span itemprop="time" itemid="1616060914838"></span><p itemprop="preview">original text</p></blockquote><p>my reply</p>`),
		want: "> **Bob Smith**\n> \n> original text\n\nmy reply",
	},
	{
		name: "headings and paragraphs that look like lists",
		msg:  htmlMsg(`<h2>Agenda</h2><p>1. intro</p><p>- dash</p><p></p><div><br></div><div>end</div>`),
		want: "## Agenda\n\n1\\. intro\n\n\\- dash\n\nend",
	},
	{
		name: "inline styles, quotes, breaks, paragraphs, nbsp and entities",
		msg:  htmlMsg(`<p><strong>bold</strong> <em>italic</em> <s>gone</s> <u>under</u></p><blockquote>quoted<br>second line</blockquote><p>a<br>b</p><p>&nbsp;</p><div>5 &lt; 6 &amp;&amp; 7&nbsp;&gt; 3 &quot;ok&quot; &copy;</div>`),
		want: "**bold** *italic* ~~gone~~ under\n\n> quoted  \n> second line\n\na  \nb\n\n5 < 6 && 7 > 3 \"ok\" ©",
	},
	{
		name: "quoted reply comes first as a quote",
		msg: Message{
			Body:     `<attachment id="1700000000001"></attachment><p>Yes, let's ship it.</p>`,
			BodyType: BodyHTML,
			Attachments: []Attachment{{
				ID:          "1700000000001",
				ContentType: "messageReference",
				Content:     `{"messageId":"1700000000001","messagePreview":"Can we ship *today*? @all","messageSender":{"application":null,"device":null,"user":{"userIdentityType":"aadUser","id":"aad-bob","displayName":"Bob Smith"}}}`,
			}},
		},
		want:  "> **Bob Smith**: Can we ship \\*today\\*? @" + wj + "all\n\nYes, let's ship it.",
		reply: &QuotedReply{MessageID: "1700000000001", Sender: "Bob Smith", Preview: "Can we ship *today*? @all"},
	},
	{
		name: "adaptive card text blocks, facts and URL actions",
		msg: Message{
			Body:     `<attachment id="card-1"></attachment>`,
			BodyType: BodyHTML,
			Attachments: []Attachment{{
				ID:          "card-1",
				ContentType: "application/vnd.microsoft.card.adaptive",
				Content: `{"type":"AdaptiveCard","version":"1.4","body":[` +
					`{"type":"TextBlock","text":"Build **failed**","weight":"bolder"},` +
					`{"type":"Container","items":[{"type":"FactSet","facts":[{"title":"Branch","value":"main"},{"title":"Commit","value":"a1b2c3"}]}]},` +
					`{"type":"Image","url":"https://example.com/x.png"},` +
					`{"type":"ColumnSet","columns":[{"type":"Column","items":[{"type":"TextBlock","text":"cc @here ![pixel](https://t.example/p.gif)"}]}]}],` +
					`"actions":[{"type":"Action.OpenUrl","title":"Open run","url":"https://ci.example.com/run/42"}]}`,
			}},
		},
		want:  "Build **failed**\n\n- **Branch**: main\n- **Commit**: a1b2c3\n\ncc @" + wj + "here [pixel](https://t.example/p.gif)\n\n[Open run](https://ci.example.com/run/42)",
		links: true,
	},
	{
		name: "hero card from a bot",
		msg: Message{
			Body:     `<attachment id="hero-1"></attachment>`,
			BodyType: BodyHTML,
			Attachments: []Attachment{{
				ID:          "hero-1",
				ContentType: "application/vnd.microsoft.card.hero",
				Content:     `{"title":"Deploy *done*","subtitle":"prod-eu","text":"All **green**, @channel","images":[{"url":"https://example.com/ok.png"}],"buttons":[{"type":"openUrl","title":"Dashboard","value":"https://grafana.example.com/d/1"},{"type":"imBack","title":"Ack","value":"ack"}]}`,
			}},
		},
		want:  "**Deploy \\*done\\***\n\nprod-eu\n\nAll **green**, @" + wj + "channel\n\n[Dashboard](https://grafana.example.com/d/1)",
		links: true,
	},
	{
		name: "code snippet card is a file to fetch",
		msg: Message{
			Body:     `<p>snippet:</p><attachment id="snip-1"></attachment>`,
			BodyType: BodyHTML,
			Attachments: []Attachment{{
				ID:          "snip-1",
				ContentType: "application/vnd.microsoft.card.codesnippet",
				Content:     `{"language":"Python","codeSnippetUrl":"https://graph.microsoft.com/v1.0/chats/19:abc@thread.v2/messages/1700000000002/hostedContents/c25pcA==/$value","wrapText":true}`,
				Name:        "snippet.py",
			}},
		},
		want: "snippet:",
		files: []FileRef{{
			Kind:         FileCodeSnippet,
			URL:          "https://graph.microsoft.com/v1.0/chats/19:abc@thread.v2/messages/1700000000002/hostedContents/c25pcA==/$value",
			Name:         "snippet.py",
			AttachmentID: "snip-1",
			Language:     "Python",
		}},
	},
	{
		name: "unknown attachment with a URL becomes a link",
		msg: Message{
			Body:     `<p>fyi</p>`,
			BodyType: BodyHTML,
			Attachments: []Attachment{{
				ID: "x", ContentType: "application/vnd.microsoft.teams.card.file.info",
				ContentURL: "https://example.com/files/plan [v2].pdf", Name: "plan [v2].pdf",
			}},
		},
		want:  "fyi\n\n[plan \\[v2\\].pdf](https://example.com/files/plan%20[v2].pdf)",
		links: true,
	},
	{
		name: "subject and high importance",
		msg:  Message{Body: `<p>Release is on Friday.</p>`, BodyType: BodyHTML, Subject: "Release *plan*", Importance: ImportanceHigh},
		want: "**Important!**\n\n#### Release \\*plan\\*\n\nRelease is on Friday.",
	},
	{
		name: "urgent importance",
		msg:  Message{Body: `<p>Server down</p>`, BodyType: BodyHTML, Importance: ImportanceUrgent},
		want: "**Urgent!**\n\nServer down",
	},
	{
		name: "plain text body renders as typed",
		msg: Message{BodyType: BodyText, Body: "# not a heading\n* not a list\n1. not ordered\n" +
			"_x_ `y` [z](w) <b>tag</b> @all\n\nnext paragraph"},
		want: "\\# not a heading  \n\\* not a list  \n1\\. not ordered  \n" +
			"\\_x\\_ \\`y\\` \\[z](w) <b>tag</b> @" + wj + "all\n\nnext paragraph",
	},
	{
		name:  "plain text body with a URL",
		msg:   Message{BodyType: BodyText, Body: "build log: https://ci.example.com/run_42/log"},
		want:  "build log: [https://ci.example.com/run\\_42/log](https://ci.example.com/run_42/log)",
		links: true,
	},
	{
		name: "deleted message is empty",
		msg:  Message{Body: `<p>secret</p>`, BodyType: BodyHTML, Deleted: true, Subject: "s"},
		want: "",
	},
	{
		name: "empty and whitespace-only bodies are empty",
		msg:  Message{Body: `<div><p>&nbsp;</p></div>`, BodyType: BodyHTML, Importance: ImportanceUrgent},
		want: "",
	},
	{
		name: "system event message is empty",
		msg:  Message{Body: `<systemEventMessage/>`, BodyType: BodyHTML},
		want: "",
	},
}

func TestConvert(t *testing.T) {
	for _, tc := range convertCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Convert(tc.msg, Options{ResolveUser: func(id string) string {
				switch id {
				case "aad-reserved":
					return "all"
				case "aad-weird":
					return "Eve Adams"
				}
				return resolve(id)
			}})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Markdown)
			assert.Equal(t, tc.files, got.Files)
			assert.Equal(t, tc.reply, got.Reply)
			assert.Equal(t, tc.links, got.HasLinks, "HasLinks")
			assert.False(t, got.Truncated)
		})
	}
}

func TestConvertWithoutResolverMentionsNobody(t *testing.T) {
	got, err := Convert(htmlMsg(`<p><at id="0">Megan</at> hi</p>`,
		Mention{ID: 0, Text: "Megan", UserID: "aad-megan", Kind: MentionUser}), Options{})
	require.NoError(t, err)
	assert.Equal(t, "Megan hi", got.Markdown)
}

func TestConvertTruncatesHugeBodies(t *testing.T) {
	paragraph := "<p>" + strings.Repeat("lorem ipsum ", 100) + "</p>"
	got, err := Convert(htmlMsg(strings.Repeat(paragraph, 40)), Options{})
	require.NoError(t, err)

	assert.True(t, got.Truncated)
	assert.LessOrEqual(t, utf8.RuneCountInString(got.Markdown), MaxMessageRunes)
	assert.True(t, strings.HasSuffix(got.Markdown, "ipsum\n\n"+TruncationNote), "cut at a line end, then the note")
}

func TestConvertTruncationClosesAnOpenCodeBlock(t *testing.T) {
	code := strings.Repeat("x = 1<br>", 3000)
	got, err := Convert(htmlMsg(`<p>log:</p><codeblock class="language-python"><code>`+code+`</code></codeblock>`), Options{})
	require.NoError(t, err)

	assert.True(t, got.Truncated)
	assert.LessOrEqual(t, utf8.RuneCountInString(got.Markdown), MaxMessageRunes)
	assert.True(t, strings.HasPrefix(got.Markdown, "log:\n\n```python\nx = 1\n"))
	assert.True(t, strings.HasSuffix(got.Markdown, "x = 1\n```\n\n"+TruncationNote))
}

func TestTruncate(t *testing.T) {
	t.Run("short text is untouched", func(t *testing.T) {
		got, cut := Truncate("hello", 100)
		assert.Equal(t, "hello", got)
		assert.False(t, cut)
	})
	t.Run("counts runes, not bytes", func(t *testing.T) {
		s := strings.Repeat("é", 100)
		got, cut := Truncate(s, 100)
		assert.Equal(t, s, got)
		assert.False(t, cut)
	})
	t.Run("long text without line breaks is cut mid-line", func(t *testing.T) {
		s := strings.Repeat("é", 300)
		got, cut := Truncate(s, 200)
		assert.True(t, cut)
		assert.Equal(t, 200, utf8.RuneCountInString(got))
		assert.Equal(t, strings.Repeat("é", 200-2-utf8.RuneCountInString(TruncationNote))+"\n\n"+TruncationNote, got)
	})
	t.Run("a limit below the note keeps part of the note", func(t *testing.T) {
		got, cut := Truncate(strings.Repeat("a", 50), 10)
		assert.True(t, cut)
		assert.Equal(t, 10, utf8.RuneCountInString(got))
	})
}

func TestFencedCode(t *testing.T) {
	tests := []struct {
		code, lang, want string
	}{
		{"print(1)\n", "Python", "```python\nprint(1)\n```"},
		{"a ``` b", "", "````\na ``` b\n````"},
		{"x", "C#", "```csharp\nx\n```"},
		{"x", "not a language!", "```\nx\n```"},
		{"@here\r\nok", "text", "```\n@" + wj + "here\nok\n```"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, FencedCode(tc.code, tc.lang), "code %q lang %q", tc.code, tc.lang)
	}
}

func TestEscapeMentions(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hi @all", "hi @" + wj + "all"},
		{"@bob.", "@" + wj + "bob."},
		{"_@here", "_@" + wj + "here"},
		{"bob@contoso.com", "bob@contoso.com"},
		{"@ alone and @@", "@ alone and @@"},
		{"&#64;all &amp; &", "&" + wj + "#64;all &" + wj + "amp; &"},
		{"a@CHANNEL", "a@" + wj + "CHANNEL"}, // glued to a word, but never left raw
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, EscapeMentions(tc.in), "input %q", tc.in)
	}
}

func TestConvertSamePersonTwiceIsTwoMentions(t *testing.T) {
	got, err := Convert(htmlMsg(`<p><at id="0">Megan</at> <at id="0">Megan</at> <at id="1">Megan</at></p>`,
		Mention{ID: 0, Text: "Megan", UserID: "aad-bob", Kind: MentionUser},
		Mention{ID: 1, Text: "Megan", UserID: "aad-bob", Kind: MentionUser}), Options{ResolveUser: resolve})
	require.NoError(t, err)
	// ids 0 then 0 are not consecutive pieces; 0 then 1 are.
	assert.Equal(t, "Megan Megan Megan", got.Markdown)
}

func TestConvertFallsBackToTextForUnparsableNesting(t *testing.T) {
	body := strings.Repeat("<div><b>", 600) + "deep &amp; *safe* @all" + strings.Repeat("</b></div>", 600) + "<p>next</p>"
	got, err := Convert(htmlMsg(body), Options{})
	require.NoError(t, err)
	assert.Equal(t, "deep & \\*safe\\* @"+wj+"all\n\nnext", got.Markdown)
}

func TestConvertStripsTheLibraryPrivateMarkers(t *testing.T) {
	got, err := Convert(htmlMsg("<p>a\a*b*\uF002c &#7;</p>"), Options{})
	require.NoError(t, err)
	assert.Equal(t, "a\\*b\\*c", got.Markdown)
}

func TestConvertIsSafeForConcurrentUse(t *testing.T) {
	// The converter is shared by all calls; run the table in parallel
	// (meaningful under `go test -race`).
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, tc := range convertCases {
				_, _ = Convert(tc.msg, Options{ResolveUser: resolve})
			}
		}()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	got, err := Convert(convertCases[0].msg, Options{ResolveUser: resolve})
	require.NoError(t, err)
	assert.Equal(t, convertCases[0].want, got.Markdown)
}

func TestLinksSurviveMattermostRendering(t *testing.T) {
	got, err := Convert(htmlMsg(`<p>see https://example.com/a_b/c_d and <a href="https://x.org/p_q">docs</a> https://medium.com/@bob/post</p>`), Options{})
	require.NoError(t, err)
	rendered := markdown.RenderHTML(got.Markdown)
	for _, href := range []string{"https://example.com/a_b/c_d", "https://x.org/p_q", "https://medium.com/@bob/post"} {
		assert.Contains(t, rendered, `href="`+href+`"`, "rendered %s", rendered)
	}
}

func TestAppendBlock(t *testing.T) {
	t.Run("appends after a blank line", func(t *testing.T) {
		got, cut := AppendBlock("snippet:", FencedCode("x = 1", "python"))
		assert.Equal(t, "snippet:\n\n```python\nx = 1\n```", got)
		assert.False(t, cut)
	})
	t.Run("an empty post becomes the block", func(t *testing.T) {
		got, _ := AppendBlock("", "@here hi")
		assert.Equal(t, "@"+wj+"here hi", got)
	})
	t.Run("stays within the limit and closes the code block", func(t *testing.T) {
		got, cut := AppendBlock("snippet:", FencedCode(strings.Repeat("line\n", 5000), "go"))
		assert.True(t, cut)
		assert.LessOrEqual(t, utf8.RuneCountInString(got), MaxMessageRunes)
		assert.True(t, strings.HasSuffix(got, "line\n```\n\n"+TruncationNote))
	})
	t.Run("a truncated post stays as it is", func(t *testing.T) {
		post := "text\n\n" + TruncationNote
		got, cut := AppendBlock(post, "more")
		assert.Equal(t, post, got)
		assert.True(t, cut)
	})
}

func TestBoldTextIsEscapedForItsContext(t *testing.T) {
	// The sender name is bold: "*" and "_" in it must not close the bold
	// early or open emphasis.
	msg := Message{
		Body: `<attachment id="r"></attachment><p>ok</p>`, BodyType: BodyHTML,
		Attachments: []Attachment{{ID: "r", ContentType: ContentTypeMessageReference,
			Content: `{"messageId":"r","messagePreview":"hi","messageSender":{"user":{"displayName":"Ann *the* Admin_"}}}`}},
	}
	got, err := Convert(msg, Options{})
	require.NoError(t, err)
	assert.Equal(t, "> **Ann \\*the\\* Admin\\_**: hi\n\nok", got.Markdown)
}

func TestInlineText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Bob Smith", "Bob Smith"},
		{"  Project   *X*\n[beta] ", "Project \\*X\\* \\[beta]"},
		{"@all-hands sync", "@" + wj + "all-hands sync"},
		{"# 1. <b>", "\\# 1. <b>"},
		{"", ""},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, InlineText(tc.in), "input %q", tc.in)
	}
}

func TestOnlyTrustedGraphHostsBecomeFetchableFiles(t *testing.T) {
	const evil = "https://evil.example.com/v1.0/chats/c/messages/m/hostedContents/x/$value"
	const emulator = "https://127.0.0.1:8443/v1.0/chats/c/messages/m/hostedContents/x/$value"
	snippet := func(u string) Attachment {
		return Attachment{ID: "s", ContentType: ContentTypeCodeSnippet, Content: `{"language":"go","codeSnippetUrl":"` + u + `"}`}
	}

	t.Run("a hostedContents image elsewhere is a placeholder line, never its URL", func(t *testing.T) {
		got, err := Convert(htmlMsg(`<p>look<img src="`+evil+`" alt="image">here</p>`), Options{})
		require.NoError(t, err)
		assert.Empty(t, got.Files)
		assert.Equal(t, "look  \n"+ImageUnavailable+"  \nhere", got.Markdown)
		assert.NotContains(t, got.Markdown, "$value")
	})
	t.Run("a fetched image leaves the words around it apart", func(t *testing.T) {
		got, err := Convert(htmlMsg(`<p>look<img src="`+hostedImage+`" alt="image">here</p>`), Options{})
		require.NoError(t, err)
		assert.Len(t, got.Files, 1)
		assert.Equal(t, "look here", got.Markdown)
	})
	t.Run("plain http Graph is not trusted either", func(t *testing.T) {
		got, err := Convert(htmlMsg(`<p><img src="http://graph.microsoft.com/v1.0/chats/c/messages/m/hostedContents/x/$value"></p>`), Options{})
		require.NoError(t, err)
		assert.Empty(t, got.Files)
	})
	t.Run("a code snippet elsewhere is dropped", func(t *testing.T) {
		msg := Message{Body: `<p>x</p>`, BodyType: BodyHTML, Attachments: []Attachment{snippet(evil)}}
		got, err := Convert(msg, Options{})
		require.NoError(t, err)
		assert.Empty(t, got.Files)
	})
	t.Run("an emulator host listed in GraphHosts is trusted", func(t *testing.T) {
		msg := Message{Body: `<p><img src="` + emulator + `"></p>`, BodyType: BodyHTML, Attachments: []Attachment{snippet(emulator)}}
		got, err := Convert(msg, Options{GraphHosts: []string{"127.0.0.1:8443"}})
		require.NoError(t, err)
		assert.Equal(t, []FileRef{
			{Kind: FileHostedContent, URL: emulator},
			{Kind: FileCodeSnippet, URL: emulator, AttachmentID: "s", Language: "go"},
		}, got.Files)
		assert.Equal(t, "", got.Markdown, "an image-only message has files and no text")
	})
}
