package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/loadgen"
	"github.com/observerd/observerd/internal/ratelimiter"
	"github.com/observerd/observerd/internal/testenv"
)

// cluster is a real rate limiter cluster for end-to-end tests: one
// redis-server, reference nodes in this process, and a Prometheus scraping
// them every second.
type cluster struct {
	t     *testing.T
	redis *testenv.Redis
	nodes []*refNode
	prom  *testenv.Prometheus
	rdb   *goredis.Client
}

// refNode is one reference node on a fixed loopback port, so that it can be
// stopped and started again under the same address.
type refNode struct {
	id     string
	port   int
	env    []string
	node   *ratelimiter.Node
	rdb    *goredis.Client
	cancel context.CancelFunc
	done   chan error
	// proxy, when set, carries the node's link to Redis (and no one
	// else's), so that the link can be cut while Redis stays up.
	proxy *testenv.Proxy
}

// Addr is the node's host:port, as registered and as scraped.
func (n *refNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// URL is the node's base URL.
func (n *refNode) URL() string { return "http://" + n.Addr() }

// clusterOptions tune the cluster.
type clusterOptions struct {
	nodes      int
	nodeEnv    []string // extra RATELIMITER_* settings for every node
	prometheus bool
	// proxied are the indexes of the nodes that reach Redis through a
	// proxy of their own (refNode.proxy). Their Redis client does not
	// retry: a command over a cut link fails at once.
	proxied []int
}

// startCluster starts Redis, the nodes and, when asked, Prometheus, and
// stops them all when the test ends.
func startCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	c := &cluster{t: t, redis: testenv.StartRedis(t)}
	c.rdb = goredis.NewClient(&goredis.Options{Addr: c.redis.Addr})
	t.Cleanup(func() { _ = c.rdb.Close() })
	for i := range opts.nodes {
		n := &refNode{id: fmt.Sprintf("node-%d", i+1), port: testenv.FreePort(t)}
		redisURL := c.redis.URL
		if slices.Contains(opts.proxied, i) {
			// Closed after the node stops: its cleanup comes later, so
			// it runs first.
			n.proxy = testenv.StartProxy(t, c.redis.Addr)
			redisURL = "redis://" + n.proxy.Addr + "?max_retries=-1"
		}
		n.env = append([]string{
			"RATELIMITER_REDIS_URL=" + redisURL,
			"RATELIMITER_NODE_ID=" + n.id,
			"RATELIMITER_NODE_HOST=127.0.0.1",
			"RATELIMITER_NODE_PORT=" + strconv.Itoa(n.port),
			"RATELIMITER_LISTEN_HOST=127.0.0.1",
			"RATELIMITER_DEFAULT_LIMIT=10",
			"RATELIMITER_DEFAULT_WINDOW_MS=60000",
			"RATELIMITER_NODE_TTL_SECONDS=4",
			"RATELIMITER_NODE_HEARTBEAT_SECONDS=1",
		}, opts.nodeEnv...)
		c.nodes = append(c.nodes, n)
		c.startNode(i)
		t.Cleanup(func() { c.stopNode(i) })
	}
	if opts.prometheus {
		targets := make([]string, len(c.nodes))
		for i, n := range c.nodes {
			targets[i] = n.Addr()
		}
		c.prom = testenv.StartPrometheus(t, testenv.PrometheusConfig{Job: "ratelimiter", Targets: targets, ScrapeInterval: time.Second})
	}
	return c
}

