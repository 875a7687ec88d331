// Package server serves observerd's HTTP endpoints.
package server

import (
	"fmt"
	"net/http"

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
	// CORSOrigin, when set, is sent as Access-Control-Allow-Origin on
	// /snapshot.
	CORSOrigin string
	Version    string
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
	count := func(name string, h http.Handler) http.Handler {
		return promhttp.InstrumentHandlerCounter(requests.MustCurryWith(prometheus.Labels{"handler": name}), h)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /snapshot", count("/snapshot", handleSnapshot(cfg.Store, cfg.CORSOrigin)))
	mux.Handle("GET /metrics", count("/metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          zap.NewStdLog(cfg.Logger.Named("metrics")),
		Timeout:           defaultMetricsTimeout,
	})))
	mux.Handle("GET /healthz", count("/healthz", handleHealthz(cfg.Alive)))
	mux.Handle("GET /readyz", count("/readyz", handleReadyz(cfg.Store, cfg.Enabled)))
	mux.Handle("GET /{$}", count("/", handleIndex(cfg.Version)))
	return mux, nil
}
