package statuspage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	kept "github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/statuspage/pagedom"
)

// pastFixture records a healthy snapshot at t0, a critical one at t0+5m
// and a healthy one at t0+10m in a history, and sets the clock to t0+10m.
func pastFixture(t *testing.T) (*fixture, *kept.Store) {
	t.Helper()
	f := newFixture(t)
	h := kept.New(kept.Config{Horizon: time.Hour})
	rec := func(p *snapshot.Published) {
		if err := h.Record(p); err != nil {
			t.Fatal(err)
		}
	}
	rec(f.publishHealthy())
	f.clock.Add(5 * time.Minute)
	f.judge(fullViolations(), nil)
	rec(f.publishAll())
	f.clock.Add(5 * time.Minute)
	f.judge(nil, nil)
	rec(f.publishHealthy())
	return f, h
}

func getPath(t testing.TB, p *Page, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

func TestPagePast(t *testing.T) {
	f, h := pastFixture(t)
	p := newTestPage(f, Options{History: h})
	tests := []struct {
		give      string
		wantState string
		wantPast  string
		wantSteps []string
	}{
		{
			give: "/?at=-7m", wantState: "OK",
			wantPast:  "as of 12:00:00 UTC (10m ago) — history, not live · snapshot #",
			wantSteps: []string{"?at=2026-03-01T11%3A53%3A00Z", "?at=2026-03-01T12%3A02%3A00Z", "?at=2026-03-01T12%3A04%3A00Z", ".", "."},
		},
		{
			give: "/?at=2026-03-01T12:06:00Z", wantState: "CRITICAL",
			wantPast:  "as of 12:05:00 UTC (5m ago) — history, not live · snapshot #",
			wantSteps: []string{"?at=2026-03-01T11%3A56%3A00Z", "?at=2026-03-01T12%3A05%3A00Z", "?at=2026-03-01T12%3A07%3A00Z", ".", "."},
		},
	}
	for _, tt := range tests {
		w := getPath(t, p, tt.give)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tt.give, w.Code, w.Body)
		}
		if w.Header().Get("Content-Security-Policy") != contentPolicy() || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", tt.give, w.Header())
		}
		doc := pagedom.Parse(t, w.Body.String())
		if got := pagedom.Text(pagedom.ByID(doc, "state")); got != tt.wantState {
			t.Errorf("%s: state %q, want %q", tt.give, got, tt.wantState)
		}
		if got := pagedom.Text(pagedom.ByID(doc, "past")); !strings.HasPrefix(got, tt.wantPast) {
			t.Errorf("%s: banner %q, want %q", tt.give, got, tt.wantPast)
		}
		var hrefs, labels []string
		for _, a := range pagedom.All(pagedom.ByID(doc, "steps"), "a") {
			hrefs, labels = append(hrefs, pagedom.Attr(a, "href")), append(labels, pagedom.Text(a))
		}
		if !cmp.Equal(hrefs, tt.wantSteps) || !cmp.Equal(labels, []string{"−10 min", "−1 min", "+1 min", "+10 min", "now"}) {
			t.Errorf("%s: steps %q %q, want %q", tt.give, labels, hrefs, tt.wantSteps)
		}
		// A page of the past neither reloads nor follows /events.
		if refreshOf(doc) != "" || len(pagedom.All(doc, "script")) != 0 {
			t.Errorf("%s: a page of the past reloads itself", tt.give)
		}
	}
}

// TestPagePastLeavesTheLiveCacheAlone: a page of the past rendered
// between two requests for the live page within a second is not served
// as the live page.
func TestPagePastLeavesTheLiveCacheAlone(t *testing.T) {
	f, h := pastFixture(t)
	p := newTestPage(f, Options{History: h})
	live := body(t, p)
	if past := getPath(t, p, "/?at=-5m").Body.String(); past == live || !strings.Contains(past, "history, not live") {
		t.Fatal("the page of the past is the live page")
	}
	if got := body(t, p); got != live {
		t.Error("the live page changed after a page of the past was rendered")
	}
	doc := pagedom.Parse(t, live)
	if pagedom.ByID(doc, "past") != nil || refreshOf(doc) == "" {
		t.Error("the live page says it is history, or does not reload")
	}
	var hrefs []string
	for _, a := range pagedom.All(pagedom.First(doc, "header"), "a") {
		hrefs = append(hrefs, pagedom.Attr(a, "href"))
	}
	if !cmp.Equal(hrefs, []string{"snapshot", "metrics", "healthz", "readyz", "?at=-10m"}) {
		t.Errorf("live page links %q, want a step back into the history", hrefs)
	}
}

func TestPagePastRefused(t *testing.T) {
	f, h := pastFixture(t)
	tests := []struct {
		give     string
		hist     *kept.Store
		wantCode int
		want     string
	}{
		{give: "/?at=yesterday", hist: h, wantCode: 400, want: "at: \"yesterday\" is neither an RFC 3339 time"},
		{give: "/?at=-1h", hist: h, wantCode: 404, want: "is before the kept history, which runs from 2026-03-01T12:00:00Z to 2026-03-01T12:10:00Z"},
		{give: "/?at=-1m", hist: kept.New(kept.Config{}), wantCode: 404, want: "history is off"},
		{give: "/?at=-1m", wantCode: 404, want: "history is off"},
	}
	for _, tt := range tests {
		w := getPath(t, newTestPage(f, Options{History: tt.hist}), tt.give)
		if w.Code != tt.wantCode || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("%s: %d %q; want %d with %q", tt.give, w.Code, w.Body, tt.wantCode, tt.want)
		}
	}
}
