package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/snapshot"
)

// observerd's polling in the soak: fast enough that several polls fall in
// every fault, with the deadline below the fault's hold.
const (
	pollInterval = time.Second
	pollTimeout  = 2 * time.Second
	maxBackoff   = 2 * time.Second
	// startTimeout bounds how long one program may take to be ready.
	startTimeout = 30 * time.Second
	// recoverTimeout bounds how long the whole cluster may take to be
	// healthy again after a repair: a node re-registers at its next
	// heartbeat (nodeHeartbeat), observerd asks a failing source again
	// within maxBackoff. Generous: the soak is about leaks, not latency.
	recoverTimeout = 30 * time.Second
	nodeHeartbeat  = 2 * time.Second
)

// cluster is every part the soak runs, and what restarting each takes.
type cluster struct {
	ctx  context.Context
	g    *procs.Group
	bins procs.Programs
	hc   *http.Client

	redisPort int
	redis     *procs.Child
	rdb       *goredis.Client
	nodes     []*node
	promArgs  []string
	promURL   string
	prom      *procs.Child
	obs       *procs.Child
	obsURL    string
}

// node is one ratelimiterd on a fixed port, so that it comes back at the
// address it is registered and scraped at.
type node struct {
	id    string
	port  int
	env   []string
	child *procs.Child
}

func (n *node) url() string { return "http://127.0.0.1:" + strconv.Itoa(n.port) }

