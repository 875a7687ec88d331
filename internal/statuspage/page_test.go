package statuspage

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/html"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/statuspage/pagedom"
)

// TestPageShowsTheSnapshot renders a full snapshot of a real Store and
// reads every part of the page back.
func TestPageShowsTheSnapshot(t *testing.T) {
	f := newFixture(t)
	f.judge(fullViolations(), []snapshot.UnknownInvariant{{Invariant: "high_latency", Reason: "source prometheus is stale"}})
	f.publishAll()
	f.clock.Add(2 * time.Second)
	doc := pagedom.Parse(t, body(t, newTestPage(f, Options{Refresh: 500 * time.Millisecond})))

	if got := pagedom.Text(pagedom.First(doc, "title")); got != "CRITICAL · observerd" {
		t.Errorf("title %q", got)
	}
	// The violations, critical first, each with its age.
	wantViolations := [][]string{
		{"node_down", "node-2", `node "node-2" (10.0.0.2:8000) is unreachable: connection refused`, "11:57:50, for 2m12s"},
		{"counter_without_ttl", "leaky", "counter leaky has no TTL", "11:50:00, for 10m2s"},
		{"over_limit", hostileKey, "key " + hostileKey + " has 60 requests in its window, over its limit 50 " +
			"requests of " + hostileKey + " in its window = 60 (redis, 11:59:58) its count in the node's /api/counters = 58 (" + hostileNode + ", 11:59:59) " +
			"share above its limit = 0.2 (observerd, 12:00:00) a figure not known = – (prometheus, 12:00:00) " +
			"likely causes, in the order to check them: its override is not enforced by /check: compare its limit with the one its callers send a writer that says " + hostileError,
			"11:59:00, for 1m2s"},
		{"sequence_key_leak", "redis", "3 orphan :seq keys", "11:55:00, for 5m2s"},
	}
	if diff := cmp.Diff(wantViolations, pagedom.Rows(pagedom.ByID(doc, "violations-table"))); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	var groups []string
	for _, tr := range pagedom.All(pagedom.ByID(doc, "violations"), "tr") {
		if pagedom.Attr(tr, "class") == "group" {
			groups = append(groups, pagedom.Text(tr))
		}
	}
	for _, h := range pagedom.All(pagedom.ByID(doc, "violations"), "h3") {
		groups = append(groups, pagedom.Text(h))
	}
	if want := []string{"critical (1)", "warning (2)", "info (1)", "Not judged now (1)"}; !cmp.Equal(groups, want) {
		t.Errorf("violation groups %q, want %q", groups, want)
	}
	if got, want := pagedom.Rows(pagedom.ByID(doc, "unknown")), [][]string{{"high_latency", "source prometheus is stale"}}; !cmp.Equal(got, want) {
		t.Errorf("unknown invariants %q, want %q", got, want)
	}
	if v, n := pagedom.Position(doc, pagedom.ByID(doc, "violations")), pagedom.Position(doc, pagedom.ByID(doc, "nodes")); v < 0 || v > n {
		t.Errorf("violations at element %d, nodes at %d: the violations must come first", v, n)
	}

	tests := []struct {
		id   string
		want string
	}{
		{"state", "CRITICAL"},
		{"summary", "1 critical · 2 warning · 1 info · source prometheus stale · 1 invariant not judged"},
		{"sequence", "#3"},
		{"allowed-per-second", "40.25"},
		{"blocked-per-second", "1.25"},
		{"counter-keys", "6"},
		{"requests-in-window", "187"},
		{"blocked-keys", "2"},
		{"over-limit-keys", "2"},
		{"keys-without-ttl", "1"},
		{"keys-ttl-beyond-window", "4"},
		{"orphan-sequence-keys", "3"},
		{"wrong-type-keys", "1"},
		{"near-limit-keys", "4"},
		{"near-limit-heading", "Near their limit (showing 3 of 4)"},
		{"walked-by", "observer-2"},
		{"walked-at", "11:59:57 (5.0s ago)"},
	}
	for _, tt := range tests {
		if got := pagedom.Text(pagedom.ByID(doc, tt.id)); got != tt.want {
			t.Errorf("#%s = %q, want %q", tt.id, got, tt.want)
		}
	}
	checkTables(t, doc)
	checkLinks(t, doc)
}

