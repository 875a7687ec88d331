package testenv

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Prometheus is a prometheus child process on a loopback port.
type Prometheus struct {
	// Addr is host:port; URL is http://Addr, or https://Addr when the web
	// configuration serves TLS.
	Addr   string
	URL    string
	dbPath string
	proc   *process
	// client and the credentials of one user of the web configuration are
	// how the readiness check reaches Prometheus.
	client         *http.Client
	user, password string
}

// PrometheusConfig says what the test Prometheus scrapes.
type PrometheusConfig struct {
	// Job is the scrape job name; "ratelimiter" when empty.
	Job string
	// Targets are host:port addresses scraped at /metrics.
	Targets []string
	// ScrapeInterval defaults to 1s.
	ScrapeInterval time.Duration
	// Web, when set, is served as Prometheus's --web.config.file: TLS,
	// basic auth or both.
	Web *PrometheusWeb
}

// PrometheusWeb is the web configuration of a test Prometheus.
type PrometheusWeb struct {
	// TLS is the server certificate (CA.Server); empty means plain HTTP.
	TLS Cert
	// CA issued TLS; the readiness probe trusts it.
	CA *CA
	// Users maps basic auth user names to plain-text passwords; the web
	// configuration holds their bcrypt hashes. Empty means no auth.
	Users map[string]string
}

// StartPrometheus starts a prometheus on a free loopback port with a
// generated configuration and an empty database in a temporary directory,
// and stops it when the test ends.
func StartPrometheus(t testing.TB, cfg PrometheusConfig) *Prometheus {
	t.Helper()
	path := LookBinary(t, "prometheus", "prometheus")
	cfg.Job = cmp.Or(cfg.Job, "ratelimiter")
	cfg.ScrapeInterval = cmp.Or(cfg.ScrapeInterval, time.Second)
	dir := t.TempDir()
	conf := writeFile(t, filepath.Join(dir, "prometheus.yml"), prometheusYAML(cfg))
	args := []string{"--config.file=" + conf, "--storage.tsdb.retention.time=1h", "--log.level=warn"}
	tr := &http.Transport{DisableKeepAlives: true}
	p := &Prometheus{client: &http.Client{Transport: tr}}
	scheme := "http://"
	if web := cfg.Web; web != nil {
		text, err := WebYAML(*web)
		if err != nil {
			t.Fatalf("prometheus web config: %v", err)
		}
		args = append(args, "--web.config.file="+writeFile(t, filepath.Join(dir, "web.yml"), text))
		if web.TLS.CertFile != "" {
			scheme, tr.TLSClientConfig = "https://", &tls.Config{}
			if web.CA != nil {
				tr.TLSClientConfig.RootCAs = web.CA.Pool()
			}
		}
		if users := slices.Sorted(maps.Keys(web.Users)); len(users) > 0 {
			p.user, p.password = users[0], web.Users[users[0]]
		}
	}
	startOnFreePort(t, func(port int) *process {
		p.Addr = "127.0.0.1:" + itoa(port)
		p.URL = scheme + p.Addr
		p.dbPath = filepath.Join(dir, "data-"+itoa(port))
		p.proc = &process{name: "prometheus", path: path, dir: dir, ready: p.ready, args: append([]string{
			"--storage.tsdb.path=" + p.dbPath, "--web.listen-address=" + p.Addr,
		}, args...)}
		return p.proc
	})
	return p
}

// prometheusYAML renders a scrape configuration for cfg. The targets are
// a JSON array, which YAML reads too.
func prometheusYAML(cfg PrometheusConfig) string {
	targets, _ := json.Marshal(cfg.Targets)
	return fmt.Sprintf("global:\n  scrape_interval: %[1]s\n  evaluation_interval: %[1]s\n"+
		"scrape_configs:\n  - job_name: %[2]q\n    scrape_timeout: %[1]s\n    static_configs:\n      - targets: %[3]s\n",
		cfg.ScrapeInterval, cfg.Job, targets)
}

// WebYAML renders a web configuration for web, with the users' passwords
// hashed by bcrypt.
func WebYAML(web PrometheusWeb) (string, error) {
	var b strings.Builder
	if web.TLS.CertFile != "" {
		fmt.Fprintf(&b, "tls_server_config:\n  cert_file: %q\n  key_file: %q\n", web.TLS.CertFile, web.TLS.KeyFile)
	}
	if len(web.Users) > 0 {
		b.WriteString("basic_auth_users:\n")
	}
	for _, user := range slices.Sorted(maps.Keys(web.Users)) {
		// The lowest cost: the hash guards nothing, and Prometheus checks
		// it on every request of the test.
		hash, err := bcrypt.GenerateFromPassword([]byte(web.Users[user]), bcrypt.MinCost)
		if err != nil {
			return "", fmt.Errorf("hash the password of %s: %w", user, err)
		}
		fmt.Fprintf(&b, "  %q: %q\n", user, hash)
	}
	return b.String(), nil
}

// Start starts Prometheus again on the same port after Stop (keeping its
// database) and waits until it is ready.
func (p *Prometheus) Start(t testing.TB) {
	t.Helper()
	p.proc.restart(t, "prometheus on "+p.Addr)
}

// ready answers nil once this very Prometheus is ready on Addr: it must
// report its own database path.
func (p *Prometheus) ready() error {
	var flags struct {
		Data map[string]string `json:"data"`
	}
	if err := p.getJSON("/api/v1/status/flags", &flags); err != nil {
		return err
	}
	if got := flags.Data["storage.tsdb.path"]; got != p.dbPath {
		return fmt.Errorf("%s answered by another prometheus (database %s)", p.Addr, got)
	}
	return p.getJSON("/-/ready", nil)
}

// getJSON asks path with the probe and decodes a 200 answer into v (when
// not nil).
func (p *Prometheus) getJSON(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, nil)
	if err != nil {
		return err
	}
	if p.user != "" {
		req.SetBasicAuth(p.user, p.password)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s", path, resp.Status)
	}
	if v == nil {
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Stop stops Prometheus and waits for it to exit.
func (p *Prometheus) Stop() { p.proc.stop() }