// startCluster starts Redis, the nodes, Prometheus, the load and observerd,
// each ready before the next.
func startCluster(ctx context.Context, g *procs.Group, bins procs.Programs) (*cluster, error) {
	c := &cluster{ctx: ctx, g: g, bins: bins, hc: &http.Client{Timeout: 5 * time.Second}}
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	c.redisPort = ports[0]
	c.rdb = goredis.NewClient(&goredis.Options{Addr: c.redisAddr(), MaxRetries: -1, PoolSize: 2})
	steps := []func() error{
		c.startRedis,
		func() error { return c.startNodes(ports[1:4]) },
		func() error { return c.configurePrometheus(ports[4]) },
		c.startPrometheus,
		c.startLoad,
		func() error { return c.startObserverd(ports[5]) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func freePorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := procs.FreePort()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func (c *cluster) close() { _ = c.rdb.Close() }

func (c *cluster) redisAddr() string { return "127.0.0.1:" + strconv.Itoa(c.redisPort) }

// startRedis starts redis-server without persistence on its port (again,
// after stopRedis: empty) and waits until this very process answers.
func (c *cluster) startRedis() error {
	child, err := c.g.Start("redis", c.bins.Redis, []string{
		"--port", strconv.Itoa(c.redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", c.g.Dir(), "--protected-mode", "no", "--daemonize", "no",
	}, nil)
	if err != nil {
		return err
	}
	c.redis = child
	return procs.WaitFor(c.ctx, startTimeout, "redis-server on "+c.redisAddr(), func() error {
		if err := child.Alive(); err != nil {
			return err
		}
		info, err := c.rdb.Info(c.ctx, "server").Result()
		if err != nil {
			return err
		}
		// Another redis-server that took the port while ours was down
		// would be a stranger.
		if !strings.Contains(info, "process_id:"+strconv.Itoa(child.PID())+"\r\n") {
			return fmt.Errorf("%s is answered by another redis-server", c.redisAddr())
		}
		return nil
	})
}

func (c *cluster) startNodes(ports []int) error {
	for i, p := range ports {
		n := &node{id: fmt.Sprintf("node-%d", i+1), port: p}
		n.env = []string{
			"RATELIMITER_REDIS_URL=redis://" + c.redisAddr(),
			"RATELIMITER_NODE_ID=" + n.id,
			"RATELIMITER_NODE_HOST=127.0.0.1",
			"RATELIMITER_LISTEN_HOST=127.0.0.1",
			"RATELIMITER_NODE_PORT=" + strconv.Itoa(p),
			"RATELIMITER_DEFAULT_LIMIT=10",
			"RATELIMITER_DEFAULT_WINDOW_MS=60000",
			// A short heartbeat: an empty Redis after a restart has the
			// nodes registered again within it.
			"RATELIMITER_NODE_HEARTBEAT_SECONDS=" + strconv.Itoa(int(nodeHeartbeat/time.Second)),
		}
		c.nodes = append(c.nodes, n)
		if err := c.startNode(n); err != nil {
			return err
		}
	}
	return nil
}

// startNode starts n (again) and waits for its /health.
func (c *cluster) startNode(n *node) error {
	child, err := c.g.Start(n.id, c.bins.Ratelimiterd, nil, n.env)
	if err != nil {
		return err
	}
	n.child = child
	return c.waitHTTP(child, n.url()+"/health")
}

// configurePrometheus writes the configuration of a Prometheus on port
// scraping every node each second.
func (c *cluster) configurePrometheus(port int) error {
	targets := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		targets[i] = strconv.Quote("127.0.0.1:" + strconv.Itoa(n.port))
	}
	conf := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n" +
		"scrape_configs:\n  - job_name: ratelimiter\n    scrape_timeout: 1s\n    static_configs:\n" +
		"      - targets: [" + strings.Join(targets, ", ") + "]\n"
	path := filepath.Join(c.g.Dir(), "prometheus.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c.promURL = "http://" + addr
	c.promArgs = []string{
		"--config.file=" + path,
		"--storage.tsdb.path=" + filepath.Join(c.g.Dir(), "prometheus-data"),
		"--web.listen-address=" + addr,
		"--storage.tsdb.retention.time=1h",
		"--log.level=warn",
	}
	return nil
}

// startPrometheus starts Prometheus (again, on its database) and waits
// until it is ready.
func (c *cluster) startPrometheus() error {
	child, err := c.g.Start("prometheus", c.bins.Prometheus, c.promArgs, nil)
	if err != nil {
		return err
	}
	c.prom = child
	return c.waitHTTP(child, c.promURL+"/-/ready")
}

// startLoad runs bin/loadgen's steadyLoad on every node for the whole
// soak.
func (c *cluster) startLoad() error {
	_, err := c.startMix(steadyLoad)
	return err
}

// startMix runs bin/loadgen with m on every node.
func (c *cluster) startMix(m mix) (*procs.Child, error) {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.url()
	}
	return c.g.Start(m.name, c.bins.Loadgen, m.args(urls), nil)
}

// startObserverd starts observerd as a sidecar of the first node (the
// others come from the registry) and waits until it is ready.
func (c *cluster) startObserverd(port int) error {
	c.obsURL = "http://127.0.0.1:" + strconv.Itoa(port)
	child, err := c.g.Start("observerd", c.bins.Observerd, nil, []string{
		"OBSERVERD_LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"OBSERVERD_RATELIMITER_URLS=" + c.nodes[0].url(),
		"OBSERVERD_REDIS_URL=redis://" + c.redisAddr(),
		"OBSERVERD_PROMETHEUS_URL=" + c.promURL,
		"OBSERVERD_POLL_INTERVAL=" + pollInterval.String(),
		"OBSERVERD_POLL_TIMEOUT=" + pollTimeout.String(),
		"OBSERVERD_POLL_MAX_BACKOFF=" + maxBackoff.String(),
		// The one invariant setting off its default, as a production
		// sidecar sets it: see nodeDownGrace.
		"OBSERVERD_NODE_DOWN_GRACE=" + nodeDownGrace.String(),
		"OBSERVERD_LOG_LEVEL=info",
	})
	if err != nil {
		return err
	}
	c.obs = child
	return c.waitHTTP(child, c.obsURL+"/readyz")
}

// waitHTTP waits until GET url answers 200, or child ends.
func (c *cluster) waitHTTP(child *procs.Child, url string) error {
	return procs.WaitFor(c.ctx, startTimeout, child.Name()+" at "+url, func() error {
		if err := child.Alive(); err != nil {
			return err
		}
		_, err := c.get(url)
		return err
	})
}

// get fetches url and returns its body; an answer other than 200 is an
// error.
func (c *cluster) get(url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// snapshot fetches observerd's /snapshot.
func (c *cluster) snapshot() (*snapshot.Snapshot, error) {
	body, err := c.get(c.obsURL + "/snapshot")
	if err != nil {
		return nil, err
	}
	var s snapshot.Snapshot
	return &s, json.Unmarshal(body, &s)
}

// waitWhole waits until observerd sees every source ok and every node
// reachable and registered.
func (c *cluster) waitWhole(ctx context.Context, timeout time.Duration) error {
	return procs.WaitFor(ctx, timeout, "every source ok and every node up", func() error {
		if err := c.obs.Alive(); err != nil {
			return err
		}
		s, err := c.snapshot()
		if err != nil {
			return err
		}
		for name, st := range s.Sources {
			if st.Status != snapshot.StatusOK {
				return fmt.Errorf("source %s is %s: %s", name, st.Status, st.Error)
			}
		}
		if len(s.Nodes) != len(c.nodes) {
			return fmt.Errorf("%d nodes", len(s.Nodes))
		}
		for _, n := range s.Nodes {
			if !n.Reachable || !n.Registered {
				return fmt.Errorf("node %s: reachable %v, registered %v", n.Name(), n.Reachable, n.Registered)
			}
		}
		return nil
	})
}
