// Package statuspage serves observerd's page for humans at /: the current
// snapshot rendered as HTML, violations first, with a short history kept
// in memory.
//
// The page is rendered on the server from the snapshot alone and loads
// nothing: its style sheet and its one optional script are inline, its
// charts inline SVG. It reloads itself with a meta refresh, and sooner
// when /events streams a newer snapshot. Everything a peer supplied (key
// names, node ids, error texts) is escaped by html/template, and the
// Content-Security-Policy runs no script and applies no style but the
// page's own.
package statuspage

import (
	"bytes"
	"context"
	_ "embed"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	kept "github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/snapshot"
)

// Source is the store the page reads and follows.
type Source interface {
	Load() *snapshot.Published
	Changed() <-chan struct{}
}

// Options configures a Page.
type Options struct {
	Store   Source
	Version string
	// Refresh is how often the page reloads itself: the poll interval.
	// It is rounded up to whole seconds, at least 1; zero (or less)
	// means 5 s.
	Refresh time.Duration
	Now     func() time.Time
	Logger  *zap.Logger
	// TimelineWindow and TimelineMax bound the timeline of violations
	// raised and cleared: zero (or less) means 1 h and 500 entries.
	TimelineWindow time.Duration
	TimelineMax    int
	// TrendWindow and TrendPoints bound the trend of the traffic and the
	// counter keys, one point per TrendWindow/TrendPoints at most: zero
	// (or less) means 15 min and 300 points.
	TrendWindow time.Duration
	TrendPoints int
	// History, when it keeps summaries, lets a human step back through
	// them: /?at=-20m renders the page of the summary in force then.
	History *kept.Store
}

// defaultRefresh is the reload interval when Options.Refresh is zero.
const defaultRefresh = 5 * time.Second

//go:embed page.tmpl
var pageTemplate string

// Page is the status page and the history it draws.
type Page struct {
	opts    Options
	tmpl    *template.Template
	policy  string
	refresh int // seconds
	hist    *history

	// mu lets one request render at a time: the others wait for it and
	// take its page, so that a crowd on / costs one render per snapshot
	// and second, not one per request.
	mu       sync.Mutex
	lastPub  *snapshot.Published // shown by lastBody; nil: the waiting page
	lastAt   time.Time           // when lastBody was rendered
	lastBody []byte
}

// reuseFor is how long a rendered page is served again while the snapshot
// it shows is current: its ages ("for 2m10s") are then a second old at
// most.
const reuseFor = time.Second

// New returns the page of opts.Store. Run records its history.
func New(opts Options) *Page {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Store == nil {
		opts.Store = noStore{}
	}
	opts.Refresh = positive(opts.Refresh, defaultRefresh)
	return &Page{
		opts:    opts,
		tmpl:    template.Must(template.New("page").Funcs(funcs()).Parse(pageTemplate)),
		policy:  contentPolicy(),
		refresh: int(max(1, math.Ceil(opts.Refresh.Seconds()))),
		hist:    newHistory(newHistoryConfig(opts)),
	}
}

// Run records the history the page draws from each published snapshot
// until ctx ends; it returns nil then.
func (p *Page) Run(ctx context.Context) error {
	for {
		// Taken before Load: a snapshot published in between closes it.
		changed := p.opts.Store.Changed()
		if pub := p.opts.Store.Load(); pub != nil {
			p.hist.observe(pub.Snapshot)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		}
	}
}

// ServeHTTP renders the page of the current snapshot, or, before the
// first one, a page that says observerd waits for it; with ?at=, the page
// of the kept summary in force at that time (see servePast). The page is
// rendered whole before anything is written: a failed render answers 500,
// never half a page.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("at") {
		p.servePast(w, r)
		return
	}
	body, err := p.page()
	if err != nil {
		p.fail(w, err)
		return
	}
	p.write(w, body)
}

// write answers body, a rendered page.
func (p *Page) write(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", p.policy)
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

// page returns the page of the current snapshot: the last one rendered
// while it shows the current snapshot and is under reuseFor old, else a
// new one.
func (p *Page) page() ([]byte, error) {
	pub := p.opts.Store.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Now()
	if age := now.Sub(p.lastAt); p.lastBody != nil && p.lastPub == pub && age >= 0 && age < reuseFor {
		return p.lastBody, nil
	}
	var buf bytes.Buffer
	if err := p.render(&buf, pub, now); err != nil {
		return nil, err
	}
	p.lastPub, p.lastAt, p.lastBody = pub, now, buf.Bytes()
	return p.lastBody, nil
}

// noStore is the Store of a page given none: it never publishes.
type noStore struct{}

func (noStore) Load() *snapshot.Published { return nil }
func (noStore) Changed() <-chan struct{}  { return nil }

// render writes the page of pub, as of now, to buf.
func (p *Page) render(buf *bytes.Buffer, pub *snapshot.Published, now time.Time) error {
	f := frame{
		Refresh: p.refresh, Version: p.opts.Version, Now: now,
		CSS: template.CSS(css), Script: template.JS(script), History: p.opts.History.Enabled(),
	}
	if pub == nil {
		f.State, f.Class = "WAITING", "waiting"
		return p.tmpl.ExecuteTemplate(buf, "waiting", f)
	}
	// The timeline then holds the snapshot shown, even if Run has not
	// seen it yet.
	p.hist.observe(pub.Snapshot)
	return p.tmpl.ExecuteTemplate(buf, "page", newView(f, pub.Snapshot, p.hist.copy(), p.hist.cfg))
}
