// Package server serves observerd's HTTP endpoints.
package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
)

// Loader gives the current published snapshot, or nil before the first.
type Loader interface {
	Load() *snapshot.Published
}

// Config is what the handlers need.
type Config struct {
	Store Loader
	// Registry holds the snapshot collector and observerd's own metrics;
	// /metrics serves it.
	Registry *prometheus.Registry
	// Enabled lists the enabled sources, for /readyz.
	Enabled []string
	// CORSOrigins are the browser origins allowed to read /snapshot and
	// /events ("*": any); empty: no CORS headers.
	CORSOrigins []string
	// MaxWaiting bounds the long-polls and /events streams held at once;
	// MaxWait caps the wait of one long-poll.
	MaxWaiting int
	MaxWait    time.Duration
	// StatusPage serves GET /, the page for humans; nil: a page of links.
	StatusPage http.Handler
	// MaxRequests bounds the /snapshot and /metrics requests answered at
	// once; past it they get 503 with Retry-After at once. /healthz,
	// /readyz and / are never held back. 0: no bound.
	MaxRequests int
	Version     string
	// Alive is nil while observerd makes progress; /healthz answers 503
	// with its error otherwise. Nil means always alive.
	Alive  func() error
	Logger *zap.Logger
}

// NewHandler returns the handler of every route, each counted in
// observerd_http_requests_total, which it registers on cfg.Registry.
func NewHandler(cfg Config) (http.Handler, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "observerd",
		Name:      "http_requests_total",
		Help:      "HTTP requests observerd answered, by handler and status code.",
	}, []string{"handler", "code"})
	if err := cfg.Registry.Register(requests); err != nil {
		return nil, fmt.Errorf("register the HTTP request counter: %w", err)
	}
	count := func(name string, serve func(http.ResponseWriter, *http.Request) int) http.Handler {
		c := &requestCounter{vec: requests.MustCurryWith(prometheus.Labels{"handler": name})}
		return counted{c: c, serve: serve}
	}

	busy := newBusyLimit(cfg.MaxRequests)
	snap := count("/snapshot", busy.wrap(newSnapshotHandler(cfg.Store, cfg.CORSOrigins).serve))
	mux := http.NewServeMux()
	mux.Handle(snapshotPattern, snap)
	mux.Handle("GET /metrics", count("/metrics", busy.wrap(withStatus(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          zap.NewStdLog(cfg.Logger.Named("metrics")),
		Timeout:           defaultMetricsTimeout,
	})))))
	mux.Handle("GET /healthz", count("/healthz", withStatus(handleHealthz(cfg.Alive))))
	mux.Handle("GET /readyz", count("/readyz", withStatus(handleReadyz(cfg.Store, cfg.Enabled))))
	index := cfg.StatusPage
	if index == nil {
		index = handleIndex(cfg.Version)
	}
	mux.Handle("GET /{$}", count("/", withStatus(index)))
	return router{mux: mux, snapshot: snap}, nil
}

// snapshotPattern is the /snapshot route, in the mux and in Request.Pattern.
const snapshotPattern = "GET /snapshot"

// router sends GET and HEAD /snapshot, the endpoint clients poll, straight
// to its handler: route matching in the mux costs as much as the rest of
// the answer. Only a path the mux would route there as it is takes the
// shortcut, with nothing to unescape, clean or redirect; every other
// request goes through the mux.
type router struct {
	mux      *http.ServeMux
	snapshot http.Handler
}

func (rt router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/snapshot" && r.URL.RawPath == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		r.Pattern = snapshotPattern // as the mux sets it
		rt.snapshot.ServeHTTP(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}
