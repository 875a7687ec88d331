package pagedom

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

// page has blocks, inline elements, a grouped table and a second table.
const page = `<!doctype html><title>OK · observerd</title>
<h1><span id="state">OK</span> <small>observerd</small></h1>
<div id="summary"><p>all<b>good</b></p><p>two<br>lines</p><ul><li>a</li><li>b</li></ul></div>
<table id="nodes"><thead><tr><th>id</th><th>state</th></tr></thead><tbody>
<tr class="group"><td colspan="2">group one</td></tr>
<tr><td> node-1 </td><td><code>up</code></td></tr>
<tr><td>node-2</td><td>down<span>,</span> for 3s</td></tr>
</tbody></table>
<table id="empty"><tbody></tbody></table>
<a href="/snapshot" id="link">json</a>`

// TestText: blocks, cells, list items and breaks part words; inline
// elements do not.
func TestText(t *testing.T) {
	doc := Parse(t, page)
	for _, tt := range []struct {
		give string
		want string
	}{
		{"state", "OK"},
		{"summary", "allgood two lines a b"},
		{"nodes", "id state group one node-1 up node-2 down, for 3s"},
		{"empty", ""},
		{"missing", ""},
	} {
		if got := Text(ByID(doc, tt.give)); got != tt.want {
			t.Errorf("Text(#%s) = %q, want %q", tt.give, got, tt.want)
		}
	}
	if got, want := Text(First(doc, "h1")), "OK observerd"; got != want {
		t.Errorf("Text(h1) = %q, want %q", got, want)
	}
}

// TestRows: body rows only, group headers left out, a missing table none.
func TestRows(t *testing.T) {
	doc := Parse(t, page)
	for _, tt := range []struct {
		give string
		want [][]string
	}{
		{"nodes", [][]string{{"node-1", "up"}, {"node-2", "down, for 3s"}}},
		{"empty", nil},
		{"missing", nil},
	} {
		if diff := cmp.Diff(tt.want, Rows(ByID(doc, tt.give))); diff != "" {
			t.Errorf("Rows(#%s) (-want +got):\n%s", tt.give, diff)
		}
	}
}

// TestFind: the elements of a tag, an id, an attribute and a position.
func TestFind(t *testing.T) {
	doc := Parse(t, page)
	if got := len(All(doc, "table")); got != 2 {
		t.Errorf("%d tables, want 2", got)
	}
	if got := All(nil, "table"); got != nil {
		t.Errorf("All(nil) = %v, want nil", got)
	}
	if got := First(doc, "table"); got != ByID(doc, "nodes") {
		t.Errorf("the first table is not #nodes")
	}
	if got := First(doc, "img"); got != nil {
		t.Errorf("First(img) = %v, want nil", got)
	}
	link := ByID(doc, "link")
	if got := Attr(link, "href"); got != "/snapshot" {
		t.Errorf("href %q, want /snapshot", got)
	}
	if got := Attr(link, "class") + Attr(nil, "href"); got != "" {
		t.Errorf("absent attributes %q, want none", got)
	}
	if s, n, l := Position(doc, ByID(doc, "summary")), Position(doc, ByID(doc, "nodes")), Position(doc, link); s < 0 || s > n || n > l {
		t.Errorf("positions summary %d, nodes %d, link %d: want that order", s, n, l)
	}
	if got := Position(doc, nil); got != -1 {
		t.Errorf("Position(nil) = %d, want -1", got)
	}
	if got := Position(doc, &html.Node{}); got != -1 {
		t.Errorf("Position of a node elsewhere = %d, want -1", got)
	}
}

// TestWalkStops: Walk visits elements in document order and stops at the
// first false.
func TestWalkStops(t *testing.T) {
	doc := Parse(t, page)
	var seen []string
	done := Walk(ByID(doc, "summary"), func(n *html.Node) bool {
		seen = append(seen, n.Data)
		return n.Data != "br"
	})
	if want := []string{"p", "b", "p", "br"}; done || !cmp.Equal(seen, want) {
		t.Errorf("Walk saw %q, done %v; want %q, stopped", seen, done, want)
	}
	if !Walk(nil, func(*html.Node) bool { return false }) {
		t.Error("Walk(nil) stopped")
	}
}
