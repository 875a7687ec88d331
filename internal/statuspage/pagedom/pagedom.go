// Package pagedom reads the status page's HTML the way a person sees it,
// for tests: the elements of a tag or an id, an attribute, the text with
// the boundaries of blocks and cells as white space, the rows of a table.
//
// Every function takes a nil node as an empty one, so that a test reading
// an element the page lacks fails on its own check rather than panics.
package pagedom

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// Parse parses page as a browser would; the test fails if it cannot.
func Parse(t testing.TB, page string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse the page: %v", err)
	}
	return doc
}

// Walk calls f with every element under n, n left out, in document order,
// until f returns false. It reports whether f never did.
func Walk(n *html.Node, f func(*html.Node) bool) bool {
	if n == nil {
		return true
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && !f(c) {
			return false
		}
		if !Walk(c, f) {
			return false
		}
	}
	return true
}

// Attr is the value of the attribute name of n, or "" if n has none.
func Attr(n *html.Node, name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// ByID is the first element under doc of that id, or nil.
func ByID(doc *html.Node, id string) *html.Node {
	return find(doc, func(n *html.Node) bool { return Attr(n, "id") == id })
}

// First is the first element under n of that tag, or nil.
func First(n *html.Node, tag string) *html.Node {
	return find(n, func(c *html.Node) bool { return c.Data == tag })
}

// find is the first element under n that match accepts, or nil.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	var found *html.Node
	Walk(n, func(c *html.Node) bool {
		if match(c) {
			found = c
		}
		return found == nil
	})
	return found
}

// All is every element under n of that tag, in document order.
func All(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	Walk(n, func(c *html.Node) bool {
		if c.Data == tag {
			out = append(out, c)
		}
		return true
	})
	return out
}

// Position is the index of n among every element under doc in document
// order, or -1 if n is not one of them.
func Position(doc, n *html.Node) int {
	i := -1
	if n == nil || find(doc, func(c *html.Node) bool { i++; return c == n }) == nil {
		return -1
	}
	return i
}
