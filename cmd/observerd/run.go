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
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/errgroup"

	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/exporter"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/poll"
	"github.com/observerd/observerd/internal/server"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/statuspage"
)

// shutdownTimeout bounds the graceful stop of the HTTP server: SIGTERM must
// end the process well within the 5 s an orchestrator usually waits.
const shutdownTimeout = 3 * time.Second

// run is observerd: it parses args and environ, wires every part, and
// serves until ctx ends.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, environ, stdout, stderr, options{})
}

// options are what a test sets of run.
type options struct {
	// onListen, when set, receives the bound address (tests listen on
	// 127.0.0.1:0).
	onListen func(net.Addr)
	// invariants are judged instead of health.Builtin() when not nil.
	invariants []health.Invariant
}

func runWith(ctx context.Context, args, environ []string, stdout, stderr io.Writer, opts options) error {
	if opts.invariants == nil {
		opts.invariants = health.Builtin()
	}
	if len(args) > 1 && args[1] == "check" {
		return runCheck(ctx, args[1:], environ, stdout, stderr, opts.invariants)
	}
	if len(args) > 1 && args[1] == "explain" {
		return runExplain(ctx, args[1:], environ, stdout, stderr, opts.invariants)
	}
	cfg, done, err := parseArgs(args, environ, stdout, stderr, opts.invariants)
	if err != nil || done {
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
	if opts.onListen != nil {
		opts.onListen(ln.Addr())
	}
	probeLn, err := listenIfSet(cfg.ProbeAddr, "OBSERVERD_PROBE_ADDR")
	if err != nil {
		ln.Close()
		return err
	}
	a, err := newApp(cfg, logger)
	if err != nil {
		ln.Close()
		closeIfSet(probeLn)
		return err
	}
	defer a.srcs.close()

	fields := []zap.Field{
		zap.String("version", version.Version), zap.String("revision", version.GetRevision()),
		zap.String("branch", version.Branch), zap.String("build_date", version.BuildDate),
		zap.String("listen", ln.Addr().String()),
	}
	if probeLn != nil {
		fields = append(fields, zap.String("probe", probeLn.Addr().String()))
	}
	logger.Info("observerd starting", append(fields, zap.Strings("sources", cfg.Sources))...)
	err = a.serve(ctx, ln, probeLn)
	if err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("observerd stopped", zap.Error(err))
		return err
	}
	logger.Info("observerd stopped")
	return nil
}

// parseArgs reads the flags and the configuration. done is true when a
// flag (-h, -version) was answered and observerd should exit.
func parseArgs(args, environ []string, stdout, stderr io.Writer, invs []health.Invariant) (cfg config.Config, done bool, err error) {
	fs := flag.NewFlagSet("observerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() { _ = config.PrintUsage(stdout, "observerd", invs) }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, true, nil
		}
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected arguments %q: observerd is configured from the environment (observerd -h)", fs.Args())
	}
	if *showVersion {
		_, err := fmt.Fprintln(stdout, version.Print("observerd"))
		return cfg, true, err
	}
	cfg, err = config.LoadWith(environ, invs)
	return cfg, false, err
}

// app is observerd wired: the store, its pollers and the HTTP server.
type app struct {
	srcs *sources
	page *statuspage.Page
	// hist keeps a summary of every published snapshot
	// (OBSERVERD_HISTORY); it keeps nothing when that is 0.
	hist *history.Store
	srv  *http.Server
	opts server.ServeOptions
	// probes serves /healthz and /readyz alone, on the listener of
	// OBSERVERD_PROBE_ADDR when it is set.
	probes *http.Server
	// pprofAddr is OBSERVERD_PPROF_ADDR: empty, or where /debug/pprof is
	// served.
	pprofAddr string
}

// newApp wires every part from cfg.
func newApp(cfg config.Config, logger *zap.Logger) (*app, error) {
	hist := history.New(history.Config{Horizon: cfg.History, Logger: logger.Named("history")})
	store, err := newStore(cfg, logger, hist.Offer)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	metrics, err := poll.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	srcs, err := newSources(cfg, store, metrics, logger)
	if err != nil {
		return nil, err
	}
	page := statuspage.New(statuspage.Options{
		Store:   store,
		Version: version.Version,
		Refresh: cfg.PollInterval,
		History: hist,
		Logger:  logger.Named("page"),
	})
	explainFn, err := daemonExplain(cfg, store, srcs, hist)
	if err != nil {
		srcs.close()
		return nil, err
	}
	srv, probes, err := newHTTPServer(cfg, store, hist, reg, page, srcs.alive, explainFn, logger)
	if err != nil {
		srcs.close()
		return nil, err
	}
	opts := server.ServeOptions{
		WebConfigFile:   cfg.WebConfigFile,
		MaxConnections:  cfg.WebMaxConnections,
		ShutdownTimeout: shutdownTimeout,
		Logger:          logger.Named("http"),
	}
	return &app{
		srcs: srcs, page: page, hist: hist, srv: srv, opts: opts,
		probes:    newProbeServer(probes, opts.Logger.Named("probe")),
		pprofAddr: cfg.PprofAddr,
	}, nil
}

