package format_test

import (
	"fmt"

	"github.com/teamsnotify/msteams-sync/server/format"
)

// The caller maps a Graph chatMessage into format.Message, converts it,
// fetches Files, and creates the post.
func ExampleConvert() {
	msg := format.Message{
		BodyType: "html",
		Body:     `<p><at id="0">Megan</at>&nbsp;<at id="1">Bowen</at>, @all see https://contoso.com/q3 <emoji id="rocket" alt="🚀" title="Rocket"></emoji></p><attachment id="f1"></attachment>`,
		Mentions: []format.Mention{
			{ID: 0, Text: "Megan", UserID: "aad-megan", Kind: format.MentionUser},
			{ID: 1, Text: "Bowen", UserID: "aad-megan", Kind: format.MentionUser},
		},
		Attachments: []format.Attachment{{
			ID: "f1", ContentType: format.ContentTypeReference,
			ContentURL: "https://contoso.sharepoint.com/sites/s/Shared Documents/q3.xlsx", Name: "q3.xlsx",
		}},
	}
	res, err := format.Convert(msg, format.Options{ResolveUser: func(teamsID string) string {
		if teamsID == "aad-megan" {
			return "megan"
		}
		return ""
	}})
	if err != nil {
		panic(err)
	}

	props := map[string]any{}
	if res.HasLinks {
		props[format.PropRemoveLinkPreview] = "true"
	}
	fmt.Printf("%q\n", res.Markdown)
	fmt.Println(res.Files[0].Kind, res.Files[0].Name)
	fmt.Println(props)
	// Output:
	// "@megan, @\u2060all see [https://contoso.com/q3](https://contoso.com/q3) 🚀"
	// reference q3.xlsx
	// map[remove_link_preview:true]
}

// A code snippet card arrives as a FileRef; the caller fetches the code
// and appends it.
func ExampleFencedCode() {
	fmt.Println(format.FencedCode("print('hi')\n", "Python"))
	// Output:
	// ```python
	// print('hi')
	// ```
}
