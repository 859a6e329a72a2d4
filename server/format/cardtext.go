package format

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
)

// Card text (Adaptive Card TextBlock and FactSet text, hero card text) is written in the small Markdown subset
// Teams renders in cards: bold, italic, links, bulleted and numbered lists, line breaks. Everything else shows
// in Teams as typed. cardHTML turns that subset into HTML, every other character staying literal text, so that
// card text then goes through convertHTML, the very function message text goes through, and is escaped exactly
// like it: headings, quotes, code, tables, HTML, images and mentions in a card read as typed and do nothing.

var (
	cardListItemRe = regexp.MustCompile(`^\s{0,3}(?:([-*+])|([0-9]{1,9})[.)])\s+(.*)$`)
	// One level of balanced parentheses in the target, so that "[x](javascript:alert(1))" is seen whole; an
	// optional "!" before it is image syntax, which Teams does not render in card text.
	cardLinkRe      = regexp.MustCompile(`!?\[((?:[^\[\]\\]|\\.)*)\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`)
	cardStrongStar  = regexp.MustCompile(`\*\*([^*\s](?:[^*]*[^*\s])?)\*\*`)
	cardStrongUnder = regexp.MustCompile(`(^|[^\w])__([^_\s](?:[^_]*[^_\s])?)__($|[^\w])`)
	cardEmStar      = regexp.MustCompile(`\*([^*\s](?:[^*]*[^*\s])?)\*`)
	cardEmUnder     = regexp.MustCompile(`(^|[^\w])_([^_\s](?:[^_]*[^_\s])?)_($|[^\w])`)
)

// cardHTML renders card text as HTML: paragraphs at blank lines, lists, line breaks, and cardInlineHTML inside.
func cardHTML(md string) string {
	var b strings.Builder
	var para []string
	list := "" // "ul" or "ol" while a list is open
	flushPara := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + strings.Join(para, "<br>") + "</p>")
			para = nil
		}
	}
	closeList := func() {
		if list != "" {
			b.WriteString("</" + list + ">")
			list = ""
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			flushPara()
			closeList()
			continue
		}
		if m := cardListItemRe.FindStringSubmatch(line); m != nil {
			flushPara()
			kind := "ul"
			if m[2] != "" {
				kind = "ol"
			}
			if list != kind {
				closeList()
				if start, _ := strconv.Atoi(m[2]); kind == "ol" && start != 1 {
					fmt.Fprintf(&b, `<ol start="%d">`, start)
				} else {
					b.WriteString("<" + kind + ">")
				}
				list = kind
			}
			b.WriteString("<li>" + cardInlineHTML(m[3]) + "</li>")
			continue
		}
		closeList()
		para = append(para, cardInlineHTML(strings.TrimSpace(line)))
	}
	flushPara()
	closeList()
	return b.String()
}

// cardInlineHTML renders one line's links and emphasis; all other text is escaped to stay literal.
func cardInlineHTML(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range cardLinkRe.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(cardEmphasisHTML(s[last:m[0]]))
		text, target := s[m[2]:m[3]], s[m[4]:m[5]]
		// convertHTML applies the message link rule to the target, as for any link in a message.
		b.WriteString(`<a href="` + html.EscapeString(target) + `">` + cardEmphasisHTML(text) + `</a>`)
		last = m[1]
	}
	b.WriteString(cardEmphasisHTML(s[last:]))
	return b.String()
}

func cardEmphasisHTML(s string) string {
	s = cardTextHTML(s)
	s = cardStrongStar.ReplaceAllString(s, "<strong>$1</strong>")
	s = cardStrongUnder.ReplaceAllString(s, "$1<strong>$2</strong>$3")
	s = cardEmStar.ReplaceAllString(s, "<em>$1</em>")
	return cardEmUnder.ReplaceAllString(s, "$1<em>$2</em>$3")
}

// cardTextHTML escapes text for HTML. A backslash-escaped ASCII punctuation character becomes a numeric
// character reference, which stays literal: no emphasis pattern can match it.
func cardTextHTML(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && isASCIIPunct(s[i+1]) {
			fmt.Fprintf(&b, "&#%d;", s[i+1])
			i++
			continue
		}
		j := i + 1
		for j < len(s) && s[j] != '\\' {
			j++
		}
		b.WriteString(html.EscapeString(s[i:j]))
		i = j - 1
	}
	return b.String()
}

func isASCIIPunct(c byte) bool {
	return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~')
}
