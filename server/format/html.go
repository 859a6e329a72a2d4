package format

import (
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/JohannesKaufmann/html-to-markdown/v2/converter"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/base"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/commonmark"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/strikethrough"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/table"
	"github.com/pkg/errors"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// mentionTag is the element Convert puts in place of a Teams mention of a
// connected user. Its renderer writes "@username" verbatim, so it is the
// only way a real Mattermost mention reaches the output.
const mentionTag = "mm-mention"

var (
	sharedConverter     *converter.Converter
	sharedConverterOnce sync.Once
)

// markdownConverter returns the converter shared by all conversions. The
// converter keeps no per-conversion state (everything message-specific is
// done on the DOM before conversion), so sharing it is safe.
func markdownConverter() *converter.Converter {
	sharedConverterOnce.Do(func() {
		conv := converter.NewConverter(converter.WithPlugins(
			base.NewBasePlugin(),
			// Mattermost shows HTML comments as text, so the list-end
			// comment the library uses to separate adjacent lists must go.
			commonmark.NewCommonmarkPlugin(commonmark.WithListEndComment(false)),
			strikethrough.NewStrikethroughPlugin(),
			// Teams tables have no <th>; their first row is the header.
			table.NewTablePlugin(
				table.WithSpanCellBehavior(table.SpanBehaviorMirror),
				table.WithHeaderPromotion(true),
			),
		))
		// The library leaves a "*" or "_" unescaped when it looks harmless
		// on its own, but it can still pair with bold or italic around it
		// ("**Ann \*the* Admin**" loses its bold). Escaping every literal
		// one costs a few backslashes and is always right.
		conv.Register.UnEscaper(func(chars []byte, index int) int {
			if chars[index] == '*' || chars[index] == '_' {
				return 1
			}
			return -1
		}, converter.PriorityEarly)
		// Teams system messages carry an empty <systemEventMessage/>.
		conv.Register.TagType("systemeventmessage", converter.TagTypeRemove, converter.PriorityStandard)
		conv.Register.RendererFor(mentionTag, converter.TagTypeInline, renderMention, converter.PriorityEarly)
		// Runs before the library escapes Markdown characters, so it sees
		// the text exactly as typed in Teams.
		conv.Register.TextTransformer(func(_ converter.Context, content string) string {
			return escapeTypedText(content)
		}, converter.PriorityEarly)
		sharedConverter = conv
	})
	return sharedConverter
}

func renderMention(_ converter.Context, w converter.Writer, n *xhtml.Node) converter.RenderStatus {
	username := attr(n, "username")
	if !validUsername(username) {
		// Cannot happen (the pre-pass validated it), but never emit an
		// unchecked mention.
		return converter.RenderTryNext
	}
	_, _ = w.WriteString("@" + username)
	return converter.RenderSuccess
}

// conversion holds the per-message state of one Convert call.
type conversion struct {
	opt             Options
	mentions        map[int]Mention
	attachments     map[string]*Attachment
	usedAttachments map[string]bool

	files []FileRef
	reply *QuotedReply
	cards []string
}

func newConversion(m Message, opt Options) *conversion {
	c := &conversion{
		opt:             opt,
		mentions:        make(map[int]Mention, len(m.Mentions)),
		attachments:     make(map[string]*Attachment, len(m.Attachments)),
		usedAttachments: map[string]bool{},
	}
	for _, mention := range m.Mentions {
		c.mentions[mention.ID] = mention
	}
	for i := range m.Attachments {
		if id := m.Attachments[i].ID; id != "" {
			if _, dup := c.attachments[id]; !dup {
				c.attachments[id] = &m.Attachments[i]
			}
		}
	}
	return c
}

// convertHTML converts one Teams HTML fragment to Markdown, collecting
// files, the quoted reply and cards on the way.
func (c *conversion) convertHTML(body string) (string, error) {
	if strings.TrimSpace(body) == "" {
		return "", nil
	}
	doc, err := xhtml.Parse(strings.NewReader(body))
	if err != nil {
		// The parser gives up on absurd nesting (over 512 open elements).
		// The words still deserve delivery, so fall back to the text.
		doc, err = xhtml.Parse(strings.NewReader(textToHTML(htmlText(body))))
		if err != nil {
			return "", errors.Wrap(err, "parse html")
		}
	}
	c.prepare(doc)
	out, err := markdownConverter().ConvertNode(doc)
	if err != nil {
		return "", errors.Wrap(err, "html to markdown")
	}
	return tidyLists(strings.TrimSpace(string(out))), nil
}

var listItemRe = regexp.MustCompile(`^\s*([-*+]|[0-9]{1,9}[.)])\s`)

// tidyLists drops the whitespace-only line the library puts before a
// nested list: it would make Mattermost render the whole list "loose",
// with paragraph gaps between items that Teams does not show.
func tidyLists(md string) string {
	lines := strings.Split(md, "\n")
	kept := lines[:0]
	fence := ""
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " \t")
		if run := leadingRun(trimmed); len(run) >= 3 {
			switch {
			case fence == "":
				fence = run
			case run[0] == fence[0] && len(run) >= len(fence) && strings.TrimSpace(trimmed[len(run):]) == "":
				fence = ""
			}
		}
		if fence == "" && line != "" && trimmed == "" && i > 0 && i+1 < len(lines) &&
			listItemRe.MatchString(lines[i-1]) && listItemRe.MatchString(lines[i+1]) {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "\n")
}

