package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// startTimeout bounds how long one program may take to become ready.
const startTimeout = 30 * time.Second

// observerdPoll is how often observerd polls the cluster in the demo.
const observerdPoll = 2 * time.Second

// demoCluster is where everything listens.
type demoCluster struct {
	observerd    string   // base URL
	observerdEnv []string // the environment observerd runs with
	prometheus   string   // base URL
	nodes        []string // base URLs
	nodePIDs     []int
}

// starter holds what every step of startCluster needs.
type starter struct {
	g    *procs.Group
	bins procs.Programs
	log  io.Writer
}

// start starts a child in the group and waits until probe passes for it,
// failing at once with how it ended and the end of its log should it end
// first, or once startTimeout passes.
func (s *starter) start(ctx context.Context, name, path string, args, env []string, probe func(context.Context) error) (*procs.Child, error) {
	c, err := s.g.Start(name, path, args, env)
	if err != nil {
		return nil, err
	}
	return c, procs.WaitFor(ctx, startTimeout, name+" to be ready (its log: "+c.LogPath()+")", func() error {
		if err := c.Alive(); err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		return probe(pctx)
	})
}

// startCluster starts in g, in order and each ready before the next, Redis,
// the nodes, Prometheus, the load and observerd.
func startCluster(ctx context.Context, g *procs.Group, bins procs.Programs, log io.Writer) (*demoCluster, error) {
	s := &starter{g: g, bins: bins, log: log}
	redisAddr, err := s.startRedis(ctx)
	if err != nil {
		return nil, err
	}
	c := &demoCluster{}
	nodeAddrs, err := s.startNodes(ctx, redisAddr, c)
	if err != nil {
		return nil, err
	}
	// observerd's port is chosen before Prometheus starts, since
	// Prometheus scrapes it.
	obsAddr, _, err := loopbackAddr(9750)
	if err != nil {
		return nil, err
	}
	c.observerd = "http://" + obsAddr
	if c.prometheus, err = s.startPrometheus(ctx, nodeAddrs, obsAddr); err != nil {
		return nil, err
	}
	if err := s.startLoad(c.nodes); err != nil {
		return nil, err
	}
	if err := s.startObserverd(ctx, obsAddr, redisAddr, c); err != nil {
		return nil, err
	}
	return c, nil
}

// startRedis starts redis-server and returns its address once it accepts
// connections.
func (s *starter) startRedis(ctx context.Context) (string, error) {
	addr, port, err := loopbackAddr(6390)
	if err != nil {
		return "", err
	}
	if _, err := s.start(ctx, "redis", s.bins.Redis, []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.g.Dir(), "--daemonize", "no",
	}, nil, tcpOpen(addr)); err != nil {
		return "", err
	}
	fmt.Fprintf(s.log, "started redis-server on %s\n", addr)
	return addr, nil
}

// startNodes starts three rate limiter nodes on Redis at redisAddr, one
// after the other, adds them to c and returns their addresses once each is
// healthy.
func (s *starter) startNodes(ctx context.Context, redisAddr string, c *demoCluster) ([]string, error) {
	var nodeAddrs []string
	for i := 1; i <= 3; i++ {
		addr, port, err := loopbackAddr(8000 + i)
		if err != nil {
			return nil, err
		}
		id := "node-" + strconv.Itoa(i)
		child, err := s.start(ctx, id, s.bins.Ratelimiterd, nil, []string{
			"RATELIMITER_REDIS_URL=redis://" + redisAddr,
			"RATELIMITER_NODE_ID=" + id,
			"RATELIMITER_NODE_HOST=127.0.0.1",
			"RATELIMITER_LISTEN_HOST=127.0.0.1",
			"RATELIMITER_NODE_PORT=" + strconv.Itoa(port),
			"RATELIMITER_DEFAULT_LIMIT=10",
			"RATELIMITER_DEFAULT_WINDOW_MS=60000",
		}, httpOK("http://"+addr+"/health"))
		if err != nil {
			return nil, err
		}
		nodeAddrs = append(nodeAddrs, addr)
		c.nodes = append(c.nodes, "http://"+addr)
		c.nodePIDs = append(c.nodePIDs, child.PID())
	}
	fmt.Fprintf(s.log, "started 3 rate limiter nodes on %s\n", strings.Join(nodeAddrs, ", "))
	return nodeAddrs, nil
}

