package teamshtml

import (
	"bytes"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"
)

// renderState is what one Convert call collects while rendering.
type renderState struct {
	opts     Options
	mentions []Mention
	images   []ImageRef
}

// newRenderer builds a renderer for one call: goldmark's HTML renderer
// (hard wraps, as Mattermost breaks lines on a single newline) and its GFM
// table renderer, with the Teams-specific nodes overridden by teamsRenderer.
func newRenderer(st *renderState) renderer.Renderer {
	return renderer.NewRenderer(renderer.WithNodeRenderers(
		util.Prioritized(html.NewRenderer(html.WithHardWraps()), 1000),
		util.Prioritized(extension.NewTableHTMLRenderer(), 500),
		// A lower value wins: these replace the defaults for their kinds.
		util.Prioritized(&teamsRenderer{st: st}, 100),
	))
}

type teamsRenderer struct {
	st *renderState
}

func (r *teamsRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindHeading, r.heading)
	reg.Register(ast.KindCodeBlock, r.codeBlock)
	reg.Register(ast.KindFencedCodeBlock, r.codeBlock)
	reg.Register(ast.KindLink, r.link)
	reg.Register(ast.KindAutoLink, r.autoLink)
	reg.Register(ast.KindImage, r.image)
	reg.Register(ast.KindRawHTML, r.rawHTML)
	reg.Register(ast.KindHTMLBlock, r.htmlBlock)
	reg.Register(east.KindStrikethrough, r.strikethrough)
	reg.Register(kindMention, r.mention)
	reg.Register(kindEmoji, r.emoji)
}

func (r *teamsRenderer) heading(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	level := node.(*ast.Heading).Level
	switch {
	case level <= 3 && entering:
		_, _ = w.WriteString("<h" + strconv.Itoa(level) + ">")
	case level <= 3:
		_, _ = w.WriteString("</h" + strconv.Itoa(level) + ">\n")
	case entering:
		_, _ = w.WriteString("<p><b>")
	default:
		_, _ = w.WriteString("</b></p>\n")
	}
	return ast.WalkContinue, nil
}

// languageRe is what a language class may hold; anything else is dropped
// rather than escaped, so a crafted info string adds no odd class names.
var languageRe = regexp.MustCompile(`^[A-Za-z0-9_+#.-]{1,40}$`)

func (r *teamsRenderer) codeBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString("<pre><code")
	if fenced, ok := node.(*ast.FencedCodeBlock); ok {
		if lang := string(fenced.Language(source)); languageRe.MatchString(lang) {
			_, _ = w.WriteString(` class="language-` + lang + `"`)
		}
	}
	_ = w.WriteByte('>')
	var code bytes.Buffer
	lines := node.Lines()
	for i := range lines.Len() {
		seg := lines.At(i)
		code.Write(seg.Value(source))
	}
	// The last line's newline would show as an empty line at the end of
	// the block.
	_, _ = w.Write(util.EscapeHTML(bytes.TrimSuffix(code.Bytes(), []byte("\n"))))
	_, _ = w.WriteString("</code></pre>\n")
	return ast.WalkSkipChildren, nil
}

// linkable reports whether a target may become a clickable link in Teams.
func linkable(target string) bool {
	t := strings.ToLower(target)
	return strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://") || strings.HasPrefix(t, "mailto:")
}

func writeHref(w util.BufWriter, target string) {
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML(util.URLEscape([]byte(target), true)))
	_, _ = w.WriteString(`">`)
}

func (r *teamsRenderer) link(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	// Other targets keep only their words: the children render as text.
	if !linkable(string(node.(*ast.Link).Destination)) {
		return ast.WalkContinue, nil
	}
	if entering {
		writeHref(w, string(node.(*ast.Link).Destination))
	} else {
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

func (r *teamsRenderer) autoLink(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.AutoLink)
	target, label := string(n.URL(source)), n.Label(source)
	switch {
	case n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(target), "mailto:"):
		target = "mailto:" + target
	case strings.HasPrefix(strings.ToLower(target), "www."):
		target = "http://" + target
	}
	if !linkable(target) {
		_, _ = w.Write(util.EscapeHTML(label))
		return ast.WalkContinue, nil
	}
	writeHref(w, target)
	_, _ = w.Write(util.EscapeHTML(label))
	_, _ = w.WriteString("</a>")
	return ast.WalkContinue, nil
}