// checkTables compares the tables of the full fixture's page.
func checkTables(t *testing.T, doc *html.Node) {
	t.Helper()
	tests := []struct {
		id   string
		want [][]string
	}{
		{"sources", [][]string{
			{"ratelimiter", "ok", "3.0s ago", "12.5ms", "0", "1", "10.0.0.2:8000 /health: dial tcp 10.0.0.2:8000: connect: connection refused 10.0.0.3:8000 /api/counters: " + hostileError},
			{"redis", "ok", "2.0s ago", "30.0ms", "0", "0", "–"},
			{"prometheus", "stale", "42.0s ago", "5.0s", "2", "7", "query check_latency_p99: " + hostileError + " blocked_rate: bad_data: parse error"},
		}},
		{"nodes", [][]string{
			{hostileNode, "10.0.0.3:8000", "yes", "yes", "3.00ms", "–", "–", "–", "–", "/api/counters: " + hostileError},
			{"node-1", "10.0.0.1:8000", "yes", "yes", "1.50ms", "4.75ms", "40.25", "1.25", "up", "–"},
			{"node-2", "10.0.0.2:8000", "yes", "no", "–", "–", "–", "–", "down", "/health: dial tcp 10.0.0.2:8000: connect: connection refused"},
		}},
		{"top-keys", [][]string{
			{"hot", "60", "50", "0", "30.0s", "58"},
			{"leaky", "12", "50", "38", "no TTL", "–"},
			{hostileKey, "6", "5", "0", "1.0s", "6"},
		}},
		{"blocks", [][]string{{"hot", "60", "50"}, {hostileKey, "6", "5"}}},
		{"near-limit", [][]string{{"ghost", "0", "0", "limit 0"}, {"hot", "60", "50", "120%"}, {hostileKey, "6", "5", "120%"}}},
		{"overrides", [][]string{{hostileKey, "5", "1s"}, {"batch", "1000", "1h"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, pagedom.Rows(pagedom.ByID(doc, tt.id))); diff != "" {
			t.Errorf("table #%s (-want +got):\n%s", tt.id, diff)
		}
	}
	redis := pagedom.Text(pagedom.ByID(doc, "redis"))
	for _, want := range []string{"connected yes", "ping 0.25ms", "version 7.2.4", "role master", "used memory 3.0 MiB", "clients 7", "keys in db 12",
		"Last walk of the keyspace: 1.843s at 3 keys/s, 12% of Redis's time by commandstats within its budget of 15%."} {
		if !strings.Contains(redis, want) {
			t.Errorf("redis section %q lacks %q", redis, want)
		}
	}
	if got, want := pagedom.Text(pagedom.ByID(doc, "limits")), "Default: 50 requests per 30s (from api)."; !strings.Contains(got, want) {
		t.Errorf("limits %q lack %q", got, want)
	}
}

// checkLinks: the links are relative, so that the page works behind a
// path prefix, and the version is shown.
func checkLinks(t *testing.T, doc *html.Node) {
	t.Helper()
	var hrefs []string
	for _, a := range pagedom.All(pagedom.First(doc, "header"), "a") {
		hrefs = append(hrefs, pagedom.Attr(a, "href"))
	}
	if want := []string{"snapshot", "metrics", "healthz", "readyz"}; !cmp.Equal(hrefs, want) {
		t.Errorf("links %q, want %q", hrefs, want)
	}
	if got := pagedom.Text(pagedom.First(doc, "footer")); !strings.Contains(got, "observerd 1.2.3-test") {
		t.Errorf("footer %q lacks the version", got)
	}
}

// TestPageEscapesPeerStrings: a key, a node id or an error text made of
// markup is shown as text; it adds no element and no attribute.
func TestPageEscapesPeerStrings(t *testing.T) {
	f := newFixture(t)
	f.judge(fullViolations(), nil)
	f.publishAll()
	w := get(t, newTestPage(f, Options{}))
	page := w.Body.String()
	for _, raw := range []string{hostileKey, hostileNode, "<img"} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	doc := pagedom.Parse(t, page)
	if scripts := pagedom.All(doc, "script"); len(scripts) != 1 || pagedom.Text(scripts[0]) != strings.Join(strings.Fields(script), " ") {
		t.Errorf("%d script elements, want the page's own only", len(scripts))
	}
	if n := len(pagedom.All(doc, "img")) + len(pagedom.All(doc, "b")); n != 0 {
		t.Errorf("%d img or b elements: markup from a peer became elements", n)
	}
	pagedom.Walk(doc, func(n *html.Node) bool {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has attribute %s=%q", n.Data, a.Key, a.Val)
			}
		}
		return true
	})
	if got := pagedom.Text(pagedom.ByID(doc, "top-keys")); !strings.Contains(got, hostileKey) {
		t.Errorf("top keys %q do not show %q as text", got, hostileKey)
	}
	if got := pagedom.Text(pagedom.ByID(doc, "nodes")); !strings.Contains(got, hostileNode) {
		t.Errorf("nodes %q do not show %q as text", got, hostileNode)
	}
}

