package ratelimiter_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"

	client "github.com/observerd/observerd/internal/clients/ratelimiter"
	"github.com/observerd/observerd/internal/ratelimiter"
	"github.com/observerd/observerd/internal/ratelimiter/ratelimitertest"
	"github.com/observerd/observerd/internal/testenv"
)

// startTLSReferenceNode serves the reference node's API over TLS with a
// certificate of ca, against a real redis-server, and returns its base URL.
// With clientCerts the node requires a client certificate of ca.
func startTLSReferenceNode(t *testing.T, ca *testenv.CA, clientCerts bool) string {
	t.Helper()
	cfg := referenceConfig(t, func(c *ratelimiter.Config) { c.NodeID = "node-tls" })
	_, base := ratelimitertest.StartTLS(t, cfg, nil, ca, clientCerts)
	return base
}

func TestReferenceNodeTLS(t *testing.T) {
	ca := testenv.NewCA(t)
	base := startTLSReferenceNode(t, ca, false)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base URL %s is not https", base)
	}

	trusting := newRefClient(t, base, client.Options{HTTP: config.HTTPClientConfig{TLSConfig: config.TLSConfig{CAFile: ca.CertFile}}})
	h, err := trusting.Health(t.Context())
	if err != nil || !h.Healthy() || h.NodeID != "node-tls" {
		t.Fatalf("Health() with the CA = %+v, %v; want healthy node-tls", h, err)
	}
	if _, err := trusting.Check(t.Context(), client.CheckRequest{Key: "tls:1"}); err != nil {
		t.Fatalf("Check() with the CA: %v", err)
	}
	if counters, err := trusting.Counters(t.Context()); err != nil || len(counters) != 1 {
		t.Errorf("Counters() with the CA = %+v, %v; want tls:1", counters, err)
	}

	untrusting := newRefClient(t, base, client.Options{})
	_, err = untrusting.Health(t.Context())
	var unknown x509.UnknownAuthorityError
	var he *client.HTTPError
	if !errors.As(err, &unknown) || errors.As(err, &he) {
		t.Fatalf("Health() without the CA: %v, want an x509.UnknownAuthorityError", err)
	}
	if want := "GET " + base + client.PathHealth + ": tls: failed to verify certificate"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
}

func TestReferenceNodeMutualTLS(t *testing.T) {
	ca := testenv.NewCA(t)
	base := startTLSReferenceNode(t, ca, true)

	cert := ca.Client(t, "observerd")
	withCert := newRefClient(t, base, client.Options{HTTP: config.HTTPClientConfig{
		TLSConfig: config.TLSConfig{CAFile: ca.CertFile, CertFile: cert.CertFile, KeyFile: cert.KeyFile},
	}})
	if h, err := withCert.Health(t.Context()); err != nil || !h.Healthy() {
		t.Fatalf("Health() with a client certificate = %+v, %v; want healthy", h, err)
	}
	withoutCert := newRefClient(t, base, client.Options{HTTP: config.HTTPClientConfig{TLSConfig: config.TLSConfig{CAFile: ca.CertFile}}})
	if _, err := withoutCert.Health(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("Health() without a client certificate: %v, want the node's certificate required alert", err)
	}
}

func newRefClient(t *testing.T, base string, opts client.Options) *client.Client {
	t.Helper()
	opts.Timeout = 5 * time.Second
	c, err := client.New(base, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", base, err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}