// inlineText converts a plain-text string (subject, sender name, preview)
// into one line of escaped Markdown.
func (c *conversion) inlineText(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", nil
	}
	md, err := markdownConverter().ConvertString("<span>" + html.EscapeString(s) + "</span>")
	if err != nil {
		return "", errors.Wrap(err, "text to markdown")
	}
	return strings.TrimSpace(md), nil
}

// boldText is inlineText in bold. The library escapes the text knowing it
// sits inside "**", which escaping first and wrapping after cannot.
func (c *conversion) boldText(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", nil
	}
	md, err := markdownConverter().ConvertString("<strong>" + html.EscapeString(s) + "</strong>")
	if err != nil {
		return "", errors.Wrap(err, "text to markdown")
	}
	return strings.TrimSpace(md), nil
}

// textToHTML wraps a plain-text body so the converter keeps its line
// breaks and escapes whatever would otherwise be Markdown syntax.
func textToHTML(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return "<p>" + strings.ReplaceAll(html.EscapeString(s), "\n", "<br>") + "</p>"
}

// htmlText extracts the text of HTML the parser cannot build a tree for,
// with a line break for each block boundary or <br>.
func htmlText(body string) string {
	var b strings.Builder
	z := xhtml.NewTokenizer(strings.NewReader(body))
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return b.String()
		case xhtml.TextToken:
			b.Write(z.Text())
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			switch name, _ := z.TagName(); string(name) {
			case "br", "p", "div", "li", "tr", "pre", "blockquote":
				b.WriteString("\n")
			}
		}
	}
}

