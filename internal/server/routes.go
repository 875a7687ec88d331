// Package server serves observerd's HTTP endpoints.
package server

import (
	"cmp"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
)

// Loader gives the current published snapshot, or nil before the first,
// and tells of each new one, as snapshot.Store does.
type Loader interface {
	Load() *snapshot.Published
	// Changed returns a channel closed when a snapshot newer than the
	// one Load returns now is published; taken before Load.
	Changed() <-chan struct{}
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
	// MaxWaiting bounds the long-polls and /events streams held at once
	// (0: 256); past it they get 503 with Retry-After. MaxWait caps the
	// wait of one long-poll (0: 60s).
	MaxWaiting int
	MaxWait    time.Duration
	// Heartbeat is the period of the comment /events sends so that
	// proxies keep an idle stream open; 0: 15s.
	Heartbeat time.Duration
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
// observerd_http_requests_total, and the clients waiting on /snapshot and
// /events in observerd_http_waiting_requests, both registered on
// cfg.Registry.
func NewHandler(cfg Config) (http.Handler, error) {
	m, err := newHTTPMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	snapHandler, events, err := newLiveHandlers(cfg, m)
	if err != nil {
		return nil, err
	}
	busy := snapHandler.busy
	snap := m.count("/snapshot", snapHandler.serve)
	mux := http.NewServeMux()
	mux.Handle(snapshotPattern, snap)
	mux.Handle("OPTIONS /snapshot", m.count("/snapshot", snapHandler.cors.preflight))
	mux.Handle("GET /events", m.count("/events", events.serve))
	mux.Handle("OPTIONS /events", m.count("/events", events.cors.preflight))
	mux.Handle("GET /metrics", m.count("/metrics", busy.wrap(withStatus(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          zap.NewStdLog(cfg.Logger.Named("metrics")),
		Timeout:           defaultMetricsTimeout,
	})))))
	mux.Handle("GET /healthz", m.count("/healthz", withStatus(handleHealthz(cfg.Alive))))
	mux.Handle("GET /readyz", m.count("/readyz", withStatus(handleReadyz(cfg.Store, cfg.Enabled))))
	index := cfg.StatusPage
	if index == nil {
		index = handleIndex(cfg.Version)
	}
	mux.Handle("GET /{$}", m.count("/", withStatus(index)))
	return router{mux: mux, snapshot: snap}, nil
}

// httpMetrics are observerd's metrics of its own HTTP serving.
type httpMetrics struct {
	requests *prometheus.CounterVec
	waiting  *prometheus.GaugeVec
}

func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "observerd",
			Name:      "http_requests_total",
			Help:      "HTTP requests observerd answered, by handler and status code.",
		}, []string{"handler", "code"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "observerd",
			Name:      "http_waiting_requests",
			Help:      "Long-polls of /snapshot waiting for a new snapshot and /events streams open, by handler.",
		}, []string{"handler"}),
	}
	if err := reg.Register(m.requests); err != nil {
		return nil, fmt.Errorf("register the HTTP request counter: %w", err)
	}
	if err := reg.Register(m.waiting); err != nil {
		return nil, fmt.Errorf("register the HTTP waiting gauge: %w", err)
	}
	return m, nil
}

// count returns serve counted under the handler label name.
func (m *httpMetrics) count(name string, serve func(http.ResponseWriter, *http.Request) int) http.Handler {
	c := &requestCounter{vec: m.requests.MustCurryWith(prometheus.Labels{"handler": name})}
	return counted{c: c, serve: serve}
}

// newLiveHandlers returns the handlers of /snapshot and /events, which
// share the CORS policy, the bound on waiting clients and the cache of
// selections.
func newLiveHandlers(cfg Config, m *httpMetrics) (*snapshotHandler, *eventsHandler, error) {
	fields, err := newSnapshotFields()
	if err != nil {
		return nil, nil, err
	}
	cors := newCORS(cfg.CORSOrigins)
	waiting := newWaitLimit(cfg.MaxWaiting)
	sel := newSelections(fields)
	s := &snapshotHandler{
		store: cfg.Store, cors: cors, vary: varyValue, busy: newBusyLimit(cfg.MaxRequests),
		waiting: waiting, gauge: m.waiting.WithLabelValues("/snapshot"),
		fields: fields, sel: sel, maxWait: cmp.Or(cfg.MaxWait, defaultMaxWait), logger: cfg.Logger,
	}
	if cors.enabled() {
		s.vary = varyOriginValue
	}
	s.plain = s.busy.wrap(s.serveWhole)
	e := &eventsHandler{
		store: cfg.Store, cors: cors, waiting: waiting, gauge: m.waiting.WithLabelValues("/events"),
		fields: fields, sel: sel, heartbeat: cmp.Or(cfg.Heartbeat, defaultHeartbeat), logger: cfg.Logger,
	}
	return s, e, nil
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
