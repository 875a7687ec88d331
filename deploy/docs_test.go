package deploy

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/observerd/observerd/internal/snapshot"
)

// The project's own documents, from the package directory.
const (
	docsDir     = "../docs"
	metricsDoc  = "../docs/metrics.md"
	runbooksDoc = "../docs/runbooks.md"
	docsIndex   = "../docs/README.md"
)

// Headings of the two tables of docs/metrics.md the tests read.
const (
	metricsHeading  = "## Metrics on /metrics"
	snapshotHeading = "## Fields of /snapshot"
)

// section returns the part of a Markdown text from the line heading to the
// next heading of the same level, or fails the test when there is none.
func section(t *testing.T, file, text, heading string) string {
	t.Helper()
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("%s has no %q section", file, heading)
	}
	rest := text[start+1:]
	level := heading[:strings.IndexByte(heading, ' ')+1]
	if end := strings.Index(rest[1:], "\n"+level); end >= 0 {
		rest = rest[:end+1]
	}
	return rest
}

// tableRow is one row of a Markdown table whose first cell is code: the
// code and the next two cells, trimmed.
var tableRow = regexp.MustCompile("(?m)^\\|\\s*`([^`]+)`\\s*\\|([^|\\n]*)\\|([^|\\n]*)\\|")

// docRow is one documented name with its next two cells.
type docRow struct {
	second, third string
}

// tableRows reads the rows of every table in text, by the code of their
// first cell; a name listed twice is an error.
func tableRows(t *testing.T, file, text string) map[string]docRow {
	t.Helper()
	out := map[string]docRow{}
	for _, m := range tableRow.FindAllStringSubmatch(text, -1) {
		if _, dup := out[m[1]]; dup {
			t.Errorf("%s lists %s twice", file, m[1])
		}
		out[m[1]] = docRow{second: strings.TrimSpace(m[2]), third: strings.TrimSpace(m[3])}
	}
	return out
}

// splitLabels reads a cell of comma-separated label names, sorted.
func splitLabels(cell string) []string {
	var out []string
	for _, l := range strings.Split(cell, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return sorted(out)
}

// documentedMetric is a metric as docs/metrics.md's table gives it.
type documentedMetric struct {
	Type   string
	Labels []string
}

// TestMetricsDocListsEveryMetric: the metric table of docs/metrics.md lists
// every metric observerd exports, each with its type and labels, and
// nothing else.
func TestMetricsDocListsEveryMetric(t *testing.T) {
	text := section(t, metricsDoc, readText(t, metricsDoc), metricsHeading)
	got := map[string]documentedMetric{}
	for name, row := range tableRows(t, metricsDoc, text) {
		got[name] = documentedMetric{Type: row.second, Labels: splitLabels(row.third)}
	}
	want := map[string]documentedMetric{}
	for name, m := range exportedMetrics(t) {
		want[name] = documentedMetric{Type: m.Type, Labels: m.Labels}
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s's metric table (name: type, labels) differs from what observerd exports (-exported +documented):\n%s", metricsDoc, diff)
	}
}

// TestMetricsDocListsEverySnapshotField: the field table of
// docs/metrics.md lists every field of the /snapshot document, derived
// from the json tags of snapshot.Snapshot, each with its JSON type, and
// nothing else.
func TestMetricsDocListsEverySnapshotField(t *testing.T) {
	text := section(t, metricsDoc, readText(t, metricsDoc), snapshotHeading)
	got := map[string]string{}
	for path, row := range tableRows(t, metricsDoc, text) {
		got[path] = row.second
	}
	want := snapshotFields(t)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s's field table (path: type) differs from snapshot.Snapshot's JSON (-schema +documented):\n%s", metricsDoc, diff)
	}
}

// TestSnapshotFieldsDerived guards the derivation the field table is
// checked against.
func TestSnapshotFieldsDerived(t *testing.T) {
	fields := snapshotFields(t)
	for path, want := range map[string]string{
		"schema_version":               "integer",
		"generated_at":                 "time",
		"sources":                      "object",
		"sources.*.last_success":       "time or null",
		"sources.*.errors.*":           "string",
		"nodes":                        "array",
		"nodes[].check_latency_p99_ms": "number or null",
		"nodes[].scrape_up":            "boolean or null",
		"counters.top[].ttl_ms":        "integer",
		"counters.top[].api_count":     "integer or null",
		"traffic.allowed_per_second":   "number or null",
	} {
		if got := fields[path]; got != want {
			t.Errorf("field %s: type %q, want %q", path, got, want)
		}
	}
}

// snapshotFields derives every field path of the /snapshot document from
// the json tags of snapshot.Snapshot, with its JSON type: "[]" stands for
// every element of an array, "*" for every key of an object keyed by
// name.
func snapshotFields(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	fieldsOf(t, out, "", reflect.TypeFor[snapshot.Snapshot]())
	return out
}

