package statuspage

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// parse parses a page as a browser would.
func parse(t testing.TB, page string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse the page: %v", err)
	}
	return doc
}

// walk calls f with every element under n, in document order, until f
// returns false.
func walk(n *html.Node, f func(*html.Node) bool) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && !f(c) {
			return false
		}
		if !walk(c, f) {
			return false
		}
	}
	return true
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// byID returns the element of that id, or nil.
func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) bool {
		if attr(n, "id") == id {
			found = n
			return false
		}
		return true
	})
	return found
}

// byTag returns every element of that tag under n, in document order.
func byTag(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	walk(n, func(c *html.Node) bool {
		if c.Data == tag {
			out = append(out, c)
		}
		return true
	})
	return out
}

// text is the text under n, its runs of white space made one space; the
// boundaries of blocks and cells count as white space.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var collect func(*html.Node)
	collect = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		block := n.Type == html.ElementNode && isBlock(n.Data)
		if block {
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			collect(c)
		}
		if block {
			b.WriteByte(' ')
		}
	}
	collect(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// isBlock reports whether text treats the boundaries of an element of
// that tag as white space.
func isBlock(tag string) bool {
	switch tag {
	case "div", "p", "tr", "td", "th", "dt", "dd", "h1", "h2", "h3", "li", "br":
		return true
	}
	return false
}

// rows returns the text of each cell of each body row of the table under
// n, header rows of groups left out.
func rows(n *html.Node) [][]string {
	var out [][]string
	for _, tr := range byTag(n, "tr") {
		if tr.Parent.Data != "tbody" || attr(tr, "class") == "group" {
			continue
		}
		var cells []string
		for _, td := range byTag(tr, "td") {
			cells = append(cells, text(td))
		}
		out = append(out, cells)
	}
	return out
}

// position is the index of n among every element of doc in document
// order, or -1.
func position(doc, n *html.Node) int {
	i, at := 0, -1
	walk(doc, func(c *html.Node) bool {
		if c == n {
			at = i
			return false
		}
		i++
		return true
	})
	return at
}

// htmlNode is a node of a parsed page.
type htmlNode = html.Node
