package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// ServeOptions are how Serve listens.
type ServeOptions struct {
	// WebConfigFile is a web configuration file in the Prometheus
	// exporters' format (TLS, client certificates, basic auth users with
	// bcrypt hashes, response headers), read again on each new
	// connection. Empty: plain HTTP without authentication.
	WebConfigFile string
	// MaxConnections bounds the connections served at once; 0: no bound.
	// See LimitListener.
	MaxConnections int
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout time.Duration
	Logger          *zap.Logger
}

// Serve serves srv on ln until ctx ends, then shuts srv down gracefully
// within opts.ShutdownTimeout; connections still open after it are closed.
// Long-polls and /events streams end as soon as the shutdown begins (see
// drainOnShutdown) rather than holding it for its whole timeout.
// It returns nil after a clean stop, and an error when serving failed or
// the graceful shutdown ran out of time.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, opts ServeOptions) error {
	addr := ln.Addr()
	drainOnShutdown(srv)
	if opts.MaxConnections > 0 {
		ln = LimitListener(ln, opts.MaxConnections, func(full bool) {
			// Under pressure idle keep-alive connections are closed and
			// no more are kept, so that the slots go to new clients
			// (a probe among them) instead of waiting for idle ones.
			srv.SetKeepAlivesEnabled(!full)
		})
	}
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	flags := &web.FlagConfig{WebConfigFile: &opts.WebConfigFile}
	slogger := slog.New(zapslog.NewHandler(logger.Core(), zapslog.WithName("observerd.web")))
	served := make(chan error, 1)
	go func() { served <- web.Serve(ln, srv, flags, slogger) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve http on %s: %w", addr, err)
	case <-ctx.Done():
	}
	// ctx is done: shut down under a fresh deadline.
	sctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("shut down http on %s within %s, then closed its connections: %w", addr, opts.ShutdownTimeout, err)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve http on %s: %w", addr, serr))
	}
	return err
}

// drainKey is the context key of the channel that is closed when the
// server of a request begins to shut down.
type drainKey struct{}

// drainOnShutdown sets srv.BaseContext so that every request of srv has a
// channel, found with draining, that is closed when srv.Shutdown begins.
// Shutdown waits for handlers to return but cancels none of their
// contexts, so a handler that waits for a new snapshot would hold it for
// its whole timeout; the handlers that wait select on this channel too.
// The request contexts are left alone, so that answers under way finish.
func drainOnShutdown(srv *http.Server) {
	ch := make(chan struct{})
	srv.BaseContext = func(net.Listener) context.Context {
		return context.WithValue(context.Background(), drainKey{}, (<-chan struct{})(ch))
	}
	srv.RegisterOnShutdown(sync.OnceFunc(func() { close(ch) }))
}

// draining returns the channel closed when the server of the request of
// ctx begins to shut down; nil, which never fires, outside Serve.
func draining(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(drainKey{}).(<-chan struct{})
	return ch
}
