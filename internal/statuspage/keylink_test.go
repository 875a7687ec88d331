package statuspage

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
)

func TestKeyLinks(t *testing.T) {
	tmpl := template.Must(template.New("page").Funcs(funcs()).Parse(pageTemplate))
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, "keyLink", `a/b\xff<c>`); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), `<a href="/keys/a%2Fb%5Cxff%3Cc%3E">a/b\xff&lt;c&gt;</a>`; got != want {
		t.Errorf("keyLink = %s, want %s", got, want)
	}
	is := keySubjects()
	if !is("hot_key") || is("node_down") {
		t.Errorf("keySubject: hot_key %v, node_down %v; want true, false", is("hot_key"), is("node_down"))
	}
	if !strings.Contains(pageTemplate, `{{template "keyLink" .Key}}`) {
		t.Error("the page links no key")
	}
}
