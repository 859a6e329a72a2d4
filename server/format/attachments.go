package format

import (
	"encoding/json"
	"html"
	"strings"
)

// handleAttachment records what one Graph attachment contributes: a file to
// fetch, the quoted reply, or card text.
func (c *conversion) handleAttachment(a *Attachment) {
	switch a.ContentType {
	case ContentTypeReference:
		if isWebURL(a.ContentURL) {
			c.files = append(c.files, FileRef{Kind: FileReference, URL: a.ContentURL, Name: a.Name, AttachmentID: a.ID})
		}
	case ContentTypeMessageReference, ContentTypeForwardedMessage:
		if c.reply == nil {
			c.reply = parseMessageReference(a)
		}
	case ContentTypeAdaptiveCard:
		if text := c.adaptiveCardText(a.Content); text != "" {
			c.cards = append(c.cards, text)
		}
	case ContentTypeHeroCard, ContentTypeThumbnailCard:
		if text := c.heroCardText(a.Content); text != "" {
			c.cards = append(c.cards, text)
		}
	case ContentTypeCodeSnippet:
		var snippet struct {
			Language       string `json:"language"`
			CodeSnippetURL string `json:"codeSnippetUrl"`
		}
		_ = json.Unmarshal([]byte(a.Content), &snippet) // a bad card still may have ContentURL
		// Fetched with the user's token: only a Graph URL will do.
		u := firstNonEmpty(snippet.CodeSnippetURL, a.ContentURL)
		if c.isGraphURL(u) {
			c.files = append(c.files, FileRef{Kind: FileCodeSnippet, URL: u, Name: a.Name, AttachmentID: a.ID, Language: snippet.Language})
		}
	default:
		// Unknown cards and files: a link is better than silently losing
		// them, and nothing is better than raw JSON.
		if isWebURL(a.ContentURL) {
			c.cards = append(c.cards, markdownLink(firstNonEmpty(a.Name, "attachment"), a.ContentURL))
		}
	}
}

func parseMessageReference(a *Attachment) *QuotedReply {
	var ref struct {
		MessageID      string `json:"messageId"`
		MessagePreview string `json:"messagePreview"`
		MessageSender  struct {
			User        *struct{ DisplayName string } `json:"user"`
			Application *struct{ DisplayName string } `json:"application"`
		} `json:"messageSender"`
	}
	if err := json.Unmarshal([]byte(a.Content), &ref); err != nil && a.ID == "" {
		return nil
	}
	reply := &QuotedReply{MessageID: firstNonEmpty(ref.MessageID, a.ID), Preview: strings.TrimSpace(ref.MessagePreview)}
	switch {
	case ref.MessageSender.User != nil:
		reply.Sender = strings.TrimSpace(ref.MessageSender.User.DisplayName)
	case ref.MessageSender.Application != nil:
		reply.Sender = strings.TrimSpace(ref.MessageSender.Application.DisplayName)
	}
	return reply
}

// renderQuote renders a quoted reply as "> **Sender**: preview".
func (c *conversion) renderQuote(r *QuotedReply) (string, error) {
	sender, err := c.boldText(r.Sender)
	if err != nil {
		return "", err
	}
	preview, err := c.inlineText(r.Preview)
	if err != nil {
		return "", err
	}
	switch {
	case sender != "" && preview != "":
		return "> " + sender + ": " + preview, nil
	case sender != "":
		return "> " + sender, nil
	case preview != "":
		return "> " + preview, nil
	}
	return "> (quoted message)", nil
}

// adaptiveCardText extracts the readable text of an Adaptive Card: text blocks, rich text, fact sets, and URL
// actions as links. It is rendered to HTML (see cardHTML) and converted like message text.
func (c *conversion) adaptiveCardText(content string) string {
	var card map[string]any
	if err := json.Unmarshal([]byte(content), &card); err != nil {
		return ""
	}
	var blocks []string
	walkCardElements(card["body"], &blocks)
	walkCardElements(card["actions"], &blocks)
	return c.cardText(strings.Join(blocks, ""))
}

// cardText converts card HTML exactly as message text is converted; a card the converter cannot take is
// dropped rather than shown raw.
func (c *conversion) cardText(body string) string {
	md, err := c.convertHTML(body)
	if err != nil {
		return ""
	}
	return md
}

