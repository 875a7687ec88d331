package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/errgroup"

	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/exporter"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/server"
	"github.com/observerd/observerd/internal/snapshot"
)

// shutdownTimeout bounds the graceful stop of the HTTP server: SIGTERM must
// end the process well within the 5 s an orchestrator usually waits.
const shutdownTimeout = 3 * time.Second

// run is observerd: it parses args and environ, wires every part, and
// serves until ctx ends. onListen, when set, receives the bound address
// (tests listen on 127.0.0.1:0).
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, environ, stdout, stderr, nil)
}

func runWith(ctx context.Context, args, environ []string, stdout, stderr io.Writer, onListen func(net.Addr)) error {
	fs := flag.NewFlagSet("observerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() { _ = config.PrintUsage(stdout, "observerd") }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: observerd is configured from the environment (observerd -h)", fs.Args())
	}
	if *showVersion {
		_, err := fmt.Fprintf(stdout, "observerd %s (commit %s)\n", version, commit)
		return err
	}

	cfg, err := config.Load(environ)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (OBSERVERD_LISTEN_ADDR): %w", cfg.ListenAddr, err)
	}
	if onListen != nil {
		onListen(ln.Addr())
	}

	// One staleness bound per source serves both the store (stale status,
	// withheld metrics) and the source_stale invariant.
	staleAfter := make(map[string]time.Duration, len(cfg.Sources))
	for _, s := range cfg.Sources {
		staleAfter[s] = cfg.StaleAfterFor(s)
	}
	evaluator := health.NewEvaluator(healthConfig(cfg, staleAfter), logger.Named("health"))
	store := snapshot.NewStore(snapshot.StoreConfig{
		Enabled:         cfg.Sources,
		StaleAfter:      staleAfter,
		DefaultLimit:    cfg.DefaultLimit,
		DefaultWindow:   cfg.DefaultWindow,
		NodeForgetAfter: cfg.NodeForgetAfter,
		Logger:          logger.Named("store"),
		Judge: func(in snapshot.JudgeInput) ([]snapshot.Violation, []snapshot.UnknownInvariant) {
			r := evaluator.Evaluate(health.Input(in))
			return r.Violations, r.Unknown
		},
	})

	srcs, err := newSources(cfg, store, logger)
	if err != nil {
		ln.Close()
		return err
	}
	defer srcs.close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		exporter.NewCollector(store, exporter.Options{
			Version:       version,
			Revision:      commit,
			KeepStale:     cfg.MetricsKeepStale,
			SubjectsLimit: cfg.Invariants.ViolationSubjectsLimit,
			Invariants:    health.Invariants(),
		}),
	)
	srv := &http.Server{
		Handler: server.NewHandler(server.Config{
			Store: store, Registry: reg, Enabled: cfg.Sources, CORSOrigin: cfg.CORSOrigin,
			Version: version, Logger: logger.Named("http"),
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(logger.Named("http")),
	}

	logger.Info("observerd starting",
		zap.String("version", version), zap.String("commit", commit),
		zap.String("listen", ln.Addr().String()), zap.Strings("sources", cfg.Sources))

	g, gctx := errgroup.WithContext(ctx)
	for _, r := range srcs.runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		// The parent context is done: shut down under a fresh deadline.
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shut down http: %w", err)
		}
		return nil
	})
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("observerd stopped", zap.Error(err))
		return err
	}
	logger.Info("observerd stopped")
	return nil
}

// newLogger builds the one logger of the process, writing to w.
func newLogger(cfg config.Config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("OBSERVERD_LOG_LEVEL: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	if cfg.LogFormat == "console" {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core).Named("observerd"), nil
}

// healthConfig maps the OBSERVERD_* thresholds onto the invariants.
func healthConfig(cfg config.Config, staleAfter map[string]time.Duration) health.Config {
	h := health.DefaultConfig()
	inv := cfg.Invariants
	h.NodeDown.Grace = inv.NodeDownGrace
	h.RedisDisconnected.Grace = inv.RedisDisconnectedGrace
	h.HighLatency.Grace = inv.HighLatencyGrace
	h.HighLatency.Threshold = inv.HighLatencyThreshold
	h.OverLimit.Grace = inv.OverLimitGrace
	h.GhostAllowing.Grace = inv.GhostAllowingGrace
	h.CounterDrift.Grace = inv.CounterDriftGrace
	h.CounterDrift.Threshold = inv.CounterDriftThreshold
	h.CounterWithoutTTL.Grace = inv.CounterWithoutTTLGrace
	h.SequenceKeyLeak.Grace = inv.SequenceKeyLeakGrace
	h.SequenceKeyLeak.Threshold = inv.SequenceKeyLeakThreshold
	h.SourceStale.Grace = inv.SourceStaleGrace
	h.SourceStale.StaleAfter = staleAfter
	return h
}
