package ratelimiter_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	client "github.com/observerd/observerd/internal/clients/ratelimiter"
	"github.com/observerd/observerd/internal/ratelimiter"
	"github.com/observerd/observerd/internal/ratelimiter/ratelimitertest"
	"github.com/observerd/observerd/internal/testenv"
)

// startReferenceNode runs the project's reference node against a real
// redis-server and returns it with its base URL.
func startReferenceNode(t *testing.T, mutate func(*ratelimiter.Config)) (*ratelimiter.Node, string) {
	t.Helper()
	return ratelimitertest.Start(t, referenceConfig(t, mutate), nil)
}

// referenceConfig is a reference node's configuration against a fresh
// redis-server, on a free loopback port, changed by mutate.
func referenceConfig(t *testing.T, mutate func(*ratelimiter.Config)) ratelimiter.Config {
	t.Helper()
	r := testenv.StartRedis(t)
	cfg, err := ratelimiter.ParseConfig(nil)
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	cfg.RedisURL = r.URL
	cfg.NodeHost = "127.0.0.1"
	cfg.NodePort = 0
	mutate(&cfg)
	return cfg
}

func findCounter(list []client.Counter, key string) (client.Counter, bool) {
	i := slices.IndexFunc(list, func(c client.Counter) bool { return c.Key == key })
	if i < 0 {
		return client.Counter{}, false
	}
	return list[i], true
}

// TestReferenceNode runs every endpoint against the real reference node.
func TestReferenceNode(t *testing.T) {
	node, base := startReferenceNode(t, func(cfg *ratelimiter.Config) {
		cfg.NodeID = "node-ref"
		cfg.DefaultLimit = 3
	})
	c, err := client.New(base, client.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	ctx := t.Context()

	h, err := c.Health(ctx)
	if err != nil || !h.Healthy() || h.NodeID != "node-ref" {
		t.Fatalf("Health() = %+v, %v", h, err)
	}
	limits, err := c.Limits(ctx)
	if err != nil || *limits != (client.Limits{DefaultLimit: 3, DefaultWindow: time.Minute}) {
		t.Fatalf("Limits() = %+v, %v", limits, err)
	}

	for i := range 4 {
		res, err := c.Check(ctx, client.CheckRequest{Key: "user:1"})
		if err != nil {
			t.Fatalf("Check #%d: %v", i+1, err)
		}
		if wantAllowed := i < 3; res.Allowed != wantAllowed {
			t.Fatalf("Check #%d = %+v, want allowed %t", i+1, res, wantAllowed)
		}
		if i == 3 && (res.RetryAfter <= 0 || res.HeaderReset == nil || res.HeaderLimit == nil || *res.HeaderLimit != 3) {
			t.Errorf("blocked Check = %+v, want retry after, limit and reset headers", res)
		}
	}
	counters, err := c.Counters(ctx)
	if got, ok := findCounter(counters, "user:1"); err != nil || !ok || got != (client.Counter{Key: "user:1", Count: 3, Limit: 3}) {
		t.Errorf("Counters() = %+v, %v; want user:1 at 3 of 3", counters, err)
	}
	blocks, err := c.Blocks(ctx)
	if _, ok := findCounter(blocks, "user:1"); err != nil || !ok {
		t.Errorf("Blocks() = %+v, %v; want user:1", blocks, err)
	}

	testenv.WaitFor(t, 10*time.Second, "the node in its own /api/nodes", func() error {
		peers, err := c.Nodes(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(peers, func(p client.Peer) bool { return p.ID == "node-ref" })
		if i < 0 || peers[i].Address != c.Address() || peers[i].RegisteredAt == nil || peers[i].State != "Up" {
			return fmt.Errorf("peers %+v", peers)
		}
		return nil
	})

	set, err := c.SetLimit(ctx, "user:1", 10, 2*time.Second)
	if err != nil || set != (client.LimitOverride{Key: "user:1", Limit: 10, Window: 2 * time.Second, Updated: true}) {
		t.Errorf("SetLimit() = %+v, %v", set, err)
	}
	counters, err = c.Counters(ctx)
	if got, ok := findCounter(counters, "user:1"); err != nil || !ok || got.Limit != 10 {
		t.Errorf("Counters() after SetLimit = %+v, %v; want user:1 limited at 10", counters, err)
	}

	const odd = "tenant/a b?c"
	if _, err := c.Check(ctx, client.CheckRequest{Key: odd, Limit: new(int64(5))}); err != nil {
		t.Fatalf("Check(%q): %v", odd, err)
	}
	for _, key := range []string{"user:1", odd} {
		res, err := c.ResetCounter(ctx, key)
		if err != nil || res != (client.ResetResult{Key: key, Reset: true}) {
			t.Errorf("ResetCounter(%q) = %+v, %v", key, res, err)
		}
	}

	node.SetFailing(client.PathCounters, true)
	_, err = c.Counters(ctx)
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusInternalServerError || he.Detail == "" {
		t.Errorf("Counters() of a failing endpoint: %v, want an HTTPError 500 with detail", err)
	}
}