// prepare rewrites the Teams-specific parts of the DOM into plain HTML the
// library understands, and records files and attachments.
func (c *conversion) prepare(doc *xhtml.Node) {
	var elements, bareText []*xhtml.Node
	var walk func(n *xhtml.Node, inCode, inLink bool)
	walk = func(n *xhtml.Node, inCode, inLink bool) {
		switch n.Type {
		case xhtml.TextNode:
			n.Data = stripLibraryMarkers(n.Data)
			if !inCode {
				// Teams pads mentions and empty paragraphs with &nbsp;;
				// plain spaces let the library collapse them.
				n.Data = strings.ReplaceAll(n.Data, "\u00a0", " ")
				if !inLink {
					bareText = append(bareText, n)
				}
			}
			return
		case xhtml.ElementNode:
			elements = append(elements, n)
			switch n.Data {
			case "pre", "code", "codeblock":
				inCode = true
			case "a", "at":
				inLink = true
			}
		}
		for child := n.FirstChild; child != nil; child = child.NextSibling {
			walk(child, inCode, inLink)
		}
	}
	walk(doc, false, false)

	for _, n := range bareText {
		linkify(n)
	}

	c.mergeSplitMentions(elements)

	for _, n := range elements {
		if n.Parent == nil {
			continue // removed while merging mentions
		}
		switch n.Data {
		case "at":
			c.replaceMention(n)
		case "emoji":
			replaceWithText(n, firstNonEmpty(attr(n, "alt"), attr(n, "title")))
		case "customemoji":
			replaceWithText(n, customEmojiText(n))
		case "img":
			c.replaceImage(n)
		case "attachment":
			c.replaceAttachment(n)
		case "codeblock":
			n.Data, n.DataAtom = "pre", atom.Pre
			setCodeLanguage(n)
		case "pre":
			setCodeLanguage(n)
		case "td", "th":
			flattenCell(n)
		case "a":
			if !allowedLinkTarget(attr(n, "href")) {
				// A javascript:, data:, file: or relative target must not
				// become a clickable link in Mattermost; the words stay.
				unwrapNode(n)
				continue
			}
			// Teams repeats the URL as the link title; it only adds noise.
			removeAttr(n, "title")
		}
	}
}

var bareURLRe = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"]+`)

// linkify turns URLs in a text node into links. Left as text, the library
// would backslash-escape the "_" and "*" inside them, and Mattermost's
// autolinker then cuts the URL short; as [text](url) the target stays exact.
// Mentions inside the URL text are also kept from reaching Mattermost.
func linkify(n *xhtml.Node) {
	text := n.Data
	matches := bareURLRe.FindAllStringIndex(text, -1)
	if len(matches) == 0 || n.Parent == nil {
		return
	}
	parent, last := n.Parent, 0
	insert := func(node *xhtml.Node) { parent.InsertBefore(node, n) }
	for _, m := range matches {
		u := trimURL(text[m[0]:m[1]])
		if u == "" {
			continue
		}
		href := u
		if strings.HasPrefix(strings.ToLower(u), "www.") {
			href = "http://" + u
		}
		if !isWebURL(href) {
			continue
		}
		if m[0] > last {
			insert(&xhtml.Node{Type: xhtml.TextNode, Data: text[last:m[0]]})
		}
		link := &xhtml.Node{Type: xhtml.ElementNode, Data: "a", DataAtom: atom.A,
			Attr: []xhtml.Attribute{{Key: "href", Val: href}}}
		link.AppendChild(&xhtml.Node{Type: xhtml.TextNode, Data: u})
		insert(link)
		last = m[0] + len(u)
	}
	if last == 0 {
		return
	}
	insert(&xhtml.Node{Type: xhtml.TextNode, Data: text[last:]})
	parent.RemoveChild(n)
}

// trimURL drops the sentence punctuation that ends up glued to a URL,
// keeping a closing parenthesis that has its opening one in the URL.
func trimURL(u string) string {
	for u != "" {
		last := u[len(u)-1]
		switch {
		case strings.IndexByte(".,;:!?'\"*_~", last) >= 0:
			u = u[:len(u)-1]
		case last == ')' && strings.Count(u, "(") < strings.Count(u, ")"):
			u = u[:len(u)-1]
		default:
			return u
		}
	}
	return u
}

// flattenCell makes a table cell one line. Teams wraps cell text in <p>,
// and a Markdown table cell cannot hold a line break: left alone, the
// library gives up on the table and prints its cells as paragraphs.
func flattenCell(cell *xhtml.Node) {
	for _, n := range allElements(cell) {
		switch n.Data {
		case "br":
			replaceWithText(n, " ")
		case "p", "div", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "codeblock", "table", "tr", "td", "th", "hr":
			n.Data, n.DataAtom = "span", atom.Span
			if n.Parent != nil {
				n.Parent.InsertBefore(&xhtml.Node{Type: xhtml.TextNode, Data: " "}, n.NextSibling)
			}
		}
	}
}

