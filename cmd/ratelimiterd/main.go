// Command ratelimiterd runs a reference rate limiter node: the service of
// docs/contract.md backed by Redis, configured from RATELIMITER_* variables, with
// chaos knobs for demos and tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/observerd/observerd/internal/ratelimiter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratelimiterd:", err)
		os.Exit(1)
	}
}

// run parses the configuration from environ, listens on the node port and
// serves until ctx ends.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ratelimiterd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: ratelimiterd\n\nA reference rate limiter node. Environment variables:\n\n")
		_ = ratelimiter.Usage(stdout)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: configure with environment variables (see -h)", fs.Args())
	}
	cfg, err := ratelimiter.ParseConfig(environ)
	if err != nil {
		return err
	}
	logger := newLogger(stderr)
	defer func() { _ = logger.Sync() }()

	rdb, err := ratelimiter.NewRedisClient(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	node, err := ratelimiter.New(cfg, rdb, logger)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(cfg.ListenHost, strconv.Itoa(cfg.NodePort)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.NodePort, err)
	}
	return node.Run(ctx, ln)
}

// newLogger writes JSON lines at info level to w.
func newLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(w), zapcore.InfoLevel))
}
