package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// exporterBinaries are the names Debian's prometheus-redis-exporter and
// upstream builds install.
var exporterBinaries = []string{"prometheus-redis-exporter", "redis_exporter"}

// redisExporter is a running redis_exporter that checks every counter key.
type redisExporter struct {
	url     string
	version string
	client  *http.Client
}

// startExporter starts redis_exporter with -check-keys 'ratelimit:*' on a
// free loopback port. It reads Redis only when scraped.
func startExporter(ctx context.Context, p *procs.Group, r *benchRedis) (*redisExporter, error) {
	var path string
	for _, name := range exporterBinaries {
		if found, err := exec.LookPath(name); err == nil {
			path = found
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("redis_exporter not found: run scripts/install-deps.sh bench (Debian package prometheus-redis-exporter)")
	}
	port, err := procs.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := p.Start("redis-exporter", path, []string{
		"-redis.addr", "redis://" + r.addr, "-redis.password", r.password,
		"-web.listen-address", addr, "-check-keys", keyPrefix + "*",
	}, nil)
	if err != nil {
		return nil, err
	}
	e := &redisExporter{url: "http://" + addr, client: &http.Client{Timeout: 10 * time.Minute}}
	e.version = commandVersion(ctx, path, "-version")
	err = procs.WaitFor(ctx, 30*time.Second, "redis_exporter on "+addr, func() error {
		if err := c.Alive(); err != nil {
			return err
		}
		// The landing page, not /metrics: a scrape would walk the keys.
		return httpOK(ctx, e.client, e.url+"/")
	})
	return e, err
}

// scrape times one GET /metrics read to its end and counts the per-key
// series it holds.
func (e *redisExporter) scrape(ctx context.Context) (time.Duration, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	keys := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "redis_key_size{") {
			keys++
		}
	}
	took := time.Since(start)
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("redis_exporter /metrics answered %s", resp.Status)
	}
	return took, keys, nil
}

// httpOK answers nil when GET url answers 200.
func httpOK(ctx context.Context, c *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s", url, resp.Status)
	}
	return nil
}

// versionPattern finds a version number such as 1.45.0-2+b4 or 4.1.0.
var versionPattern = regexp.MustCompile(`[0-9]+\.[0-9]+[0-9A-Za-z.+~-]*`)

// commandVersion runs path with args and returns the first version number
// in what it prints.
func commandVersion(ctx context.Context, path string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if v := versionPattern.FindString(string(out)); v != "" {
		return v
	}
	return "unknown"
}
