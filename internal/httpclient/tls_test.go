package httpclient

import (
	"net/http"

	"github.com/prometheus/common/config"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/observerd/observerd/internal/testenv"
)

func TestTLSConfig(t *testing.T) {
	ca := testenv.NewCA(t)
	client := ca.Client(t, "observerd")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.pem")
	if err := os.WriteFile(huge, make([]byte, maxPEMBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSConfig(config.TLSConfig{CAFile: ca.CertFile, CertFile: client.CertFile, KeyFile: client.KeyFile})
	if err != nil {
		t.Fatalf("TLSConfig: %v", err)
	}
	if cfg.RootCAs == nil || cfg.GetClientCertificate == nil || cfg.ServerName != "" {
		t.Errorf("TLSConfig = roots %v, client certificate %t, server name %q", cfg.RootCAs, cfg.GetClientCertificate != nil, cfg.ServerName)
	}
	if none, err := TLSConfig(config.TLSConfig{}); err != nil || none.RootCAs != nil || none.GetClientCertificate != nil {
		t.Errorf("TLSConfig(config.TLSConfig{}) = %+v, %v; want the system's roots and no certificate", none, err)
	}
	keyPEM, _ := os.ReadFile(client.KeyFile)
	for _, tt := range []struct {
		give config.TLSConfig
		want string
	}{
		{config.TLSConfig{CAFile: filepath.Join(dir, "absent")}, "absent: no such file"},
		{config.TLSConfig{CAFile: garbage}, "CA cert file " + garbage},
		{config.TLSConfig{CAFile: huge}, "larger than"},
		{config.TLSConfig{CAFile: "/dev/zero"}, "not a regular file"},
		{config.TLSConfig{CertFile: client.CertFile}, "key or key_file must be configured"},
		{config.TLSConfig{KeyFile: client.KeyFile}, "cert or cert_file must be configured"},
		{config.TLSConfig{CertFile: client.CertFile, KeyFile: garbage}, "client cert (file " + client.CertFile + ") & key (file " + garbage + ")"},
	} {
		_, err := TLSConfig(tt.give)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.give, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(string(keyPEM))[40:80]) {
			t.Errorf("%+v: the error quotes the key: %v", tt.give, err)
		}
	}
}

// TestClientCertificateRenewedInPlace rewrites the certificate files
// between two connections, as a renewed Secret does: the second connection
// shows the new certificate, and files caught broken keep the last one.
func TestClientCertificateRenewedInPlace(t *testing.T) {
	ca := testenv.NewCA(t)
	seen := make(chan string, 4)
	srv := ca.ServeTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.TLS.PeerCertificates[0].Subject.CommonName
	}), true)

	dir := t.TempDir()
	files := config.TLSConfig{CAFile: ca.CertFile, CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	install := func(c testenv.Cert) {
		for src, dst := range map[string]string{c.CertFile: files.CertFile, c.KeyFile: files.KeyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(ca.Client(t, "alice"))
	cfg, err := TLSConfig(files)
	if err != nil {
		t.Fatal(err)
	}
	connect := func() string {
		t.Helper()
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg.Clone(), DisableKeepAlives: true}}
		defer client.CloseIdleConnections()
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		resp.Body.Close()
		return <-seen
	}
	if got := connect(); got != "alice" {
		t.Errorf("first connection as %q, want alice", got)
	}
	install(ca.Client(t, "bob"))
	if got := connect(); got != "bob" {
		t.Errorf("after renewal as %q, want bob", got)
	}
	if err := os.WriteFile(files.KeyFile, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := connect(); got != "bob" {
		t.Errorf("with a broken key file as %q, want the last good bob", got)
	}
}