// TestPageShowsEvidenceAndCauses: under its message, a violation lists
// its evidence (what = value (source, time)) in its order and its causes
// numbered in theirs, all of it text however much a peer's names look
// like markup; a violation without either shows no list at all.
func TestPageShowsEvidenceAndCauses(t *testing.T) {
	f := newFixture(t)
	vs := fullViolations()
	vs[1].Evidence, vs[1].Causes = []snapshot.Evidence{}, []string{} // sequence_key_leak: empty, not null
	f.judge(vs, nil)
	f.publishAll()
	doc := pagedom.Parse(t, body(t, newTestPage(f, Options{})))

	var withLists []string
	for _, tr := range pagedom.All(pagedom.ByID(doc, "violations-table"), "tr") {
		if len(pagedom.All(tr, "ul"))+len(pagedom.All(tr, "ol"))+len(pagedom.All(tr, "p")) > 0 {
			withLists = append(withLists, pagedom.Text(pagedom.First(tr, "td")))
		}
	}
	if want := []string{"over_limit"}; !cmp.Equal(withLists, want) {
		t.Errorf("violations with evidence or causes shown: %q, want %q", withLists, want)
	}

	var evidence, times, causes []string
	for _, ul := range pagedom.All(pagedom.ByID(doc, "violations-table"), "ul") {
		if pagedom.Attr(ul, "class") != "evidence" {
			t.Errorf("a list of class %q in the violations", pagedom.Attr(ul, "class"))
		}
		for _, li := range pagedom.All(ul, "li") {
			evidence = append(evidence, pagedom.Text(li))
		}
		for _, tm := range pagedom.All(ul, "time") {
			times = append(times, pagedom.Attr(tm, "datetime"))
		}
	}
	for _, ol := range pagedom.All(pagedom.ByID(doc, "violations-table"), "ol") {
		for _, li := range pagedom.All(ol, "li") {
			causes = append(causes, pagedom.Text(li))
		}
	}
	wantEvidence := []string{
		"requests of " + hostileKey + " in its window = 60 (redis, 11:59:58)",
		"its count in the node's /api/counters = 58 (" + hostileNode + ", 11:59:59)",
		"share above its limit = 0.2 (observerd, 12:00:00)",
		"a figure not known = – (prometheus, 12:00:00)",
	}
	if diff := cmp.Diff(wantEvidence, evidence); diff != "" {
		t.Errorf("evidence (-want +got):\n%s", diff)
	}
	if want := []string{"2026-03-01T11:59:58Z", "2026-03-01T11:59:59Z", "2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z"}; !cmp.Equal(times, want) {
		t.Errorf("evidence times %q, want %q", times, want)
	}
	wantCauses := []string{"its override is not enforced by /check: compare its limit with the one its callers send", "a writer that says " + hostileError}
	if diff := cmp.Diff(wantCauses, causes); diff != "" {
		t.Errorf("causes (-want +got):\n%s", diff)
	}

	// Only the page's own elements: the peer's markup stays text.
	pagedom.Walk(pagedom.ByID(doc, "violations-table"), func(n *html.Node) bool {
		switch n.Data {
		case "img", "b", "script":
			t.Errorf("<%s> in the violations: markup from a peer became an element", n.Data)
		}
		return true
	})
	page := body(t, newTestPage(f, Options{}))
	for _, raw := range []string{"requests of " + hostileKey, "(" + hostileNode, "says " + hostileError} {
		if strings.Contains(page, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
}

// TestPagePolicyAllowsItsOwnAssetsOnly: the Content-Security-Policy names
// the hashes of the page's style sheet and script, as the browser computes
// them from the page, and nothing else runs.
func TestPagePolicyAllowsItsOwnAssetsOnly(t *testing.T) {
	f := newFixture(t)
	f.publishAll()
	for _, name := range []string{"page", "waiting"} {
		p := newTestPage(f, Options{})
		if name == "waiting" {
			p = newTestPage(newFixture(t), Options{})
		}
		w := get(t, p)
		policy := w.Header().Get("Content-Security-Policy")
		doc := pagedom.Parse(t, w.Body.String())
		for _, tag := range []string{"style", "script"} {
			els := pagedom.All(doc, tag)
			if len(els) != 1 || els[0].FirstChild == nil {
				t.Fatalf("%s page: %d %s elements, want 1", name, len(els), tag)
			}
			sum := sha256.Sum256([]byte(els[0].FirstChild.Data))
			if want := tag + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(policy, want) {
				t.Errorf("%s page: policy %q lacks %q", name, policy, want)
			}
		}
		if !strings.HasPrefix(policy, "default-src 'none'") || strings.Contains(policy, "unsafe") {
			t.Errorf("%s page: policy %q", name, policy)
		}
		pagedom.Walk(doc, func(n *html.Node) bool {
			if pagedom.Attr(n, "style") != "" {
				t.Errorf("%s page: <%s> has a style attribute, which the policy blocks", name, n.Data)
			}
			return true
		})
	}
}

// TestPageWaitsForTheFirstSnapshot: before the first poll the page says so
// and answers 200.
func TestPageWaitsForTheFirstSnapshot(t *testing.T) {
	f := newFixture(t)
	w := get(t, newTestPage(f, Options{Refresh: 2 * time.Second}))
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d before the first snapshot, want 200", w.Code)
	}
	doc := pagedom.Parse(t, w.Body.String())
	if got := pagedom.Text(pagedom.First(doc, "title")); got != "WAITING · observerd" {
		t.Errorf("title %q", got)
	}
	if got := pagedom.Text(pagedom.ByID(doc, "summary")); !strings.Contains(got, "waiting for its first poll") {
		t.Errorf("summary %q", got)
	}
	if got := refreshOf(doc); got != "2" {
		t.Errorf("refresh %q, want 2", got)
	}
	if pagedom.ByID(doc, "nodes") != nil {
		t.Error("the waiting page has a nodes table")
	}
}

func refreshOf(doc *html.Node) string {
	for _, m := range pagedom.All(doc, "meta") {
		if pagedom.Attr(m, "http-equiv") == "refresh" {
			return pagedom.Attr(m, "content")
		}
	}
	return ""
}

// TestPageRefresh: the page reloads at the poll interval, in whole
// seconds, at least every second.
func TestPageRefresh(t *testing.T) {
	tests := []struct {
		give time.Duration
		want string
	}{
		{0, "5"},
		{100 * time.Millisecond, "1"},
		{time.Second, "1"},
		{1200 * time.Millisecond, "2"},
		{30 * time.Second, "30"},
	}
	f := newFixture(t)
	f.publishAll()
	for _, tt := range tests {
		if got := refreshOf(pagedom.Parse(t, body(t, newTestPage(f, Options{Refresh: tt.give})))); got != tt.want {
			t.Errorf("Refresh %s: meta refresh %q, want %q", tt.give, got, tt.want)
		}
	}
}

// TestPageState: the title and the header say the worst that holds.
func TestPageState(t *testing.T) {
	warning := snapshot.Violation{Invariant: "over_limit", Subject: "k", Severity: "warning", FirstSeen: t0}
	info := snapshot.Violation{Invariant: "sequence_key_leak", Subject: "redis", Severity: "info", FirstSeen: t0}
	critical := snapshot.Violation{Invariant: "node_down", Subject: "n", Severity: "critical", FirstSeen: t0}
	tests := []struct {
		name       string
		violations []snapshot.Violation
		unknown    []snapshot.UnknownInvariant
		want       string
		wantNone   bool
	}{
		{name: "healthy", want: "OK", wantNone: true},
		{name: "not judged", unknown: []snapshot.UnknownInvariant{{Invariant: "over_limit", Reason: "redis stale"}}, want: "DEGRADED", wantNone: true},
		{name: "info", violations: []snapshot.Violation{info}, want: "INFO"},
		{name: "warning", violations: []snapshot.Violation{info, warning}, want: "WARNING"},
		{name: "critical", violations: []snapshot.Violation{warning, critical, info}, want: "CRITICAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.judge(tt.violations, tt.unknown)
			f.publishHealthy()
			doc := pagedom.Parse(t, body(t, newTestPage(f, Options{})))
			if got := pagedom.Text(pagedom.First(doc, "title")); got != tt.want+" · observerd" {
				t.Errorf("title %q, want %q", got, tt.want+" · observerd")
			}
			if got := pagedom.Attr(pagedom.First(doc, "body"), "class"); got != strings.ToLower(tt.want) {
				t.Errorf("body class %q", got)
			}
			if none := pagedom.ByID(doc, "no-violations"); (none != nil) != tt.wantNone {
				t.Errorf("no-violations shown %v, want %v", none != nil, tt.wantNone)
			}
		})
	}
}

