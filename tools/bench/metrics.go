package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/exporter"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/server"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// renderResult is part d at one keyspace size.
type renderResult struct {
	took   time.Duration // median of one GET /metrics
	series int
	bytes  int
}

// metricsHandler wires a store holding sec, its invariants and the
// exporter's collector the way observerd does, and returns the handler
// and the registry behind /metrics.
func metricsHandler(sec *snapshot.RedisSection) (http.Handler, *prometheus.Registry, error) {
	cfg := config.Default()
	stale := map[string]time.Duration{source.Redis: time.Hour}
	evaluator := health.NewEvaluator(cfg.Invariants, stale, zap.NewNop())
	store := snapshot.NewStore(snapshot.StoreConfig{
		Enabled: []string{source.Redis}, StaleAfter: stale,
		DefaultLimit: defaultLimit, DefaultWindow: defaultWindow,
		MaxKeysOfInterest: snapshot.KeysOfInterestLimit, NodeForgetAfter: cfg.NodeForgetAfter,
		Judge: func(in snapshot.JudgeInput) ([]snapshot.Violation, []snapshot.UnknownInvariant) {
			r := evaluator.Evaluate(health.Input(in))
			return r.Violations, r.Unknown
		},
	})
	now := time.Now()
	store.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Duration: time.Millisecond, Section: sec})
	reg := prometheus.NewRegistry()
	err := reg.Register(exporter.NewCollector(store, exporter.Options{
		SubjectsLimit: cfg.ViolationSubjectsLimit, Invariants: cfg.Invariants.Names(),
	}))
	if err != nil {
		return nil, nil, err
	}
	h, err := server.NewHandler(server.Config{Store: store, Registry: reg, Enabled: []string{source.Redis}, Version: "bench", Logger: zap.NewNop()})
	return h, reg, err
}

// measureRender times runs in-process GETs of /metrics over sec, as
// Prometheus would ask, and counts the series of one Gather.
func measureRender(sec *snapshot.RedisSection, runs int) (renderResult, error) {
	h, reg, err := metricsHandler(sec)
	if err != nil {
		return renderResult{}, err
	}
	var res renderResult
	get := func() error {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			return fmt.Errorf("/metrics answered %d", rec.Code)
		}
		res.bytes = rec.Body.Len()
		return nil
	}
	if err := get(); err != nil {
		return res, err
	}
	ds, err := timeRuns(runs, get)
	if err != nil {
		return res, err
	}
	res.took = median(ds)
	mfs, err := reg.Gather()
	if err != nil {
		return res, err
	}
	for _, mf := range mfs {
		res.series += len(mf.GetMetric())
	}
	return res, nil
}