// startPrometheus starts Prometheus scraping the nodes and observerd at
// obsAddr, and returns its base URL once it is ready.
func (s *starter) startPrometheus(ctx context.Context, nodeAddrs []string, obsAddr string) (string, error) {
	addr, _, err := loopbackAddr(9090)
	if err != nil {
		return "", err
	}
	conf := filepath.Join(s.g.Dir(), "prometheus.yml")
	if err := os.WriteFile(conf, []byte(prometheusConfig(nodeAddrs, obsAddr)), 0o644); err != nil {
		return "", err
	}
	if _, err := s.start(ctx, "prometheus", s.bins.Prometheus, []string{
		"--config.file=" + conf,
		"--storage.tsdb.path=" + filepath.Join(s.g.Dir(), "prometheus-data"),
		"--web.listen-address=" + addr,
		"--storage.tsdb.retention.time=1d",
	}, nil, httpOK("http://"+addr+"/-/ready")); err != nil {
		return "", err
	}
	fmt.Fprintf(s.log, "started Prometheus on %s, scraping the nodes every second\n", addr)
	return "http://" + addr, nil
}

// startLoad starts two load generators on the nodes: steady traffic with
// hot keys and bursts, and short-lived keys as real clients make them.
func (s *starter) startLoad(nodes []string) error {
	targets := strings.Join(nodes, ",")
	if _, err := s.g.Start("loadgen", s.bins.Loadgen, []string{
		"-targets", targets, "-rate", "40", "-hot-share", "0.5", "-hot-keys", "3",
		"-keys", "100", "-burst-every", "15s", "-burst-size", "60", "-key-prefix", "user-",
	}, nil); err != nil {
		return err
	}
	if _, err := s.g.Start("loadgen-sessions", s.bins.Loadgen, []string{
		"-targets", targets, "-rate", "5", "-fresh-keys", "-window-ms", "10000", "-key-prefix", "session-",
	}, nil); err != nil {
		return err
	}
	fmt.Fprintln(s.log, "started the load generator: 40 checks/s with hot keys and bursts, 5/s on short-lived keys")
	return nil
}

// startObserverd starts observerd on obsAddr as a sidecar of c's first
// node and waits until it is ready.
func (s *starter) startObserverd(ctx context.Context, obsAddr, redisAddr string, c *demoCluster) error {
	c.observerdEnv = []string{
		"OBSERVERD_LISTEN_ADDR=" + obsAddr,
		// As a sidecar of node-1: the other nodes come from the registry.
		"OBSERVERD_RATELIMITER_URLS=" + c.nodes[0],
		"OBSERVERD_REDIS_URL=redis://" + redisAddr,
		"OBSERVERD_PROMETHEUS_URL=" + c.prometheus,
		"OBSERVERD_POLL_INTERVAL=" + observerdPoll.String(),
		"OBSERVERD_LOG_FORMAT=console",
	}
	if _, err := s.start(ctx, "observerd", s.bins.Observerd, nil, c.observerdEnv, httpOK(c.observerd+"/readyz")); err != nil {
		return err
	}
	fmt.Fprintf(s.log, "started observerd on %s\n", obsAddr)
	return nil
}

// prometheusConfig scrapes the nodes every second and observerd every five,
// with observerd's alert rules when the repository's copy is at hand.
func prometheusConfig(nodes []string, observerd string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  evaluation_interval: 5s\n")
	if rules, err := filepath.Abs("deploy/prometheus/alerts.yml"); err == nil {
		if _, err := os.Stat(rules); err == nil {
			fmt.Fprintf(&b, "rule_files:\n  - %q\n", rules)
		}
	}
	b.WriteString("scrape_configs:\n  - job_name: ratelimiter\n    static_configs:\n      - targets: [")
	for i, n := range nodes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	fmt.Fprintf(&b, "]\n  - job_name: observerd\n    scrape_interval: 5s\n    static_configs:\n      - targets: [%q]\n", observerd)
	return b.String()
}
