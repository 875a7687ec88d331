// Package ratelimiter is a reference implementation, backed by Redis, of the
// distributed sliding-window rate limiter node that observerd watches
// (docs/contract.md). It keeps the contract exactly, quirks included, so that it
// can stand in for the original service in demos and end-to-end tests, and
// it has chaos knobs to inject faults from the environment or at runtime.
package ratelimiter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/observerd/observerd/internal/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// Redis key prefixes of the contract's layout.
const (
	keyPrefix      = "ratelimit:"
	overridePrefix = "ratelimit:limit:"
	seqSuffix      = ":seq"
	registryPrefix = "ratelimiter:nodes:"
)

// shutdownTimeout bounds the graceful shutdown of the HTTP server.
const shutdownTimeout = 5 * time.Second

// Node is one rate limiter node: its HTTP API, its registry heartbeat and
// its metrics. Several nodes may run in one process.
type Node struct {
	cfg     Config
	rdb     redis.UniversalClient
	log     *zap.Logger
	metrics *metrics
	handler http.Handler
	script  *redis.Script
	// registeredAt is written once at start, as the original does.
	registeredAt string

	// The chaos knobs, changeable at runtime.
	clockOffset atomic.Int64 // time.Duration
	checkDelay  atomic.Int64 // time.Duration
	failOpen    atomic.Bool
	failing     sync.Map // path or route pattern -> true
}

// New builds a node. The caller owns rdb and closes it after Run returns.
func New(cfg Config, rdb redis.UniversalClient, logger *zap.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rdb == nil {
		return nil, errors.New("new ratelimiter node: nil redis client")
	}
	n := &Node{
		cfg:          cfg,
		rdb:          rdb,
		log:          logger.Named("ratelimiter").With(zap.String("node_id", cfg.NodeID)),
		metrics:      newMetrics(),
		script:       redis.NewScript(checkLua),
		registeredAt: isoformat(time.Now()),
	}
	n.SetClockOffset(cfg.ChaosClockOffset)
	n.SetCheckDelay(cfg.ChaosCheckDelay)
	n.SetFailOpen(cfg.ChaosFailOpen)
	for _, p := range cfg.ChaosFailEndpoints {
		if p != "" {
			n.SetFailing(p, true)
		}
	}
	n.handler = n.routes()
	return n, nil
}

// NewRedisClient opens a client for cfg.RedisURL.
func NewRedisClient(cfg Config) (*redis.Client, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return nil, errors.New("RATELIMITER_REDIS_URL: not a valid redis URL")
	}
	return redis.NewClient(opts), nil
}

// Handler serves the node's HTTP API, chaos faults included.
func (n *Node) Handler() http.Handler { return n.handler }

// Gatherer exposes the node's private metrics registry.
func (n *Node) Gatherer() prometheus.Gatherer { return n.metrics.reg }

// Run serves on ln and keeps the registry entry alive until ctx ends, then
// shuts the server down gracefully and returns nil once every goroutine it
// started has ended. It returns an error only when serving fails. The
// registry entry is left to expire, as the original leaves it.
func (n *Node) Run(ctx context.Context, ln net.Listener) error {
	addr := n.address(ln)
	srv := &http.Server{
		Handler:           n.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          zap.NewStdLog(n.log.Named("http")),
	}
	n.metrics.nodeUp.Set(1)
	defer n.metrics.nodeUp.Set(0)
	n.log.Info("node starting", zap.String("listen", ln.Addr().String()), zap.String("address", addr))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := server.Serve(gctx, srv, ln, server.ServeOptions{ShutdownTimeout: shutdownTimeout, Logger: n.log.Named("http")})
		if err != nil && gctx.Err() != nil {
			// Stopping: a slow graceful shutdown is not the node's failure.
			n.log.Warn("graceful shutdown timed out, closed connections", zap.Error(err))
			return nil
		}
		return err
	})
	g.Go(func() error {
		n.heartbeat(gctx, addr)
		return nil
	})
	err := g.Wait()
	n.log.Info("node stopped")
	return err
}

// address is the host:port the node registers. It is written as the
// original writes it, host and port joined by a colon without brackets.
func (n *Node) address(ln net.Listener) string {
	port := n.cfg.NodePort
	if port == 0 {
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
			port = tcp.Port
		}
	}
	return n.cfg.NodeHost + ":" + strconv.Itoa(port)
}

// heartbeat registers the node at once and then every heartbeat interval,
// until ctx ends. A failed heartbeat is logged when the state changes.
func (n *Node) heartbeat(ctx context.Context, addr string) {
	ticker := time.NewTicker(n.cfg.Heartbeat.Duration())
	defer ticker.Stop()
	healthy := true
	for {
		err := n.register(ctx, addr)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && healthy:
			n.log.Warn("registry heartbeat failing", zap.Error(err))
			healthy = false
		case err == nil && !healthy:
			n.log.Info("registry heartbeat recovered")
			healthy = true
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// register writes the registry hash and renews its TTL in one transaction.
func (n *Node) register(ctx context.Context, addr string) error {
	key := registryPrefix + n.cfg.NodeID
	// One heartbeat may take at most an interval, but no less than a
	// second, so that a short test interval does not fail a slow write.
	ctx, cancel := context.WithTimeout(ctx, min(requestTimeout, max(n.cfg.Heartbeat.Duration(), time.Second)))
	defer cancel()
	_, err := n.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "address", addr, "registered_at", n.registeredAt)
		p.PExpire(ctx, key, n.cfg.NodeTTL.Duration())
		return nil
	})
	if err != nil {
		return fmt.Errorf("register node in redis %s: %w", key, err)
	}
	return nil
}

// isoformat writes t as Python's datetime.isoformat() writes a naive local
// time: no offset, microseconds only when they are not zero.
func isoformat(t time.Time) string {
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

// SetClockOffset makes the node's clock run d ahead (or behind, when
// negative) for every check and count from now on.
func (n *Node) SetClockOffset(d time.Duration) { n.clockOffset.Store(int64(d)) }

// SetCheckDelay adds d of latency to every /check from now on.
func (n *Node) SetCheckDelay(d time.Duration) { n.checkDelay.Store(int64(d)) }

// SetFailOpen makes a check that Redis cannot decide allowed rather than
// an error, from now on.
func (n *Node) SetFailOpen(on bool) { n.failOpen.Store(on) }

// SetFailing makes path (an exact request path like /api/counters, or a
// route pattern like /api/counters/{key}/reset) answer 500, or repairs it.
func (n *Node) SetFailing(path string, fail bool) {
	if fail {
		n.failing.Store(path, true)
	} else {
		n.failing.Delete(path)
	}
}

// now is the node's clock, chaos offset applied.
func (n *Node) now() time.Time {
	return time.Now().Add(time.Duration(n.clockOffset.Load()))
}

// isFailing reports whether path was made to answer 500.
func (n *Node) isFailing(path string) bool {
	_, ok := n.failing.Load(path)
	return ok
}
