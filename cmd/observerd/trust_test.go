package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/testenv"
)

// Test secrets: none may appear in anything observerd says.
const (
	redisSecret  = "r3dis-acl-S3CRET"
	promSecret   = "pr0m-basic-S3CRET"
	tokenSecret  = "b3arer-t0ken-S3CRET"
	webSecret    = "w3b-user-S3CRET"
	urlSecret    = "url-pa55-S3CRET"
	wrongSecret  = "wr0ng-S3CRET"
	observerUser = "observerd"
)

// securedCluster is a Redis that speaks TLS only, with a client
// certificate and an ACL user of the least rights observerd needs, and a
// Prometheus behind TLS and basic auth.
type securedCluster struct {
	ca    *testenv.CA
	redis *testenv.Redis
	prom  *testenv.Prometheus
	dir   string
}

func startSecuredCluster(t *testing.T) *securedCluster {
	t.Helper()
	ca := testenv.NewCA(t)
	r := testenv.StartRedisWith(t, testenv.RedisOptions{CA: ca, ClientCerts: "yes"})
	r.SetUser(t, observerUser, append(strings.Fields(redisclient.MinimalACL), ">"+redisSecret)...)
	r.Do(t, "HSET", "ratelimiter:nodes:node-1", "address", "127.0.0.1:1", "registered_at", time.Now().UTC().Format(time.RFC3339))
	prom := testenv.StartPrometheus(t, testenv.PrometheusConfig{Web: &testenv.PrometheusWeb{
		TLS: ca.Server(t, "prometheus"), CA: ca, Users: map[string]string{observerUser: promSecret},
	}})
	return &securedCluster{ca: ca, redis: r, prom: prom, dir: t.TempDir()}
}

func (c *securedCluster) file(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// env is observerd's environment for the cluster, with redisPass and
// promPass as the passwords it is given.
func (c *securedCluster) env(t *testing.T, redisPass, promPass string) []string {
	t.Helper()
	client := c.ca.Client(t, "observerd")
	web, err := testenv.WebYAML(testenv.PrometheusWeb{TLS: c.ca.Server(t, "observerd-web"), Users: map[string]string{"sre": webSecret}})
	if err != nil {
		t.Fatal(err)
	}
	return []string{
		"OBSERVERD_SOURCES=redis,prometheus", "OBSERVERD_POLL_INTERVAL=200ms", "OBSERVERD_POLL_MAX_BACKOFF=500ms",
		"OBSERVERD_WEB_CONFIG_FILE=" + c.file(t, "web.yml", web),
		"OBSERVERD_REDIS_URL=" + c.redis.URL,
		"OBSERVERD_REDIS_USERNAME=" + observerUser,
		"OBSERVERD_REDIS_PASSWORD_FILE=" + c.file(t, "redis-password", redisPass+"\n"),
		"OBSERVERD_REDIS_TLS_CA_FILE=" + c.ca.CertFile,
		"OBSERVERD_REDIS_TLS_CERT_FILE=" + client.CertFile, "OBSERVERD_REDIS_TLS_KEY_FILE=" + client.KeyFile,
		"OBSERVERD_PROMETHEUS_URL=" + c.prom.URL,
		"OBSERVERD_PROMETHEUS_USERNAME=" + observerUser,
		"OBSERVERD_PROMETHEUS_PASSWORD_FILE=" + c.file(t, "prom-password", promPass+"\n"),
		"OBSERVERD_PROMETHEUS_TLS_CA_FILE=" + c.ca.CertFile,
	}
}

// webClient asks a daemon served over TLS, as user with password.
type webClient struct {
	base           string
	user, password string
	http           *http.Client
}

func (c *securedCluster) webClient(t *testing.T, d *daemon, user, password string) *webClient {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.ca.Pool()}}}
	t.Cleanup(hc.CloseIdleConnections)
	return &webClient{base: strings.Replace(d.URL, "http://", "https://", 1), user: user, password: password, http: hc}
}

