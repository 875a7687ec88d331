// Package ratelimitertest runs reference rate limiter nodes in tests.
package ratelimitertest

import (
	"context"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/ratelimiter"
	"github.com/observerd/observerd/internal/testenv"
)

// Start runs a reference node with cfg on a free 127.0.0.1 port until the
// test ends and returns it with its base URL. With cfg.NodePort 0 the node
// registers the port it listens on. rdb may be shared by several nodes;
// nil gives the node a client of its own (see newNode).
func Start(t testing.TB, cfg ratelimiter.Config, rdb redis.UniversalClient) (*ratelimiter.Node, string) {
	t.Helper()
	node := newNode(t, cfg, rdb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("reference node %s: listen: %v", cfg.NodeID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("reference node %s: %v", cfg.NodeID, err)
		}
	})
	return node, "http://" + ln.Addr().String()
}

// StartTLS serves a reference node's API over TLS, with a server
// certificate of ca (and, with clientCerts, requiring a client certificate
// of ca), until the test ends, and returns the node and its https base
// URL. Only the API is served: the node does not register itself.
func StartTLS(t testing.TB, cfg ratelimiter.Config, rdb redis.UniversalClient, ca *testenv.CA, clientCerts bool) (*ratelimiter.Node, string) {
	t.Helper()
	node := newNode(t, cfg, rdb)
	return node, ca.ServeTLS(t, node.Handler(), clientCerts).URL
}

// newNode builds a reference node with cfg; nil rdb gives it a client of
// its own, closed when the test ends (after the node stopped serving).
func newNode(t testing.TB, cfg ratelimiter.Config, rdb redis.UniversalClient) *ratelimiter.Node {
	t.Helper()
	if rdb == nil {
		own, err := ratelimiter.NewRedisClient(cfg)
		if err != nil {
			t.Fatalf("reference node %s: %v", cfg.NodeID, err)
		}
		t.Cleanup(func() { _ = own.Close() }) // runs after the node stopped
		rdb = own
	}
	node, err := ratelimiter.New(cfg, rdb, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("reference node %s: %v", cfg.NodeID, err)
	}
	return node
}