// TestPageRenderFailureAnswers500: a template that fails half way sends
// nothing of what it wrote, and is logged.
func TestPageRenderFailureAnswers500(t *testing.T) {
	f := newFixture(t)
	f.publishAll()
	core, logs := observer.New(zap.ErrorLevel)
	p := newTestPage(f, Options{Logger: zap.New(core)})
	p.tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
		"fail": func() (string, error) { return "", errors.New("broken") },
	}).Parse(`{{define "page"}}<!doctype html><p>half a page{{fail}}</p>{{end}}`))
	w := get(t, p)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "half a page") {
		t.Errorf("GET / = %d %q, want 500 without the partial page", w.Code, w.Body)
	}
	if entries := logs.FilterMessage("render the status page").All(); len(entries) != 1 {
		t.Errorf("%d log entries, want one: %v", len(entries), logs.All())
	}
}

// TestPageIsBounded: the page shows no more than the snapshot has, and
// the timeline no more than its bound.
func TestPageIsBounded(t *testing.T) {
	f := newFixture(t)
	p := newTestPage(f, Options{TimelineMax: 20})
	for i := range 30 {
		f.judge([]snapshot.Violation{{Invariant: "over_limit", Subject: strings.Repeat("k", i+1), Severity: "warning", FirstSeen: t0}}, nil)
		f.publish()
		p.hist.observe(f.store.Load().Snapshot)
	}
	doc := pagedom.Parse(t, body(t, p))
	if got := len(pagedom.Rows(pagedom.ByID(doc, "timeline-events"))); got != 20 {
		t.Errorf("%d timeline rows, want the bound 20", got)
	}
	if got := pagedom.Text(pagedom.ByID(doc, "timeline-dropped")); got != "39 older entries were dropped." {
		t.Errorf("dropped note %q", got)
	}
	if got := len(pagedom.Rows(pagedom.ByID(doc, "violations-table"))); got != 1 {
		t.Errorf("%d violation rows, want the snapshot's 1", got)
	}
	if got := len(pagedom.Rows(pagedom.ByID(doc, "top-keys"))); got != len(f.store.Load().Snapshot.Counters.Top) {
		t.Errorf("%d top key rows, want the snapshot's %d", got, len(f.store.Load().Snapshot.Counters.Top))
	}
	if !slices.ContainsFunc(pagedom.All(doc, "p"), func(n *html.Node) bool { return strings.Contains(pagedom.Text(n), "at most 20 entries") }) {
		t.Error("the timeline does not say its bound")
	}
}