// mentionIdentity says who an <at> element points at, or "" when unknown.
func (c *conversion) mentionIdentity(n *xhtml.Node) string {
	m, ok := c.mentionFor(n)
	if !ok || m.UserID == "" {
		return ""
	}
	return m.Kind + "/" + m.UserID
}

func (c *conversion) mentionFor(n *xhtml.Node) (Mention, bool) {
	id, ok := mentionID(n)
	if !ok {
		return Mention{}, false
	}
	m, ok := c.mentions[id]
	return m, ok
}

func mentionID(n *xhtml.Node) (int, bool) {
	id, err := strconv.Atoi(strings.TrimSpace(attr(n, "id")))
	return id, err == nil
}

// mergeSplitMentions joins the pieces of a multi-word mention: Teams writes
// "Jane Doe" as <at id="0">Jane</at>&nbsp;<at id="1">Doe</at> with two
// mentions[] entries for the same user.
func (c *conversion) mergeSplitMentions(elements []*xhtml.Node) {
	for _, n := range elements {
		if n.Data != "at" || n.Parent == nil {
			continue
		}
		identity := c.mentionIdentity(n)
		if identity == "" {
			continue
		}
		lastID, _ := mentionID(n)
		for {
			// Pieces of one mention carry consecutive ids; the same person
			// mentioned twice in a row does not.
			next, between := nextMentionSibling(n)
			if next == nil || c.mentionIdentity(next) != identity {
				break
			}
			if id, ok := mentionID(next); !ok || id != lastID+1 {
				break
			}
			lastID++
			text := strings.TrimSpace(textContent(n)) + " " + strings.TrimSpace(textContent(next))
			for _, sep := range between {
				n.Parent.RemoveChild(sep)
			}
			next.Parent.RemoveChild(next)
			setOnlyText(n, text)
		}
	}
}

// nextMentionSibling returns the <at> sibling that follows n with only
// whitespace text in between, and the nodes in between.
func nextMentionSibling(n *xhtml.Node) (*xhtml.Node, []*xhtml.Node) {
	var between []*xhtml.Node
	for s := n.NextSibling; s != nil; s = s.NextSibling {
		switch {
		case s.Type == xhtml.TextNode && strings.TrimSpace(strings.ReplaceAll(s.Data, "\u00a0", " ")) == "":
			between = append(between, s)
		case s.Type == xhtml.ElementNode && s.Data == "at":
			return s, between
		default:
			return nil, nil
		}
	}
	return nil, nil
}

func (c *conversion) replaceMention(n *xhtml.Node) {
	text := strings.TrimSpace(textContent(n))
	m, ok := c.mentionFor(n)
	if text == "" && ok {
		text = m.Text
	}
	if ok && (m.Kind == MentionUser || m.Kind == "") && m.UserID != "" && c.opt.ResolveUser != nil {
		if username := c.opt.ResolveUser(m.UserID); validUsername(username) {
			mention := &xhtml.Node{
				Type: xhtml.ElementNode,
				Data: mentionTag,
				Attr: []xhtml.Attribute{{Key: "username", Val: username}},
			}
			// The text child is never rendered; it tells the whitespace
			// collapsing that this element has content, so the space after
			// the mention survives.
			mention.AppendChild(&xhtml.Node{Type: xhtml.TextNode, Data: username})
			replaceNode(n, mention)
			return
		}
	}
	// Everyone else (unconnected users, "Everyone", tags, bots) keeps the
	// name Teams showed, as plain text: no Mattermost mention can come of it.
	replaceWithText(n, text)
}

var emojiNameRe = regexp.MustCompile(`^[a-zA-Z0-9_+-]+$`)

// customEmojiText renders a Teams custom (tenant) emoji as :name: so a
// Mattermost custom emoji of the same name shows up; other alt texts are
// kept as they are.
func customEmojiText(n *xhtml.Node) string {
	name := strings.Trim(firstNonEmpty(attr(n, "alt"), attr(n, "title"), attr(n, "name")), ": ")
	if name == "" {
		return ""
	}
	if emojiNameRe.MatchString(name) {
		return ":" + strings.ToLower(name) + ":"
	}
	return name
}

