package loadgen

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/ratelimiter"
	"github.com/observerd/observerd/internal/ratelimiter/ratelimitertest"
	"github.com/observerd/observerd/internal/testenv"
)

// refNode is a reference rate limiter node running in the test.
type refNode struct {
	*ratelimiter.Node
	url string
}

// startNodes runs n reference nodes on one fresh redis-server and returns
// them with a client of that Redis.
func startNodes(t *testing.T, n int, mutate func(*ratelimiter.Config)) ([]*refNode, *redis.Client) {
	t.Helper()
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	nodes := make([]*refNode, n)
	for i := range nodes {
		cfg, err := ratelimiter.ParseConfig(nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RedisURL = r.URL
		cfg.NodeID = "lg-node-" + string(rune('a'+i))
		cfg.NodeHost = "127.0.0.1"
		cfg.NodePort = 0
		if mutate != nil {
			mutate(&cfg)
		}
		node, url := ratelimitertest.Start(t, cfg, rdb)
		nodes[i] = &refNode{Node: node, url: url}
	}
	return nodes, rdb
}

// checked reads a node's ratelimiter_requests_checked_total by result.
func checked(t *testing.T, g prometheus.Gatherer) (allowed, blocked int64) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ratelimiter_requests_checked_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "result" {
					continue
				}
				switch l.GetValue() {
				case "allowed":
					allowed = int64(m.GetCounter().GetValue())
				case "blocked":
					blocked = int64(m.GetCounter().GetValue())
				}
			}
		}
	}
	return allowed, blocked
}

func ptr(v int64) *int64 { return &v }
