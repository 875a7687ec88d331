package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// richStore publishes a snapshot with nodes, blocks and overrides, so
// that every kind of field is encoded.
func richStore(t *testing.T) *snapshot.Store {
	t.Helper()
	s := snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}, DefaultLimit: 100, DefaultWindow: time.Minute, NodeForgetAfter: time.Minute})
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{
		Info:      snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(ms(0.4)), Version: "7.2.4"},
		Registry:  []snapshot.RegistryEntry{{ID: "node-1", Address: "10.0.0.1:8000", TTL: 20 * time.Second}},
		Overrides: []snapshot.Override{{Key: "<vip>&co", Limit: 5, Window: snapshot.Milliseconds(time.Second)}},
		Counters:  snapshot.Counters{Keys: 2, Top: []snapshot.TopKey{{Key: "user-1", Count: 7, Limit: 100}}},
		Blocks:    []snapshot.Block{{Key: "user-2", Count: 100, Limit: 100}}, BlocksTotal: 1,
	}})
	return s
}

// topLevelKeys are the member names of a JSON object, in order.
func topLevelKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestSnapshotFieldsMatchDocument: the selectable fields are the
// document's members, and a selection of every one encodes the very bytes
// of the whole document.
func TestSnapshotFieldsMatchDocument(t *testing.T) {
	f, err := newSelector()
	if err != nil {
		t.Fatal(err)
	}
	p := richStore(t).Load()
	if diff := cmp.Diff(topLevelKeys(t, p.JSON), f.names); diff != "" {
		t.Errorf("field names (-document +fields):\n%s", diff)
	}
	all := selected(p, f.all, &f.gz).json
	if !bytes.Equal(all, p.JSON) {
		t.Errorf("every field encoded:\n%s\nthe document:\n%s", all, p.JSON)
	}
}

func TestSnapshotFieldsParse(t *testing.T) {
	f, err := newSelector()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give []string
		want []string // fields selected; nil: the whole snapshot
	}{
		{give: []string{"nodes"}, want: []string{"schema_version", "sequence", "generated_at", "nodes"}},
		{give: []string{"violations, nodes"}, want: []string{"schema_version", "sequence", "generated_at", "nodes", "violations"}},
		{give: []string{"nodes", "violations"}, want: []string{"schema_version", "sequence", "generated_at", "nodes", "violations"}},
		{give: []string{"sequence"}, want: []string{"schema_version", "sequence", "generated_at"}},
		{give: []string{strings.Join(f.names, ",")}, want: nil},
	}
	for _, tt := range tests {
		sel, err := f.parse(tt.give)
		if err != nil {
			t.Errorf("parse(%q): %v", tt.give, err)
			continue
		}
		var got []string
		for i, name := range f.names {
			if sel&(1<<i) != 0 {
				got = append(got, name)
			}
		}
		if !cmp.Equal(tt.want, got) {
			t.Errorf("parse(%q) selects %v, want %v", tt.give, got, tt.want)
		}
	}
}

// sectionsAnswer is what a client sees of a /snapshot?sections= answer.
type sectionsAnswer struct {
	Status int
	Keys   []string
	ETag   string
}