func (c *conversion) replaceImage(n *xhtml.Node) {
	src := strings.TrimSpace(attr(n, "src"))
	alt := strings.TrimSpace(attr(n, "alt"))
	itemType := strings.ToLower(attr(n, "itemtype"))

	switch {
	case strings.HasSuffix(itemType, "/emoji"):
		// Older Teams bodies send emoji as <img itemtype=".../Emoji" alt="😄">.
		replaceWithText(n, firstNonEmpty(alt, attr(n, "title")))
	case c.isHostedContentURL(src):
		c.files = append(c.files, FileRef{Kind: FileHostedContent, URL: src, Name: imageName(alt)})
		// The image follows as a file; a space keeps the words around it apart.
		replaceWithText(n, " ")
	case isHostedContentPath(src):
		// A Graph hosted content on a host the plugin does not fetch from: a link would only show the
		// reader a token error (or point at whatever host the HTML named), so the image is a placeholder line.
		br := func() *xhtml.Node { return &xhtml.Node{Type: xhtml.ElementNode, Data: "br", DataAtom: atom.Br} }
		n.Parent.InsertBefore(br(), n)
		n.Parent.InsertBefore(&xhtml.Node{Type: xhtml.TextNode, Data: ImageUnavailable}, n)
		replaceNode(n, br())
	case isWebURL(src):
		// Mattermost would inline a Markdown image from an arbitrary host;
		// a link keeps the reader in control.
		link := &xhtml.Node{Type: xhtml.ElementNode, Data: "a", DataAtom: atom.A,
			Attr: []xhtml.Attribute{{Key: "href", Val: src}}}
		link.AppendChild(&xhtml.Node{Type: xhtml.TextNode, Data: firstNonEmpty(imageName(alt), "image")})
		replaceNode(n, link)
	default:
		replaceWithText(n, imageName(alt))
	}
}

// ImageUnavailable stands, on its own line, for an inline image the reader cannot be shown. Parentheses rather
// than brackets: Markdown would need an escape that push notifications and e-mails show as is.
const ImageUnavailable = "(image: not available, open the message in Teams)"

// isHostedContentPath recognises a Graph hosted content URL whatever its host.
func isHostedContentPath(src string) bool {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return false
	}
	p := strings.ToLower(u.Path)
	return strings.Contains(p, "/hostedcontents/") && strings.HasSuffix(p, "/$value")
}

// imageName drops the generic alt text Teams puts on every pasted image.
func imageName(alt string) string {
	if strings.EqualFold(alt, "image") {
		return ""
	}
	return alt
}

// isHostedContentURL accepts only hostedContents URLs on a trusted Graph
// host: the caller fetches them with the user's token, so a crafted <img>
// pointing elsewhere must not become a FileRef.
func (c *conversion) isHostedContentURL(src string) bool {
	return c.isGraphURL(src) && strings.Contains(strings.ToLower(src), "/hostedcontents/")
}

// DefaultGraphHosts are the Microsoft Graph hosts of the public and
// national clouds.
var DefaultGraphHosts = []string{
	"graph.microsoft.com",
	"graph.microsoft.us",
	"dod-graph.microsoft.us",
	"microsoftgraph.chinacloudapi.cn",
}

func (c *conversion) isGraphURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.User != nil {
		return false
	}
	hosts := c.opt.GraphHosts
	if len(hosts) == 0 {
		hosts = DefaultGraphHosts
	}
	for _, h := range hosts {
		if strings.EqualFold(u.Host, h) {
			return true
		}
	}
	return false
}

