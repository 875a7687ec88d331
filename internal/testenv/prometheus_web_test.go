package testenv

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPrometheusWebConfig(t *testing.T) {
	ca := NewCA(t)
	p := StartPrometheus(t, PrometheusConfig{
		Targets: []string{"127.0.0.1:1"},
		Web: &PrometheusWeb{
			TLS:   ca.Server(t, "prometheus"),
			CA:    ca,
			Users: map[string]string{"obs": "pa55-w0rd"},
		},
	})
	if !strings.HasPrefix(p.URL, "https://") {
		t.Fatalf("URL = %s, want https", p.URL)
	}
	trusting := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	tests := []struct {
		name       string
		user, pass string
		want       int
	}{
		{name: "right password", user: "obs", pass: "pa55-w0rd", want: http.StatusOK},
		{name: "wrong password", user: "obs", pass: "nope", want: http.StatusUnauthorized},
		{name: "no credentials", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status(t, trusting, p.URL+"/-/ready", tt.user, tt.pass); got != tt.want {
				t.Errorf("GET /-/ready as %q = %d, want %d", tt.user, got, tt.want)
			}
		})
	}
	p.Stop()
	p.Start(t)
	if got := status(t, trusting, p.URL+"/-/ready", "obs", "pa55-w0rd"); got != http.StatusOK {
		t.Errorf("after restart GET /-/ready = %d, want 200", got)
	}
}

func TestWebYAML(t *testing.T) {
	got, err := WebYAML(PrometheusWeb{TLS: Cert{CertFile: "/c.pem", KeyFile: "/k.pem"}, Users: map[string]string{"b": "x", "a": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tls_server_config:\n  cert_file: \"/c.pem\"\n  key_file: \"/k.pem\"\n", "basic_auth_users:\n  \"a\": \"$2a$04$", "\n  \"b\": \"$2a$04$"} {
		if !strings.Contains(got, want) {
			t.Errorf("WebYAML = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, `"x"`) || strings.Contains(got, `"y"`) {
		t.Errorf("WebYAML = %q holds a plain-text password", got)
	}
}

// status asks url with basic auth (when user is set) and returns the status.
func status(t *testing.T, c *http.Client, url, user, pass string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
