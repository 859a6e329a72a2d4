package format

import (
	"strings"
	"unicode/utf8"
)

// TruncationNote ends a post that was cut to fit Mattermost's limit.
const TruncationNote = "*(Message truncated: it is too long for Mattermost. Open it in Teams to read the rest.)*"

// Truncate cuts md to at most limit runes, ending with TruncationNote. It
// cuts at a line break when one is reasonably close, and closes a fenced
// code block left open by the cut so the note is not swallowed by it. The
// bool reports whether anything was cut.
func Truncate(md string, limit int) (string, bool) {
	if utf8.RuneCountInString(md) <= limit {
		return md, false
	}
	budget := limit - utf8.RuneCountInString(TruncationNote) - len("\n\n")
	for budget > 0 {
		kept := cutRunes(md, budget)
		closing := ""
		if fence := openFence(kept); fence != "" {
			closing = "\n" + fence
		}
		out := strings.TrimRight(kept, " \t\n") + closing + "\n\n" + TruncationNote
		if utf8.RuneCountInString(out) <= limit {
			return out, true
		}
		// The closing fence did not fit: give up a little more text.
		budget -= utf8.RuneCountInString(closing) + 1
	}
	return cutRunes(TruncationNote, limit), true
}

// AppendBlock adds a Markdown block (for example a fetched code snippet
// rendered with FencedCode) after a converted post, keeping the post
// within MaxMessageRunes and free of reserved mentions. A post that was
// already truncated is returned unchanged. The bool reports whether the
// result is truncated.
func AppendBlock(md, block string) (string, bool) {
	if strings.HasSuffix(md, TruncationNote) {
		return md, true
	}
	block = neutralizeReserved(strings.ToValidUTF8(strings.TrimSpace(block), "\uFFFD"))
	switch {
	case block == "":
		return md, false
	case md != "":
		block = md + "\n\n" + block
	}
	return Truncate(block, MaxMessageRunes)
}

// cutRunes keeps at most n runes of s, preferring to end at a line break
// within the last fifth of the budget so words and lines stay whole.
func cutRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	end := 0
	for i := range s {
		if n == 0 {
			end = i
			break
		}
		n--
		end = len(s)
	}
	if n > 0 || end == len(s) {
		return s
	}
	kept := s[:end]
	if nl := strings.LastIndexByte(kept, '\n'); nl > 0 && nl >= len(kept)*4/5 {
		return kept[:nl]
	}
	return kept
}

// openFence returns the fence that closes a fenced code block still open
// at the end of md, or "" when none is open.
func openFence(md string) string {
	open := ""
	for _, line := range strings.Split(md, "\n") {
		// Fences inside list items are indented, so any indent counts.
		trimmed := strings.TrimLeft(line, " \t")
		fence := leadingRun(trimmed)
		if len(fence) < 3 {
			continue
		}
		switch {
		case open == "":
			// A backtick fence's info string cannot contain backticks.
			if fence[0] == '`' && strings.Contains(trimmed[len(fence):], "`") {
				continue
			}
			open = fence
		case fence[0] == open[0] && len(fence) >= len(open) && strings.TrimSpace(trimmed[len(fence):]) == "":
			open = ""
		}
	}
	return open
}

// leadingRun returns the run of '`' or '~' that starts s.
func leadingRun(s string) string {
	if s == "" || (s[0] != '`' && s[0] != '~') {
		return ""
	}
	i := 0
	for i < len(s) && s[i] == s[0] {
		i++
	}
	return s[:i]
}