func walkCardElements(v any, blocks *[]string) {
	switch el := v.(type) {
	case []any:
		for _, item := range el {
			walkCardElements(item, blocks)
		}
	case map[string]any:
		walkCardElement(el, blocks)
	}
}

func walkCardElement(el map[string]any, blocks *[]string) {
	str := func(key string) string {
		s, _ := el[key].(string)
		return strings.TrimSpace(s)
	}
	switch str("type") {
	case "TextBlock":
		if text := str("text"); text != "" {
			*blocks = append(*blocks, cardHTML(text))
		}
	case "RichTextBlock":
		var b strings.Builder
		if inlines, ok := el["inlines"].([]any); ok {
			for _, in := range inlines {
				switch run := in.(type) {
				case string:
					b.WriteString(run)
				case map[string]any:
					s, _ := run["text"].(string)
					b.WriteString(s)
				}
			}
		}
		// Text runs are plain text in Teams: no Markdown.
		if text := strings.TrimSpace(b.String()); text != "" {
			*blocks = append(*blocks, textToHTML(text))
		}
	case "FactSet":
		var lines []string
		facts, _ := el["facts"].([]any)
		for _, f := range facts {
			fact, ok := f.(map[string]any)
			if !ok {
				continue
			}
			title, _ := fact["title"].(string)
			value, _ := fact["value"].(string)
			title, value = cardInlineHTML(oneLine(title)), cardInlineHTML(oneLine(value))
			switch {
			case title != "" && value != "":
				lines = append(lines, "<li><strong>"+title+"</strong>: "+value+"</li>")
			case title != "" || value != "":
				lines = append(lines, "<li>"+title+value+"</li>")
			}
		}
		if len(lines) > 0 {
			*blocks = append(*blocks, "<ul>"+strings.Join(lines, "")+"</ul>")
		}
	case "Action.OpenUrl":
		if u := str("url"); isWebURL(u) {
			*blocks = append(*blocks, `<p><a href="`+html.EscapeString(u)+`">`+html.EscapeString(oneLine(firstNonEmpty(str("title"), u)))+`</a></p>`)
		}
	case "ActionSet":
		walkCardElements(el["actions"], blocks)
	case "ColumnSet":
		walkCardElements(el["columns"], blocks)
	case "Table":
		rows, _ := el["rows"].([]any)
		for _, r := range rows {
			if row, ok := r.(map[string]any); ok {
				walkCardElements(row["cells"], blocks)
			}
		}
	default:
		// Container, Column, TableCell and unknown containers hold items.
		walkCardElements(el["items"], blocks)
	}
}

// heroCardText renders a Bot Framework hero or thumbnail card: bold title,
// subtitle, text, and its openUrl buttons as links.
func (c *conversion) heroCardText(content string) string {
	var card struct {
		Title    string `json:"title"`
		Subtitle string `json:"subtitle"`
		Text     string `json:"text"`
		Buttons  []struct {
			Type  string `json:"type"`
			Title string `json:"title"`
			Value any    `json:"value"`
		} `json:"buttons"`
	}
	if err := json.Unmarshal([]byte(content), &card); err != nil {
		return ""
	}
	var blocks []string
	if title, err := c.boldText(card.Title); err == nil && title != "" {
		blocks = append(blocks, title)
	}
	if subtitle, err := c.inlineText(card.Subtitle); err == nil && subtitle != "" {
		blocks = append(blocks, subtitle)
	}
	if text := strings.TrimSpace(card.Text); text != "" {
		// Card text is in Teams' card Markdown, like Adaptive Card text.
		if md := c.cardText(cardHTML(text)); md != "" {
			blocks = append(blocks, md)
		}
	}
	for _, b := range card.Buttons {
		u, _ := b.Value.(string)
		if strings.EqualFold(b.Type, "openUrl") && isWebURL(u) {
			blocks = append(blocks, markdownLink(firstNonEmpty(b.Title, u), u))
		}
	}
	return strings.Join(blocks, "\n\n")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// markdownLink renders [text](url) with the characters that would end the
// text or the destination early escaped.
func markdownLink(text, u string) string {
	text = strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`).Replace(oneLine(text))
	u = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E").Replace(u)
	return "[" + escapeTypedText(text) + "](" + u + ")"
}
