package teamshtml

import (
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdownParser is shared by all calls: goldmark parsers keep no state
// between documents, and the mention and emoji parsers below keep none.
var markdownParser = newParser()

func newParser() parser.Parser {
	// Raw HTML must never reach Teams, and Mattermost shows typed tags as
	// text; dropping the two HTML parsers makes "<b>" plain (escaped) text
	// while the Markdown around it still works.
	var blocks []util.PrioritizedValue
	for _, v := range parser.DefaultBlockParsers() {
		if sameType(v.Value, parser.NewHTMLBlockParser()) {
			continue
		}
		blocks = append(blocks, v)
	}
	var inlines []util.PrioritizedValue
	for _, v := range parser.DefaultInlineParsers() {
		if sameType(v.Value, parser.NewRawHTMLParser()) {
			continue
		}
		inlines = append(inlines, v)
	}
	inlines = append(inlines,
		util.Prioritized(mentionParser{}, 450),
		util.Prioritized(emojiParser{}, 460),
		// Before the strikethrough extension's parser (500).
		util.Prioritized(singleTildeParser{}, 490),
	)
	p := parser.NewParser(
		parser.WithBlockParsers(blocks...),
		parser.WithInlineParsers(inlines...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
	)
	// The extensions add their parsers (and renderers, unused here: see
	// newRenderer) to this goldmark instance's parser.
	md := goldmark.New(
		goldmark.WithParser(p),
		goldmark.WithExtensions(extension.Strikethrough, extension.Table, extension.Linkify),
	)
	return md.Parser()
}

// sameType reports whether a parser from goldmark's default list is of the
// same (unexported) type as b; goldmark offers no other way to leave one out.
func sameType(a, b any) bool { return reflect.TypeOf(a) == reflect.TypeOf(b) }

// kindMention is the kind of the node of an "@username" token.
var kindMention = ast.NewNodeKind("TeamsMention")

// mentionNode is an "@username" token as typed (Name keeps the user's case
// and any trailing punctuation; the renderer decides how much of it names a
// user).
type mentionNode struct {
	ast.BaseInline
	Name string
}

func (n *mentionNode) Kind() ast.NodeKind { return kindMention }

func (n *mentionNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Name": n.Name}, nil)
}

// kindEmoji is the kind of the node of a ":name:" shortcode of a system emoji.
var kindEmoji = ast.NewNodeKind("TeamsEmoji")

type emojiNode struct {
	ast.BaseInline
	Name, Char string
}

func (n *emojiNode) Kind() ast.NodeKind { return kindEmoji }

func (n *emojiNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Name": n.Name}, nil)
}

// isUsernameByte reports whether c may appear in a Mattermost username
// (letters, digits, ".", "_" and "-").
func isUsernameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// precededByWord reports whether the character before the trigger would
// make it part of a word ("bob@example", "x:smile:"), where Mattermost sees
// neither a mention nor an emoji.
func precededByWord(block text.Reader) bool {
	r := block.PrecendingCharacter()
	return r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

type mentionParser struct{}

func (mentionParser) Trigger() []byte { return []byte{'@'} }

func (mentionParser) Parse(_ ast.Node, block text.Reader, _ parser.Context) ast.Node {
	if precededByWord(block) {
		return nil
	}
	line, _ := block.PeekLine()
	n := 1
	for n < len(line) && isUsernameByte(line[n]) {
		n++
	}
	// Mattermost usernames start with a letter.
	if n == 1 || !isLetter(line[1]) {
		return nil
	}
	block.Advance(n)
	return &mentionNode{Name: string(line[1:n])}
}

// singleTildeParser keeps a lone "~" as text. GFM strikes through
// "~a~", Mattermost only "~~a~~", and Mattermost users type single tildes
// for channel links ("~town-square").
type singleTildeParser struct{}

func (singleTildeParser) Trigger() []byte { return []byte{'~'} }

func (singleTildeParser) Parse(_ ast.Node, block text.Reader, _ parser.Context) ast.Node {
	line, segment := block.PeekLine()
	if len(line) > 1 && line[1] == '~' || block.PrecendingCharacter() == '~' {
		return nil
	}
	block.Advance(1)
	return ast.NewTextSegment(segment.WithStop(segment.Start + 1))
}

type emojiParser struct{}

func (emojiParser) Trigger() []byte { return []byte{':'} }

func (emojiParser) Parse(_ ast.Node, block text.Reader, _ parser.Context) ast.Node {
	if precededByWord(block) {
		return nil
	}
	line, _ := block.PeekLine()
	n := 1
	for n < len(line) && isEmojiNameByte(line[n]) {
		n++
	}
	if n == 1 || n >= len(line) || line[n] != ':' {
		return nil
	}
	name := strings.ToLower(string(line[1:n]))
	char, ok := emojiChar(name)
	if !ok {
		return nil
	}
	block.Advance(n + 1)
	return &emojiNode{Name: name, Char: char}
}

func isEmojiNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '+' || c == '-'
}

// emojiChar returns the character of a Mattermost system emoji name, from
// the table Mattermost itself uses (model.SystemEmojis: name → code points
// in hex, "-" separated).
func emojiChar(name string) (string, bool) {
	hex, ok := model.SystemEmojis[name]
	if !ok {
		return "", false
	}
	var b strings.Builder
	for _, part := range strings.Split(hex, "-") {
		cp, err := strconv.ParseUint(part, 16, 32)
		if err != nil {
			return "", false // "mattermost" is an image, not a character
		}
		b.WriteRune(rune(cp))
	}
	return b.String(), true
}
