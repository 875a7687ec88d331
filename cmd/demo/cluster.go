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
)

// startTimeout bounds how long one program may take to become ready.
const startTimeout = 30 * time.Second

// demoCluster is where everything listens.
type demoCluster struct {
	observerd  string   // base URL
	prometheus string   // base URL
	nodes      []string // base URLs
}

// startCluster starts, in order and each ready before the next, Redis, the
// nodes, Prometheus, the load and observerd.
func startCluster(ctx context.Context, ps *procs, bins binaries, dir string, log io.Writer) (*demoCluster, error) {
	c := &demoCluster{}
	ready := func(pr *proc, cond func(context.Context) error) error {
		return waitFor(ctx, pr, startTimeout, dir, cond)
	}

	redisPort, err := port(6390)
	if err != nil {
		return nil, err
	}
	redisAddr := "127.0.0.1:" + strconv.Itoa(redisPort)
	pr, err := ps.start("redis", bins.redis, []string{
		"--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no",
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := ready(pr, tcpOpen(redisAddr)); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "started redis-server on %s\n", redisAddr)

	var nodeAddrs []string
	for i := 1; i <= 3; i++ {
		p, err := port(8000 + i)
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(p)
		id := "node-" + strconv.Itoa(i)
		pr, err := ps.start(id, bins.ratelimiterd, nil, []string{
			"RATELIMITER_REDIS_URL=redis://" + redisAddr,
			"RATELIMITER_NODE_ID=" + id,
			"RATELIMITER_NODE_HOST=127.0.0.1",
			"RATELIMITER_LISTEN_HOST=127.0.0.1",
			"RATELIMITER_NODE_PORT=" + strconv.Itoa(p),
			"RATELIMITER_DEFAULT_LIMIT=10",
			"RATELIMITER_DEFAULT_WINDOW_MS=60000",
		})
		if err != nil {
			return nil, err
		}
		if err := ready(pr, httpOK("http://"+addr+"/health")); err != nil {
			return nil, err
		}
		nodeAddrs = append(nodeAddrs, addr)
		c.nodes = append(c.nodes, "http://"+addr)
	}
	fmt.Fprintf(log, "started 3 rate limiter nodes on %s\n", strings.Join(nodeAddrs, ", "))

	obsPort, err := port(9750)
	if err != nil {
		return nil, err
	}
	obsAddr := "127.0.0.1:" + strconv.Itoa(obsPort)
	c.observerd = "http://" + obsAddr

	promPort, err := port(9090)
	if err != nil {
		return nil, err
	}
	promAddr := "127.0.0.1:" + strconv.Itoa(promPort)
	c.prometheus = "http://" + promAddr
	promConf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promConf, []byte(prometheusConfig(nodeAddrs, obsAddr)), 0o644); err != nil {
		return nil, err
	}
	pr, err = ps.start("prometheus", bins.prometheus, []string{
		"--config.file=" + promConf,
		"--storage.tsdb.path=" + filepath.Join(dir, "prometheus-data"),
		"--web.listen-address=" + promAddr,
		"--storage.tsdb.retention.time=1d",
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := ready(pr, httpOK(c.prometheus+"/-/ready")); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "started Prometheus on %s, scraping the nodes every second\n", promAddr)

	// Steady traffic with hot keys and bursts, and short-lived keys as
	// real clients make them.
	pr, err = ps.start("loadgen", bins.loadgen, []string{
		"-targets", strings.Join(c.nodes, ","), "-rate", "40", "-hot-share", "0.5", "-hot-keys", "3",
		"-keys", "100", "-burst-every", "15s", "-burst-size", "60", "-key-prefix", "user-",
	}, nil)
	if err != nil {
		return nil, err
	}
	if _, err := ps.start("loadgen-sessions", bins.loadgen, []string{
		"-targets", strings.Join(c.nodes, ","), "-rate", "5", "-fresh-keys", "-window-ms", "10000", "-key-prefix", "session-",
	}, nil); err != nil {
		return nil, err
	}
	fmt.Fprintln(log, "started the load generator: 40 checks/s with hot keys and bursts, 5/s on short-lived keys")

	pr, err = ps.start("observerd", bins.observerd, nil, []string{
		"OBSERVERD_LISTEN_ADDR=" + obsAddr,
		// As a sidecar of node-1: the other nodes come from the registry.
		"OBSERVERD_RATELIMITER_URLS=" + c.nodes[0],
		"OBSERVERD_REDIS_URL=redis://" + redisAddr,
		"OBSERVERD_PROMETHEUS_URL=" + c.prometheus,
		"OBSERVERD_POLL_INTERVAL=2s",
		"OBSERVERD_LOG_FORMAT=console",
	})
	if err != nil {
		return nil, err
	}
	if err := ready(pr, httpOK(c.observerd+"/readyz")); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "started observerd on %s\n", obsAddr)
	return c, nil
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