func TestSnapshotSections(t *testing.T) {
	s := richStore(t)
	h := newTestHandler(t, s)
	p := s.Load()
	get := func(target string, header map[string]string) sectionsAnswer {
		rec := serve(h, http.MethodGet, target, header)
		a := sectionsAnswer{Status: rec.Code, ETag: rec.Header().Get("ETag")}
		if rec.Code == http.StatusOK {
			a.Keys = topLevelKeys(t, rec.Body.Bytes())
		}
		return a
	}
	nodes := get("/snapshot?sections=nodes,violations", nil)
	want := sectionsAnswer{Status: 200, Keys: []string{"schema_version", "sequence", "generated_at", "nodes", "violations"}, ETag: nodes.ETag}
	if diff := cmp.Diff(want, nodes); diff != "" {
		t.Errorf("sections=nodes,violations (-want +got):\n%s", diff)
	}
	others := map[string]string{
		"whole":      p.ETag,
		"nodes only": get("/snapshot?sections=nodes", nil).ETag,
		"blocks":     get("/snapshot?sections=blocks,violations", nil).ETag,
	}
	for name, etag := range others {
		if etag == nodes.ETag || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
			t.Errorf("ETag of %s %s, of nodes,violations %s: want different quoted tags", name, etag, nodes.ETag)
		}
	}
	if got := get("/snapshot?sections=violations&sections=nodes", nil); got.ETag != nodes.ETag {
		t.Errorf("the same selection written otherwise has ETag %s, want %s", got.ETag, nodes.ETag)
	}
	if got := get("/snapshot?sections=nodes,violations", map[string]string{"If-None-Match": nodes.ETag}); got.Status != http.StatusNotModified {
		t.Errorf("If-None-Match with the selection's ETag: %d, want 304", got.Status)
	}
	if got := get("/snapshot?sections=nodes,violations", map[string]string{"If-None-Match": p.ETag}); got.Status != http.StatusOK {
		t.Errorf("If-None-Match with the whole document's ETag: %d, want 200", got.Status)
	}
	if got := get("/snapshot?sections="+strings.Join(topLevelKeys(t, p.JSON), ","), nil); got.ETag != p.ETag {
		t.Errorf("every section: ETag %s, want the whole document's %s", got.ETag, p.ETag)
	}

	rec := serve(h, http.MethodGet, "/snapshot?sections=nodes,violations", map[string]string{"Accept-Encoding": "gzip"})
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatalf("gzip answer: %v", err)
	}
	plain, _ := io.ReadAll(zr)
	if want := serve(h, http.MethodGet, "/snapshot?sections=nodes,violations", nil).Body.Bytes(); !bytes.Equal(plain, want) {
		t.Errorf("gzip answer unzipped %q, plain %q", plain, want)
	}
}

// TestSelectionsCache: the requests of one selection of one snapshot
// share one encoding, concurrent ones included; a publish starts afresh.
func TestSelectionsCache(t *testing.T) {
	f, err := newSelector()
	if err != nil {
		t.Fatal(err)
	}
	s := richStore(t)
	c := f
	sel, _ := f.parse([]string{"nodes"})
	p := s.Load()
	var wg sync.WaitGroup
	answers := make([]*answer, 8)
	for i := range answers {
		wg.Go(func() { answers[i] = c.get(p, sel) })
	}
	wg.Wait()
	for _, a := range answers {
		if a == nil || a != answers[0] {
			t.Fatalf("concurrent requests of one selection got different encodings")
		}
	}
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{}})
	next := c.get(s.Load(), sel)
	if next == answers[0] || sequenceOf(t, next.json) != p.Snapshot.Sequence+1 {
		t.Error("the next snapshot was answered from the previous one's cache")
	}
	// A request that loaded the older snapshot before the publish is
	// answered right, without taking the cache back.
	if old := c.get(p, sel); sequenceOf(t, old.json) != p.Snapshot.Sequence {
		t.Error("the older snapshot's request got another snapshot")
	}
	if again := c.get(s.Load(), sel); again != next {
		t.Error("an older snapshot's request evicted the newer one's cache")
	}
	// Past the bound, selections are still answered, just not kept.
	var names []string
	for i := 3; i < len(f.names) && len(names) < maxSelections+4; i++ {
		for j := i + 1; j < len(f.names) && len(names) < maxSelections+4; j++ {
			names = append(names, f.names[i]+","+f.names[j])
		}
	}
	for _, n := range names {
		sel, err := f.parse([]string{n})
		if err != nil {
			t.Fatal(err)
		}
		if a := c.get(s.Load(), sel); len(topLevelKeys(t, a.json)) != 5 {
			t.Errorf("selection %s: %s", n, a.json)
		}
	}
	if len(c.entries) > maxSelections {
		t.Errorf("%d selections cached, more than %d", len(c.entries), maxSelections)
	}
}