// newStore is the snapshot store of cfg, judged by the health evaluator:
// what the daemon and `observerd check` share. onPublish, when not nil,
// is handed every snapshot published (the daemon's history).
func newStore(cfg config.Config, logger *zap.Logger, onPublish func(*snapshot.Published)) (*snapshot.Store, error) {
	staleAfter := cfg.StaleAfterBySource()
	evaluator := health.NewEvaluator(cfg.Invariants, staleAfter, logger.Named("health"))
	return snapshot.NewStore(snapshot.StoreConfig{
		Enabled:           cfg.Sources,
		StaleAfter:        staleAfter,
		DefaultLimit:      cfg.DefaultLimit,
		DefaultWindow:     cfg.DefaultWindow,
		MaxKeysOfInterest: snapshot.KeysOfInterestLimit,
		NodeForgetAfter:   cfg.NodeForgetAfter,
		MaxNameBytes:      cfg.MaxNameBytes,
		Logger:            logger.Named("store"),
		OnPublish:         onPublish,
		Judge: func(in snapshot.JudgeInput) ([]snapshot.Violation, []snapshot.UnknownInvariant) {
			r := evaluator.Evaluate(health.Input(in))
			return r.Violations, r.Unknown
		},
	}), nil
}

// newHTTPServer registers the collectors on reg and returns the server of
// every route, and the handler of the probes alone.
func newHTTPServer(cfg config.Config, store *snapshot.Store, hist *history.Store, reg *prometheus.Registry, page http.Handler, alive func() error, explainFn server.ExplainFunc, logger *zap.Logger) (*http.Server, http.Handler, error) {
	err := errors.Join(
		reg.Register(collectors.NewGoCollector()),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		reg.Register(versioncollector.NewCollector("observerd")),
		reg.Register(exporter.NewCollector(store, exporter.Options{
			KeepStale:     cfg.MetricsKeepStale,
			OmitKeySeries: !cfg.ExportKeySeries,
			SubjectsLimit: cfg.ViolationSubjectsLimit,
			Invariants:    cfg.Invariants.Names(),
			Logger:        logger.Named("exporter"),
		})),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("register metrics: %w", err)
	}
	h, err := server.NewHandler(server.Config{
		Store: store, History: hist, Registry: reg, Enabled: cfg.Sources, CORSOrigins: cfg.CORSOrigins,
		MaxRequests: cfg.WebMaxRequests, MaxWaiting: cfg.WebMaxWaiting, MaxWait: cfg.WebMaxWait,
		StatusPage: page, Version: version.Version, Alive: alive, Logger: logger.Named("http"),
		Explain: explainFn, ExplainTimeout: explainTimeout,
	})
	if err != nil {
		return nil, nil, err
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(logger.Named("http")),
	}, h.Probes(), nil
}

// serve runs every poller and the HTTP servers until ctx ends: every
// route on ln, and the probes alone on probeLn when it is not nil.
func (a *app) serve(ctx context.Context, ln, probeLn net.Listener) error {
	pln, err := listenIfSet(a.pprofAddr, "OBSERVERD_PPROF_ADDR")
	if err != nil {
		ln.Close()
		closeIfSet(probeLn)
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if probeLn != nil {
		// Plain HTTP whatever the web configuration: a kubelet's probe
		// carries neither a client certificate nor a password, and the
		// port tells nothing but the probes' answers. It has its own
		// bound on connections, so that a flood of the main port, which
		// waits in that listener's queue, never holds the probes back.
		g.Go(func() error {
			return server.Serve(gctx, a.probes, probeLn, server.ServeOptions{
				MaxConnections:  probeMaxConnections,
				ShutdownTimeout: shutdownTimeout,
				Logger:          a.opts.Logger.Named("probe"),
			})
		})
	}
	if pln != nil {
		// The profiles are behind the same web configuration (TLS, basic
		// auth) as every other path.
		popts := a.opts
		popts.MaxConnections = 0
		popts.Logger = a.opts.Logger.Named("pprof")
		g.Go(func() error { return server.Serve(gctx, newPprofServer(), pln, popts) })
	}
	for _, r := range a.srcs.runners {
		g.Go(func() error { return r.Run(gctx) })
	}
	g.Go(func() error { return a.page.Run(gctx) })
	g.Go(func() error { return a.hist.Run(gctx) })
	g.Go(func() error { return server.Serve(gctx, a.srv, ln, a.opts) })
	return g.Wait()
}

// listenIfSet binds addr, the value of variable, or returns nil when it is
// empty: the listeners that are off by default.
func listenIfSet(addr, variable string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, variable, err)
	}
	return ln, nil
}

// closeIfSet closes ln unless it is nil.
func closeIfSet(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
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
