package format

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wordJoiner is U+2060 WORD JOINER: invisible, never a line break, and not
// a letter or digit, so Mattermost's mention parser (server and webapp) ends
// the word there. "@\u2060all" reads as "@all" and notifies nobody.
const wordJoiner = "\u2060"

// escapeTypedText neutralises text typed in Teams before it becomes
// Markdown:
//   - an "@" that Mattermost would read as the start of a mention gets a
//     word joiner after it. Mattermost strips leading "." "-" "_" ":" from
//     words and splits on other punctuation, so any "@" not glued to a
//     letter or digit before it counts ("(@all)", "x.@all", "_@here").
//     E-mail addresses ("jane@example.com") are left alone: a letter before
//     the "@" keeps them out of mention parsing.
//   - an "&" that starts an HTML character reference gets a word joiner too,
//     since Mattermost decodes "&#64;all" to "@all" before looking for
//     mentions.
func escapeTypedText(s string) string {
	if !strings.ContainsAny(s, "@&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	prev := rune(-1)
	for i, r := range s {
		b.WriteRune(r)
		switch r {
		case '@':
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if !isWordRune(prev) && (isWordRune(next) || next == '_') {
				b.WriteString(wordJoiner)
			}
		case '&':
			if startsCharacterReference(s[i+1:]) {
				b.WriteString(wordJoiner)
			}
		}
		prev = r
	}
	return b.String()
}

func isWordRune(r rune) bool {
	return r >= 0 && (unicode.IsLetter(r) || unicode.IsNumber(r))
}

var characterReferenceRe = regexp.MustCompile(`^(#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,8};?|[A-Za-z][A-Za-z0-9]{1,31};)`)

func startsCharacterReference(rest string) bool {
	return characterReferenceRe.MatchString(rest)
}

var reservedMentionRe = regexp.MustCompile(`(?i)@(all|channel|here)`)

// neutralizeReserved is the last line of defence, run on the whole post:
// no "@all", "@channel" or "@here" survives anywhere, code blocks and link
// targets included. Mattermost ignores mentions in code, but a post that
// provably contains none of the three is easier to trust than one that
// relies on that rule.
func neutralizeReserved(md string) string {
	return reservedMentionRe.ReplaceAllStringFunc(md, func(m string) string {
		return "@" + wordJoiner + m[1:]
	})
}

// EscapeMentions makes Markdown that the caller builds itself mention-safe
// the way Convert's output is: no "@" in it can notify anyone. It does not
// escape other Markdown; for plain text (display names, chat topics) use
// InlineText.
func EscapeMentions(md string) string {
	return neutralizeReserved(escapeTypedText(md))
}

// InlineText renders plain text, such as a sender's display name or a chat
// topic, as one line of Markdown that shows exactly that text and
// mentions nobody.
func InlineText(s string) string {
	// inlineText fails only when the shared converter is misconfigured,
	// which every test in this package would show.
	md, _ := (&conversion{}).inlineText(s)
	return neutralizeReserved(decodeLibraryEntities(md))
}

var usernameRe = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// validUsername accepts what Mattermost accepts as a username, minus the
// names it reserves for channel-wide mentions.
func validUsername(u string) bool {
	if !usernameRe.MatchString(u) {
		return false
	}
	switch u {
	case "all", "channel", "here", "matterbot", "system":
		return false
	}
	return true
}

var linkRe = regexp.MustCompile(`(?i)(https?://|www\.)[^\s]`)

// hasLinks reports whether Mattermost would find a URL to preview.
func hasLinks(md string) bool {
	return linkRe.MatchString(md)
}

// FencedCode renders code as a fenced Markdown block with an optional
// language (a Teams name such as "C#" or "JavaScript" is normalised). The
// fence is longer than any backtick run inside the code, so the code can
// never close it early. Reserved mentions inside are neutralised like the
// rest of the post.
func FencedCode(code, language string) string {
	code = strings.TrimRight(strings.ReplaceAll(code, "\r\n", "\n"), "\n")
	lang := normalizeLanguage(strings.ToLower(strings.TrimSpace(language)))
	if !codeLanguageRe.MatchString(lang) {
		lang = ""
	}
	fence := "```"
	for strings.Contains(code, fence) {
		fence += "`"
	}
	return neutralizeReserved(fence + lang + "\n" + code + "\n" + fence)
}

var (
	libraryEntityRe = regexp.MustCompile(`&(lt|gt|quot|#39|nbsp);`)
	autolinkStartRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]{1,31}:|[^\s<>@]+@[^\s<>@]+>)`)
)

// decodeLibraryEntities undoes the HTML character references the Markdown
// converter writes for "<", ">", quotes and no-break spaces. Mattermost
// renders Markdown, not HTML, so a literal "<" shows as itself in a post,
// while "&lt;" shows as is in push notifications, e-mail and previews. A
// "<" that would open an autolink keeps a backslash. Entities typed by the
// Teams user never match: escapeTypedText already put a word joiner after
// their "&". Fenced code is left alone.
func decodeLibraryEntities(md string) string {
	if !strings.Contains(md, "&") {
		return md
	}
	lines := strings.Split(md, "\n")
	inFence := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		var b strings.Builder
		last := 0
		for _, m := range libraryEntityRe.FindAllStringSubmatchIndex(line, -1) {
			b.WriteString(line[last:m[0]])
			switch line[m[2]:m[3]] {
			case "lt":
				if autolinkStartRe.MatchString(line[m[1]:]) {
					b.WriteByte('\\')
				}
				b.WriteByte('<')
			case "gt":
				if strings.TrimSpace(b.String()) == "" {
					b.WriteByte('\\') // ">" at line start would open a quote
				}
				b.WriteByte('>')
			case "quot":
				b.WriteByte('"')
			case "#39":
				b.WriteByte('\'')
			case "nbsp":
				b.WriteByte(' ')
			}
			last = m[1]
		}
		b.WriteString(line[last:])
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}
