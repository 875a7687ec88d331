package pagedom

import (
	"strings"

	"golang.org/x/net/html"
)

// Text is the text under n, its runs of white space made one space and
// trimmed; the boundaries of blocks, cells, headings, list items and line
// breaks count as white space, those of inline elements do not.
func Text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	collectText(&b, n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// collectText writes the text under n to b, a space at each boundary of a
// block.
func collectText(b *strings.Builder, n *html.Node) {
	if n.Type == html.TextNode {
		b.WriteString(n.Data)
	}
	block := n.Type == html.ElementNode && isBlock(n.Data)
	if block {
		b.WriteByte(' ')
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		collectText(b, c)
	}
	if block {
		b.WriteByte(' ')
	}
}

// isBlock reports whether Text treats the boundaries of an element of
// that tag as white space.
func isBlock(tag string) bool {
	switch tag {
	case "div", "p", "tr", "td", "th", "dt", "dd", "h1", "h2", "h3", "li", "br":
		return true
	}
	return false
}

// Rows is the Text of each cell of each body row of the tables under n,
// in document order; a row of class "group", the header of a group of
// rows, is left out.
func Rows(n *html.Node) [][]string {
	var out [][]string
	for _, tr := range All(n, "tr") {
		if tr.Parent.Data != "tbody" || Attr(tr, "class") == "group" {
			continue
		}
		var cells []string
		for _, td := range All(tr, "td") {
			cells = append(cells, Text(td))
		}
		out = append(out, cells)
	}
	return out
}
