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
	ctx  context.Context
	g    *procs.Group
	bins procs.Programs
	dir  string // the group's
	log  io.Writer
}

// ready waits until probe passes for c, or c exits, or startTimeout passes.
func (s *starter) ready(c *procs.Child, probe func(context.Context) error) error {
	return waitReady(s.ctx, c, startTimeout, probe)
}

// startCluster starts in g, in order and each ready before the next, Redis,
// the nodes, Prometheus, the load and observerd.
func startCluster(ctx context.Context, g *procs.Group, bins procs.Programs, log io.Writer) (*demoCluster, error) {
	s := &starter{ctx: ctx, g: g, bins: bins, dir: g.Dir(), log: log}
	redisAddr, err := s.startRedis()
	if err != nil {
		return nil, err
	}
	c := &demoCluster{}
	nodeAddrs, err := s.startNodes(redisAddr, c)
	if err != nil {
		return nil, err
	}
	// observerd's port is chosen before Prometheus starts, since
	// Prometheus scrapes it.
	obsAddr, err := loopbackAddr(9750)
	if err != nil {
		return nil, err
	}
	c.observerd = "http://" + obsAddr
	if c.prometheus, err = s.startPrometheus(nodeAddrs, obsAddr); err != nil {
		return nil, err
	}
	if err := s.startLoad(c.nodes); err != nil {
		return nil, err
	}
	if err := s.startObserverd(obsAddr, redisAddr, c); err != nil {
		return nil, err
	}
	return c, nil
}

// loopbackAddr returns 127.0.0.1 with preferred when it is free, else with
// any free port.
func loopbackAddr(preferred int) (string, error) {
	p, err := port(preferred)
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// startRedis starts redis-server and returns its address once it accepts
// connections.
func (s *starter) startRedis() (string, error) {
	redisPort, err := port(6390)
	if err != nil {
		return "", err
	}
	redisAddr := "127.0.0.1:" + strconv.Itoa(redisPort)
	child, err := s.g.Start("redis", s.bins.Redis, []string{
		"--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no",
	}, nil)
	if err != nil {
		return "", err
	}
	if err := s.ready(child, tcpOpen(redisAddr)); err != nil {
		return "", err
	}
	fmt.Fprintf(s.log, "started redis-server on %s\n", redisAddr)
	return redisAddr, nil
}

// startNodes starts three rate limiter nodes on Redis at redisAddr, one
// after the other, adds them to c and returns their addresses once each is
// healthy.
func (s *starter) startNodes(redisAddr string, c *demoCluster) ([]string, error) {
	var nodeAddrs []string
	for i := 1; i <= 3; i++ {
		addr, pid, err := s.startNode(i, redisAddr)
		if err != nil {
			return nil, err
		}
		nodeAddrs = append(nodeAddrs, addr)
		c.nodes = append(c.nodes, "http://"+addr)
		c.nodePIDs = append(c.nodePIDs, pid)
	}
	fmt.Fprintf(s.log, "started 3 rate limiter nodes on %s\n", strings.Join(nodeAddrs, ", "))
	return nodeAddrs, nil
}

// startNode starts node-i and returns its address and process id once it
// is healthy.
func (s *starter) startNode(i int, redisAddr string) (string, int, error) {
	p, err := port(8000 + i)
	if err != nil {
		return "", 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(p)
	id := "node-" + strconv.Itoa(i)
	child, err := s.g.Start(id, s.bins.Ratelimiterd, nil, []string{
		"RATELIMITER_REDIS_URL=redis://" + redisAddr,
		"RATELIMITER_NODE_ID=" + id,
		"RATELIMITER_NODE_HOST=127.0.0.1",
		"RATELIMITER_LISTEN_HOST=127.0.0.1",
		"RATELIMITER_NODE_PORT=" + strconv.Itoa(p),
		"RATELIMITER_DEFAULT_LIMIT=10",
		"RATELIMITER_DEFAULT_WINDOW_MS=60000",
	})
	if err != nil {
		return "", 0, err
	}
	if err := s.ready(child, httpOK("http://"+addr+"/health")); err != nil {
		return "", 0, err
	}
	return addr, child.PID(), nil
}

// startPrometheus starts Prometheus scraping the nodes and observerd at
// obsAddr, and returns its base URL once it is ready.
func (s *starter) startPrometheus(nodeAddrs []string, obsAddr string) (string, error) {
	promAddr, err := loopbackAddr(9090)
	if err != nil {
		return "", err
	}
	base := "http://" + promAddr
	promConf := filepath.Join(s.dir, "prometheus.yml")
	if err := os.WriteFile(promConf, []byte(prometheusConfig(nodeAddrs, obsAddr)), 0o644); err != nil {
		return "", err
	}
	child, err := s.g.Start("prometheus", s.bins.Prometheus, []string{
		"--config.file=" + promConf,
		"--storage.tsdb.path=" + filepath.Join(s.dir, "prometheus-data"),
		"--web.listen-address=" + promAddr,
		"--storage.tsdb.retention.time=1d",
	}, nil)
	if err != nil {
		return "", err
	}
	if err := s.ready(child, httpOK(base+"/-/ready")); err != nil {
		return "", err
	}
	fmt.Fprintf(s.log, "started Prometheus on %s, scraping the nodes every second\n", promAddr)
	return base, nil
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
func (s *starter) startObserverd(obsAddr, redisAddr string, c *demoCluster) error {
	c.observerdEnv = []string{
		"OBSERVERD_LISTEN_ADDR=" + obsAddr,
		// As a sidecar of node-1: the other nodes come from the registry.
		"OBSERVERD_RATELIMITER_URLS=" + c.nodes[0],
		"OBSERVERD_REDIS_URL=redis://" + redisAddr,
		"OBSERVERD_PROMETHEUS_URL=" + c.prometheus,
		"OBSERVERD_POLL_INTERVAL=" + observerdPoll.String(),
		"OBSERVERD_LOG_FORMAT=console",
	}
	child, err := s.g.Start("observerd", s.bins.Observerd, nil, c.observerdEnv)
	if err != nil {
		return err
	}
	if err := s.ready(child, httpOK(c.observerd+"/readyz")); err != nil {
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