func (w *webClient) get(path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, w.base+path, nil)
	if err != nil {
		return 0, "", err
	}
	if w.user != "" {
		req.SetBasicAuth(w.user, w.password)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestSecuredCluster runs observerd against a Redis over TLS with an ACL
// user and a Prometheus over TLS with basic auth, serving its own
// endpoints over TLS with basic auth from a web configuration file: every
// source is read, every endpoint answers with the password and refuses
// without it.
func TestSecuredCluster(t *testing.T) {
	c := startSecuredCluster(t)
	d := startDaemon(t, c.env(t, redisSecret, promSecret)...)
	sre := c.webClient(t, d, "sre", webSecret)
	testenv.WaitFor(t, 15*time.Second, "both sources ok over TLS", func() error {
		code, body, err := sre.get("/snapshot")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("/snapshot: %d %v %.200s", code, err, body)
		}
		for _, src := range []string{"redis", "prometheus"} {
			if !strings.Contains(body, `"`+src+`":{"status":"ok"`) {
				return fmt.Errorf("%s not ok: %.600s", src, body)
			}
		}
		if !strings.Contains(body, `"id":"node-1"`) {
			return fmt.Errorf("registry not read: %.600s", body)
		}
		return nil
	})
	for _, path := range []string{"/snapshot", "/metrics", "/healthz", "/readyz", "/"} {
		if code, body, err := sre.get(path); err != nil || code != http.StatusOK {
			t.Errorf("%s with the password: %d %v %.200s", path, code, err, body)
		}
		for _, who := range []*webClient{c.webClient(t, d, "sre", wrongSecret), c.webClient(t, d, "", "")} {
			if code, _, err := who.get(path); err != nil || code != http.StatusUnauthorized {
				t.Errorf("%s as %q with password %q: %d %v, want 401", path, who.user, who.password, code, err)
			}
		}
	}
	// Plain HTTP gets Go's 400 "client sent an HTTP request to an HTTPS
	// server", never data.
	plain := &webClient{base: d.URL, user: "sre", password: webSecret, http: &http.Client{Timeout: 5 * time.Second}}
	if code, body, err := plain.get("/snapshot"); err == nil && (code != http.StatusBadRequest || strings.Contains(body, "sequence")) {
		t.Errorf("plain HTTP with a web configuration of TLS: %d %.200s", code, body)
	}
}

// TestSecretsNeverLeakAnywhere gives observerd every kind of secret, right
// and wrong, and a bad URL holding a password, and looks for each secret
// in its logs, errors, -h, and every endpoint.
func TestSecretsNeverLeakAnywhere(t *testing.T) {
	c := startSecuredCluster(t)
	var said bytes.Buffer
	// Wrong passwords: each source fails, and says why.
	d := startDaemon(t, c.env(t, wrongSecret, wrongSecret+"-prom")...)
	sre := c.webClient(t, d, "sre", webSecret)
	var snap string
	testenv.WaitFor(t, 15*time.Second, "both sources failing with their cause", func() error {
		_, body, err := sre.get("/snapshot")
		if err != nil {
			return err
		}
		snap = body
		if !strings.Contains(body, "WRONGPASS") || !strings.Contains(body, "401") {
			return fmt.Errorf("causes not told yet: %.800s", body)
		}
		return nil
	})
	for _, path := range []string{"/snapshot", "/metrics", "/readyz", "/healthz", "/"} {
		_, body, err := sre.get(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		said.WriteString(body)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	said.WriteString(d.logs.String())

	// A bearer token Prometheus refuses (it knows only basic auth).
	env := c.env(t, redisSecret, promSecret)
	for i, kv := range env {
		if strings.HasPrefix(kv, "OBSERVERD_PROMETHEUS_USERNAME=") || strings.HasPrefix(kv, "OBSERVERD_PROMETHEUS_PASSWORD_FILE=") {
			env[i] = "OBSERVERD_LOG_LEVEL=debug"
		}
	}
	d = startDaemon(t, append(env, "OBSERVERD_PROMETHEUS_BEARER_TOKEN_FILE="+c.file(t, "token", tokenSecret))...)
	sre = c.webClient(t, d, "sre", webSecret)
	testenv.WaitFor(t, 15*time.Second, "prometheus refusing the token, redis ok", func() error {
		_, body, err := sre.get("/snapshot")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `"redis":{"status":"ok"`) || !strings.Contains(body, "401") {
			return fmt.Errorf("not yet: %.800s", body)
		}
		return nil
	})
	for _, path := range []string{"/snapshot", "/metrics", "/readyz", "/"} {
		_, body, _ := sre.get(path)
		said.WriteString(body)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	said.WriteString(d.logs.String())

	// Bad configuration: URLs with a password that do not parse, and -h.
	for _, v := range []string{"OBSERVERD_RATELIMITER_URLS", "OBSERVERD_PROMETHEUS_URL", "OBSERVERD_REDIS_URL", "OBSERVERD_REDIS_WALK_URL"} {
		err := run(context.Background(), []string{"observerd"}, []string{v + "=http://u:" + urlSecret + "%zz@h:1"}, &said, &said)
		if err == nil {
			t.Errorf("%s with a bad URL was accepted", v)
			continue
		}
		said.WriteString(err.Error())
	}
	if err := run(context.Background(), []string{"observerd", "-h"}, env, &said, &said); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{redisSecret, promSecret, tokenSecret, webSecret, urlSecret, wrongSecret} {
		if i := strings.Index(said.String(), secret); i >= 0 {
			t.Errorf("secret %q appears in what observerd said: …%s…", secret, said.String()[max(0, i-200):min(said.Len(), i+100)])
		}
	}
	if !strings.Contains(snap, `"sources"`) {
		t.Errorf("no snapshot read: %.300s", snap)
	}
}