// fieldsOf records the fields of the struct type st under prefix.
func fieldsOf(t *testing.T, out map[string]string, prefix string, st reflect.Type) {
	t.Helper()
	for f := range st.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
			continue
		case name == "" && f.Anonymous:
			fieldsOf(t, out, prefix, f.Type)
			continue
		case name == "":
			name = f.Name
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		describe(t, out, name, f.Type)
	}
}

// jsonLeaves are the schema's types that write their own JSON, and the
// JSON type each writes.
var jsonLeaves = map[reflect.Type]string{
	reflect.TypeFor[time.Time]():             "time",
	reflect.TypeFor[snapshot.Float]():        "number or null",
	reflect.TypeFor[snapshot.Duration]():     "number or null",
	reflect.TypeFor[snapshot.Milliseconds](): "integer",
}

var marshaler = reflect.TypeFor[json.Marshaler]()

// describe records path with the JSON type of typ, and the fields within.
func describe(t *testing.T, out map[string]string, path string, typ reflect.Type) {
	t.Helper()
	suffix := ""
	if typ.Kind() == reflect.Pointer {
		typ, suffix = typ.Elem(), " or null"
	}
	if leaf, ok := jsonLeaves[typ]; ok {
		if strings.HasSuffix(leaf, suffix) {
			suffix = ""
		}
		out[path] = leaf + suffix
		return
	}
	if typ.Implements(marshaler) || reflect.PointerTo(typ).Implements(marshaler) {
		t.Fatalf("field %s: %s writes its own JSON: add its JSON type to jsonLeaves", path, typ)
	}
	switch typ.Kind() {
	case reflect.Struct:
		out[path] = "object" + suffix
		fieldsOf(t, out, path, typ)
	case reflect.Slice, reflect.Array:
		out[path] = "array" + suffix
		describe(t, out, path+"[]", typ.Elem())
	case reflect.Map:
		out[path] = "object" + suffix
		describe(t, out, path+".*", typ.Elem())
	case reflect.String:
		out[path] = "string" + suffix
	case reflect.Bool:
		out[path] = "boolean" + suffix
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		out[path] = "integer" + suffix
	case reflect.Float32, reflect.Float64:
		out[path] = "number" + suffix
	default:
		t.Fatalf("field %s: no JSON type known for %s", path, typ)
	}
}

// TestReadmeLinksMetricsDoc: the README's Metrics section is an overview
// that sends the reader to docs/metrics.md.
func TestReadmeLinksMetricsDoc(t *testing.T) {
	text := section(t, "../README.md", readText(t, "../README.md"), "## Metrics")
	if !strings.Contains(text, "](docs/metrics.md)") {
		t.Errorf("README.md's Metrics section does not link docs/metrics.md")
	}
}

// TestDocsIndex: docs/README.md links every document of docs/.
func TestDocsIndex(t *testing.T) {
	index := readText(t, docsIndex)
	docs, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 2 {
		t.Fatalf("%s holds %d documents, want the index and more", docsDir, len(docs))
	}
	for _, d := range docs {
		name := filepath.Base(d)
		if name != "README.md" && !strings.Contains(index, "]("+name+")") {
			t.Errorf("%s does not link %s", docsIndex, name)
		}
	}
}

// citedDoc finds a document of docs/ named in any text.
var citedDoc = regexp.MustCompile(`\bdocs/[a-z0-9_-]+\.md\b`)

// TestCitedDocsExist: every docs/*.md the code, the deployment files or
// the documents name exists.
func TestCitedDocsExist(t *testing.T) {
	cited := map[string][]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != ".." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !slices.Contains([]string{".go", ".md", ".yml", ".yaml", ".json"}, filepath.Ext(path)) && filepath.Base(path) != "Makefile" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, doc := range citedDoc.FindAllString(string(b), -1) {
			cited[doc] = append(cited[doc], path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the repository: %v", err)
	}
	if len(cited) == 0 {
		t.Fatal("nothing cites a document of docs/: the walk is broken")
	}
	for doc, by := range cited {
		if _, err := os.Stat(filepath.Join("..", doc)); err != nil {
			t.Errorf("%s is cited by %s but does not exist", doc, strings.Join(slices.Compact(by), ", "))
		}
	}
}

// mdLink is a Markdown link's target.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocLinks: every relative link of the documents and of the README
// points at a file that exists, and every anchor at one of its headings.
func TestDocLinks(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range append(files, "../README.md") {
		for _, m := range mdLink.FindAllStringSubmatch(readText(t, file), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
			}
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s links %s, which does not exist", file, target)
				continue
			}
			if anchor == "" {
				continue
			}
			if _, ok := anchors(readText(t, dest))[anchor]; !ok {
				t.Errorf("%s links %s: %s has no heading with anchor #%s", file, target, dest, anchor)
			}
		}
	}
}