// startNode starts node i (again) on its port and waits for /health.
func (c *cluster) startNode(i int) {
	t := c.t
	t.Helper()
	n := c.nodes[i]
	if n.cancel != nil {
		return
	}
	cfg, err := ratelimiter.ParseConfig(n.env)
	if err != nil {
		t.Fatalf("node %s config: %v", n.id, err)
	}
	n.rdb, err = ratelimiter.NewRedisClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.node, err = ratelimiter.New(cfg, n.rdb, zaptest.NewLogger(t).Named(n.id))
	if err != nil {
		t.Fatalf("node %s: %v", n.id, err)
	}
	var ln net.Listener
	// The port was free a moment ago or was this node's own: binding
	// again may take a moment while the old socket closes.
	testenv.WaitFor(t, 10*time.Second, "listen on "+n.Addr(), func() error {
		ln, err = net.Listen("tcp", n.Addr())
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.node.Run(ctx, ln) }()
	testenv.WaitFor(t, 10*time.Second, n.id+" /health", func() error {
		conn, err := net.DialTimeout("tcp", n.Addr(), time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// stopNode stops node i; its registry entry is left to expire, as a
// crashed node's would.
func (c *cluster) stopNode(i int) {
	n := c.nodes[i]
	if n.cancel == nil {
		return
	}
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			c.t.Errorf("node %s: %v", n.id, err)
		}
	case <-time.After(10 * time.Second):
		c.t.Errorf("node %s did not stop within 10s", n.id)
	}
	_ = n.rdb.Close()
	n.cancel, n.done = nil, nil
}

// urls are the base URLs of every node.
func (c *cluster) urls() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.URL()
	}
	return out
}

// load runs the load generator in the background until the test ends or
// the returned stop is called; stop returns the generator's totals.
func (c *cluster) load(cfg loadgen.Config) (stop func() loadgen.Totals) {
	t := c.t
	t.Helper()
	if len(cfg.Targets) == 0 {
		cfg.Targets = c.urls()
	}
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		totals loadgen.Totals
		err    error
	}
	done := make(chan result, 1)
	go func() {
		tot, err := loadgen.Run(ctx, cfg)
		done <- result{tot, err}
	}()
	var res *result
	stop = func() loadgen.Totals {
		if res == nil {
			cancel()
			r := <-done
			res = &r
			if r.err != nil {
				t.Errorf("loadgen: %v", r.err)
			}
		}
		return res.totals
	}
	t.Cleanup(func() { stop() })
	return stop
}

// observerdEnv is the environment of an observerd watching c with fast
// polls; extra settings come last and win.
func (c *cluster) observerdEnv(extra ...string) []string {
	env := []string{
		"OBSERVERD_REDIS_URL=" + c.redis.URL,
		"OBSERVERD_RATELIMITER_URLS=" + c.nodes[0].URL(),
		"OBSERVERD_POLL_INTERVAL=500ms",
		"OBSERVERD_POLL_TIMEOUT=2s",
		"OBSERVERD_POLL_MAX_BACKOFF=1s",
		"OBSERVERD_NODE_FORGET_AFTER=5m",
	}
	if c.prom != nil {
		env = append(env,
			"OBSERVERD_PROMETHEUS_URL="+c.prom.URL,
			// Short windows: the tests run for seconds, not minutes.
			`OBSERVERD_PROMETHEUS_QUERY_P99=histogram_quantile(0.99, sum by (instance, le) (rate(ratelimiter_check_duration_seconds_bucket[10s])))`,
			`OBSERVERD_PROMETHEUS_QUERY_ALLOWED=sum by (instance) (rate(ratelimiter_requests_checked_total{result="allowed"}[10s]))`,
			`OBSERVERD_PROMETHEUS_QUERY_BLOCKED=sum by (instance) (rate(ratelimiter_requests_checked_total{result="blocked"}[10s]))`,
			`OBSERVERD_PROMETHEUS_QUERY_ALLOWED_TOTAL=sum(rate(ratelimiter_requests_checked_total{result="allowed"}[10s]))`,
			`OBSERVERD_PROMETHEUS_QUERY_BLOCKED_TOTAL=sum(rate(ratelimiter_requests_checked_total{result="blocked"}[10s]))`,
		)
	} else {
		env = append(env, "OBSERVERD_SOURCES=ratelimiter,redis")
	}
	return append(env, extra...)
}
