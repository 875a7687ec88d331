package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Prometheus is a prometheus child process on a loopback port.
type Prometheus struct {
	// Addr is host:port; URL is http://Addr.
	Addr   string
	URL    string
	dbPath string
	proc   *process
}

// PrometheusConfig says what the test Prometheus scrapes.
type PrometheusConfig struct {
	// Job is the scrape job name; "ratelimiter" when empty.
	Job string
	// Targets are host:port addresses scraped at /metrics.
	Targets []string
	// ScrapeInterval defaults to 1s.
	ScrapeInterval time.Duration
}

// StartPrometheus starts a prometheus on a free loopback port with a
// generated configuration and an empty database in a temporary directory,
// and stops it when the test ends. A port taken between choosing and
// binding it is given up for another.
func StartPrometheus(t testing.TB, cfg PrometheusConfig) *Prometheus {
	t.Helper()
	path := LookBinary(t, "prometheus", "prometheus")
	if cfg.Job == "" {
		cfg.Job = "ratelimiter"
	}
	if cfg.ScrapeInterval == 0 {
		cfg.ScrapeInterval = time.Second
	}
	dir := t.TempDir()
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(PrometheusYAML(cfg)), 0o644); err != nil {
		t.Fatalf("write prometheus config: %v", err)
	}
	var err error
	for range startAttempts {
		port := FreePort(t)
		p := &Prometheus{
			Addr:   fmt.Sprintf("127.0.0.1:%d", port),
			dbPath: filepath.Join(dir, "data-"+itoa(port)),
		}
		p.proc = &process{
			name: "prometheus",
			path: path,
			dir:  dir,
			args: []string{
				"--config.file=" + confPath,
				"--storage.tsdb.path=" + p.dbPath,
				"--web.listen-address=127.0.0.1:" + itoa(port),
				"--storage.tsdb.retention.time=1h",
				"--log.level=warn",
			},
		}
		p.URL = "http://" + p.Addr
		t.Cleanup(p.proc.stop)
		p.proc.start(t)
		if err = Poll(startTimeout, p.ready); err == nil {
			return p
		}
		p.proc.stop()
	}
	t.Fatalf("start prometheus: %v", err)
	return nil
}

// PrometheusYAML renders a scrape configuration for cfg.
func PrometheusYAML(cfg PrometheusConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", cfg.ScrapeInterval, cfg.ScrapeInterval)
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %q\n    scrape_timeout: %s\n    static_configs:\n      - targets: [", cfg.Job, cfg.ScrapeInterval)
	for i, tg := range cfg.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", tg)
	}
	b.WriteString("]\n")
	return b.String()
}

// Start starts Prometheus again on the same port after Stop (keeping its
// database) and waits until it is ready.
func (p *Prometheus) Start(t testing.TB) {
	t.Helper()
	p.proc.start(t)
	WaitFor(t, startTimeout, "prometheus on "+p.Addr, p.ready)
}

// ready answers nil once this very Prometheus is ready on Addr: it must
// report its own database path, or the test would talk to another one.
func (p *Prometheus) ready() error {
	if p.proc.exited() {
		return fmt.Errorf("%w: %s", errExited, p.proc.logTail())
	}
	var flags struct {
		Data map[string]string `json:"data"`
	}
	if err := p.getJSON("/api/v1/status/flags", &flags); err != nil {
		return err
	}
	if got := flags.Data["storage.tsdb.path"]; got != p.dbPath {
		return fmt.Errorf("%s answered by another prometheus (database %s)", p.Addr, got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/-/ready answered %s", resp.Status)
	}
	return nil
}

func (p *Prometheus) getJSON(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s", path, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Stop stops Prometheus and waits for it to exit.
func (p *Prometheus) Stop() { p.proc.stop() }