// allowedLinkTarget is the one rule for every link that reaches a DM,
// message bodies and cards alike: absolute http and https URLs with a host,
// and mailto. Everything else (javascript:, data:, file:, relative paths,
// app schemes such as msteams: or tel:) is shown as its text only, because
// Mattermost would make it clickable and a relative path would resolve
// against the Mattermost server itself.
func allowedLinkTarget(s string) bool {
	s = strings.TrimSpace(s)
	if isWebURL(s) {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && strings.EqualFold(u.Scheme, "mailto") && u.Opaque != ""
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (c *conversion) replaceAttachment(n *xhtml.Node) {
	id := attr(n, "id")
	if a, ok := c.attachments[id]; ok && !c.usedAttachments[id] {
		c.usedAttachments[id] = true
		c.handleAttachment(a)
	}
	removeNode(n)
}

var codeLanguageRe = regexp.MustCompile(`^[a-z0-9_+#.-]{1,30}$`)

// setCodeLanguage turns whatever class Teams puts on a code block
// ("language-go", "lang-go", "Go") into the "language-x" class the library
// reads, dropping classes that are not a plausible language name.
func setCodeLanguage(n *xhtml.Node) {
	lang := ""
	for _, class := range strings.Fields(attr(n, "class")) {
		class = strings.ToLower(class)
		class = strings.TrimPrefix(class, "language-")
		class = strings.TrimPrefix(class, "lang-")
		if codeLanguageRe.MatchString(class) {
			lang = normalizeLanguage(class)
			break
		}
	}
	// The library also looks at <code> children; keep only our decision.
	for _, d := range allElements(n) {
		if d.Data == "code" {
			removeAttr(d, "class")
		}
	}
	removeAttr(n, "class")
	if lang != "" {
		n.Attr = append(n.Attr, xhtml.Attribute{Key: "class", Val: "language-" + lang})
	}
}

// normalizeLanguage maps the names Teams offers in its code block picker
// to the names Mattermost's highlighter knows.
func normalizeLanguage(lang string) string {
	switch lang {
	case "c#":
		return "csharp"
	case "c++":
		return "cpp"
	case "f#":
		return "fsharp"
	case "plaintext", "plain", "text", "none":
		return ""
	}
	return lang
}

// --- small DOM helpers ---

func attr(n *xhtml.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return stripLibraryMarkers(a.Val)
		}
	}
	return ""
}

func removeAttr(n *xhtml.Node, key string) {
	kept := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Key != key {
			kept = append(kept, a)
		}
	}
	n.Attr = kept
}

func textContent(n *xhtml.Node) string {
	var b strings.Builder
	var walk func(*xhtml.Node)
	walk = func(n *xhtml.Node) {
		if n.Type == xhtml.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func allElements(n *xhtml.Node) []*xhtml.Node {
	var out []*xhtml.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == xhtml.ElementNode {
			out = append(out, c)
			out = append(out, allElements(c)...)
		}
	}
	return out
}

func setOnlyText(n *xhtml.Node, text string) {
	for n.FirstChild != nil {
		n.RemoveChild(n.FirstChild)
	}
	n.AppendChild(&xhtml.Node{Type: xhtml.TextNode, Data: text})
}

func replaceNode(old, repl *xhtml.Node) {
	if old.Parent == nil {
		return
	}
	old.Parent.InsertBefore(repl, old)
	old.Parent.RemoveChild(old)
}

func replaceWithText(n *xhtml.Node, text string) {
	replaceNode(n, &xhtml.Node{Type: xhtml.TextNode, Data: text})
}

// unwrapNode replaces n with its children.
func unwrapNode(n *xhtml.Node) {
	if n.Parent == nil {
		return
	}
	for child := n.FirstChild; child != nil; {
		next := child.NextSibling
		n.RemoveChild(child)
		n.Parent.InsertBefore(child, n)
		child = next
	}
	n.Parent.RemoveChild(n)
}

func removeNode(n *xhtml.Node) {
	if n.Parent != nil {
		n.Parent.RemoveChild(n)
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// stripLibraryMarkers removes the private characters html-to-markdown uses
// internally (escape placeholder and code newline); Teams text containing
// them would otherwise corrupt the output.
func stripLibraryMarkers(s string) string {
	if !strings.ContainsAny(s, "\a\uF002") {
		return s
	}
	return strings.NewReplacer("\a", "", "\uF002", "").Replace(s)
}
