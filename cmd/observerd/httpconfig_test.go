package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

// httpConfigFile writes an http_config file of basic auth with an inline
// password and a private CA, as an operator would.
func httpConfigFile(t *testing.T, ca *testenv.CA, password string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prometheus-http.yml")
	yml := fmt.Sprintf("basic_auth:\n  username: %s\n  password: %s\ntls_config:\n  ca_file: %s\n", observerUser, password, ca.CertFile)
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrometheusHTTPConfigFile reads a real Prometheus behind TLS and
// basic auth through an http_config file, then with a wrong password in
// it: the source is read, then refused with 401, and the passwords from
// the file appear nowhere observerd speaks.
func TestPrometheusHTTPConfigFile(t *testing.T) {
	ca := testenv.NewCA(t)
	prom := testenv.StartPrometheus(t, testenv.PrometheusConfig{Web: &testenv.PrometheusWeb{
		TLS: ca.Server(t, "prometheus"), CA: ca, Users: map[string]string{observerUser: promSecret},
	}})
	env := []string{"OBSERVERD_SOURCES=prometheus", "OBSERVERD_POLL_INTERVAL=200ms", "OBSERVERD_POLL_MAX_BACKOFF=500ms", "OBSERVERD_PROMETHEUS_URL=" + prom.URL}
	var said bytes.Buffer
	for _, tt := range []struct {
		password string
		want     string
	}{
		{password: promSecret, want: `"prometheus":{"status":"ok"`},
		{password: wrongSecret, want: "401 Unauthorized"},
	} {
		d := startDaemon(t, append(env, "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE="+httpConfigFile(t, ca, tt.password))...)
		testenv.WaitFor(t, 15*time.Second, tt.want, func() error {
			if _, body := d.get(t, "/snapshot"); !bytes.Contains(body, []byte(tt.want)) {
				return fmt.Errorf("not yet: %.600s", body)
			}
			return nil
		})
		for _, path := range []string{"/snapshot", "/metrics", "/readyz", "/"} {
			_, body := d.get(t, path)
			said.Write(body)
		}
		if err := d.stop(); err != nil {
			t.Fatal(err)
		}
		said.WriteString(d.logs.String())
	}
	for _, secret := range []string{promSecret, wrongSecret} {
		if i := strings.Index(said.String(), secret); i >= 0 {
			t.Errorf("secret %q appears in what observerd said: …%s…", secret, said.String()[max(0, i-200):min(said.Len(), i+100)])
		}
	}
}

// TestBadHTTPConfigFileStopsStart: a file that does not load, or one
// beside a shorthand variable, stops observerd naming the variable, and
// quotes none of the file's secrets.
func TestBadHTTPConfigFileStopsStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	secretRef := write("ref.yml", "basic_auth:\n  username: u\n  password_ref: vault\n")
	badCA := write("ca.yml", "tls_config:\n  ca_file: "+write("ca.crt", "not a certificate")+"\n")
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + dir + "/absent"}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: " + dir + "/absent: no such file"},
		{give: []string{"OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE=" + write("typo.yml", "basic_auth:\n  username: u\n  pasword: "+urlSecret+"\n")}, want: "OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE: "},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + write("misplaced.yml", "authorization: "+urlSecret+"\n")}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: "},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + secretRef, "OBSERVERD_PROMETHEUS_USERNAME=u", "OBSERVERD_PROMETHEUS_PASSWORD_FILE=" + secretRef}, want: "OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: not with OBSERVERD_PROMETHEUS_USERNAME"},
		{give: []string{"OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE=" + secretRef}, want: "OBSERVERD_PROMETHEUS_URL with OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE: "},
		{give: []string{"OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE=" + badCA}, want: "OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE: tls_config: unable to use specified CA cert"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := run(ctx, []string{"observerd"}, append([]string{"OBSERVERD_LISTEN_ADDR=127.0.0.1:0", "OBSERVERD_SOURCES=ratelimiter,prometheus"}, tt.give...), &out, &out)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run with %q = %v, want an error containing %q", tt.give, err, tt.want)
			continue
		}
		if strings.Contains(err.Error()+out.String(), urlSecret) {
			t.Errorf("run with %q shows the secret: %v", tt.give, err)
		}
	}
}
