// Package server serves observerd's HTTP endpoints.
package server

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/history"
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
	// History answers /snapshot?at=, /history and, for the handlers of
	// other paths, a key's past (History.KeyEvents); nil, or a store that
	// keeps nothing (OBSERVERD_HISTORY=0): those answer 404.
	History *history.Store
	// Registry holds the snapshot collector and observerd's own metrics;
	// /metrics serves it.
	Registry *prometheus.Registry
	// Enabled lists the enabled sources, for /readyz.
	Enabled []string
	// CORSOrigins are the browser origins allowed to read /snapshot,
	// /history and /events ("*": any); empty: no CORS headers.
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
	// MaxRequests bounds the /snapshot, /history and /metrics requests
	// answered at once; past it they get 503 with Retry-After at once. /healthz,
	// /readyz and / are never held back. 0: no bound.
	MaxRequests int
	Version     string
	// Alive is nil while observerd makes progress; /healthz answers 503
	// with its error otherwise. Nil means always alive.
	Alive func() error
	// Explain explains one key for GET /keys/{key}; nil: that route
	// answers 404. ExplainTimeout bounds one explanation's reads (0: 5s).
	// Explanations are held to MaxRequests with /snapshot and /metrics.
	Explain        ExplainFunc
	ExplainTimeout time.Duration
	Logger         *zap.Logger
	// Now is the clock that relative times (?at=-20m) count from; nil:
	// time.Now.
	Now func() time.Time
}

// Handler serves every route of observerd's listener; Probes serves two
// of them on a listener of their own.
type Handler struct {
	mux    *http.ServeMux
	probes *http.ServeMux
}

// ServeHTTP serves every route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Probes returns the handler of the probe listener (OBSERVERD_PROBE_ADDR):
// GET /healthz and GET /readyz, the very handlers of the main listener,
// counted in the same series, and 404 for every other path.
func (h *Handler) Probes() http.Handler { return h.probes }

// NewHandler returns the handler of every route, each counted in
// observerd_http_requests_total, and the clients waiting on /snapshot and
// /events in observerd_http_waiting_requests, both registered on
// cfg.Registry.
func NewHandler(cfg Config) (*Handler, error) {
	requests, waiting, err := newHTTPMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	sel, err := newSelector()
	if err != nil {
		return nil, err
	}
	cors := newCORS(cfg.CORSOrigins)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	held := newBound(cmp.Or(cfg.MaxWaiting, defaultMaxWaiting), "observerd holds %d waiting clients already (OBSERVERD_WEB_MAX_WAITING); retry in a second\n")
	busy := newBound(cfg.MaxRequests, "observerd is answering %d requests already (OBSERVERD_WEB_MAX_REQUESTS); retry in a second\n")
	rd := &reads{
		store: cfg.Store, hist: cfg.History, now: cfg.Now, cors: cors, sel: sel, busy: busy, held: held,
		polls: waiting.WithLabelValues("/snapshot"), streams: waiting.WithLabelValues("/events"),
		maxWait: cmp.Or(cfg.MaxWait, defaultMaxWait), heartbeat: cmp.Or(cfg.Heartbeat, defaultHeartbeat),
	}
	metrics := promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          zap.NewStdLog(cfg.Logger.Named("metrics")),
		Timeout:           defaultMetricsTimeout,
	})
	index := cfg.StatusPage
	if index == nil {
		index = handleIndex(cfg.Version)
	}

	mux, probes := http.NewServeMux(), http.NewServeMux()
	// Each route is counted under its path; what no route answers (404,
	// 405, the mux's redirects) is not counted.
	counted := func(pattern string, h http.Handler) http.Handler {
		_, path, _ := strings.Cut(pattern, " ")
		labels := prometheus.Labels{"handler": strings.TrimSuffix(path, "{$}")}
		return promhttp.InstrumentHandlerCounter(requests.MustCurryWith(labels), h)
	}
	route := func(pattern string, h http.Handler) { mux.Handle(pattern, counted(pattern, h)) }
	// The probes are served on both listeners by one handler each.
	probe := func(pattern string, h http.Handler) {
		h = counted(pattern, h)
		mux.Handle(pattern, h)
		probes.Handle(pattern, h)
	}
	route("GET /snapshot", http.HandlerFunc(rd.snapshot))
	route("OPTIONS /snapshot", http.HandlerFunc(cors.preflight))
	route("GET /history", http.HandlerFunc(rd.history))
	route("OPTIONS /history", http.HandlerFunc(cors.preflight))
	route("GET /events", http.HandlerFunc(rd.events))
	route("OPTIONS /events", http.HandlerFunc(cors.preflight))
	route("GET /metrics", busy.wrap(metrics))
	probe("GET /healthz", handleHealthz(cfg.Alive))
	probe("GET /readyz", handleReadyz(cfg.Store, cfg.Enabled))
	kx := &keys{explain: cfg.Explain, timeout: cmp.Or(cfg.ExplainTimeout, defaultExplainTimeout), cors: cors, busy: busy, page: newKeyPage()}
	route("GET /keys/{key...}", http.HandlerFunc(kx.serve))
	route("OPTIONS /keys/{key...}", http.HandlerFunc(cors.preflight))
	route("GET /{$}", index)
	return &Handler{mux: mux, probes: probes}, nil
}

// newHTTPMetrics registers observerd's metrics of its own serving.
func newHTTPMetrics(reg *prometheus.Registry) (*prometheus.CounterVec, *prometheus.GaugeVec, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "observerd_http_requests_total",
		Help: "HTTP requests observerd answered, by handler and status code.",
	}, []string{"handler", "code"})
	waiting := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "observerd_http_waiting_requests",
		Help: "Long-polls of /snapshot waiting for a new snapshot and /events streams open, by handler.",
	}, []string{"handler"})
	if err := errors.Join(reg.Register(requests), reg.Register(waiting)); err != nil {
		return nil, nil, fmt.Errorf("register the HTTP metrics: %w", err)
	}
	return requests, waiting, nil
}