func (r *teamsRenderer) image(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.Image)
	ref := ImageRef{URL: string(n.Destination), Alt: plainText(source, n)}
	if r.st.opts.HostImage != nil {
		if id, ok := r.st.opts.HostImage(ref.URL, ref.Alt); ok && id != "" {
			ref.HostedContentID = id
		}
	}
	r.st.images = append(r.st.images, ref)

	switch {
	case ref.HostedContentID != "":
		_, _ = w.WriteString(`<img src="../hostedContents/`)
		_, _ = w.Write(util.EscapeHTML([]byte(url.PathEscape(ref.HostedContentID))))
		_, _ = w.WriteString(`/$value" alt="`)
		_, _ = w.Write(util.EscapeHTML([]byte(ref.Alt)))
		_, _ = w.WriteString(`">`)
	case linkable(ref.URL) && !insideLink(n):
		label := ref.Alt
		if label == "" {
			label = ref.URL
		}
		writeHref(w, ref.URL)
		_, _ = w.Write(util.EscapeHTML([]byte(label)))
		_, _ = w.WriteString("</a>")
	default:
		_, _ = w.Write(util.EscapeHTML([]byte(ref.Alt)))
	}
	return ast.WalkSkipChildren, nil
}

// rawHTML and htmlBlock never run with the parser of this package (it has
// no HTML parsers); they are here so that, should that change, raw HTML
// still arrives in Teams as visible text and never as markup.
func (r *teamsRenderer) rawHTML(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		segs := node.(*ast.RawHTML).Segments
		for i := range segs.Len() {
			seg := segs.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
		}
	}
	return ast.WalkSkipChildren, nil
}

func (r *teamsRenderer) htmlBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.HTMLBlock)
	var raw bytes.Buffer
	lines := n.Lines()
	for i := range lines.Len() {
		seg := lines.At(i)
		raw.Write(seg.Value(source))
	}
	if n.HasClosure() {
		raw.Write(n.ClosureLine.Value(source))
	}
	escaped := util.EscapeHTML(bytes.TrimRight(raw.Bytes(), "\n"))
	_, _ = w.WriteString("<p>")
	_, _ = w.Write(bytes.ReplaceAll(escaped, []byte("\n"), []byte("<br>\n")))
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

func (r *teamsRenderer) strikethrough(w util.BufWriter, _ []byte, _ ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		_, _ = w.WriteString("<s>")
	} else {
		_, _ = w.WriteString("</s>")
	}
	return ast.WalkContinue, nil
}

func (r *teamsRenderer) mention(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*mentionNode)
	if m, rest, ok := r.resolve(n.Name); ok && !insideLink(n) {
		_, _ = w.WriteString(`<at id="` + strconv.Itoa(len(r.st.mentions)) + `">`)
		_, _ = w.Write(util.EscapeHTML([]byte(m.DisplayName)))
		_, _ = w.WriteString("</at>")
		_, _ = w.Write(util.EscapeHTML([]byte(rest)))
		r.st.mentions = append(r.st.mentions, m)
		return ast.WalkContinue, nil
	}
	_, _ = w.Write(util.EscapeHTML([]byte("@" + n.Name)))
	return ast.WalkContinue, nil
}

// resolve finds the user a typed token names. As in Mattermost, "@alice."
// at the end of a sentence still mentions alice: trailing ".", "_" and "-"
// are dropped one at a time until a user matches; rest is what was dropped.
func (r *teamsRenderer) resolve(typed string) (m Mention, rest string, ok bool) {
	if r.st.opts.ResolveMention == nil {
		return Mention{}, "", false
	}
	name := typed
	for name != "" {
		if m, ok := r.st.opts.ResolveMention(strings.ToLower(name)); ok && m.TeamsUserID != "" {
			if m.DisplayName == "" {
				m.DisplayName = name
			}
			return m, typed[len(name):], true
		}
		last := name[len(name)-1]
		if last != '.' && last != '_' && last != '-' {
			break
		}
		name = name[:len(name)-1]
	}
	return Mention{}, "", false
}

func (r *teamsRenderer) emoji(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		_, _ = w.Write(util.EscapeHTML([]byte(node.(*emojiNode).Char)))
	}
	return ast.WalkContinue, nil
}

func insideLink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		if p.Kind() == ast.KindLink {
			return true
		}
	}
	return false
}

// plainText is the text of a node's children as the reader sees it (an
// image's alt text).
func plainText(source []byte, n ast.Node) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || c == n {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(source))
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.CodeSpan:
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if txt, ok := t.(*ast.Text); ok {
					b.Write(txt.Segment.Value(source))
				}
			}
			return ast.WalkSkipChildren, nil
		case *ast.AutoLink:
			b.Write(c.Label(source))
		case *mentionNode:
			b.WriteString("@" + c.Name)
		case *emojiNode:
			b.WriteString(c.Char)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}
