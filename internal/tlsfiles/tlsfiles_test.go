package tlsfiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/observerd/observerd/internal/testenv"
)

func TestConfig(t *testing.T) {
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
	cfg, err := Files{CAFile: ca.CertFile, CertFile: client.CertFile, KeyFile: client.KeyFile}.Config()
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "" {
		t.Errorf("Config = roots %v, %d certificates, server name %q", cfg.RootCAs, len(cfg.Certificates), cfg.ServerName)
	}
	if none, err := (Files{}).Config(); err != nil || none.RootCAs != nil || len(none.Certificates) != 0 {
		t.Errorf("Files{}.Config() = %+v, %v; want the system's roots and no certificate", none, err)
	}
	keyPEM, _ := os.ReadFile(client.KeyFile)
	for _, tt := range []struct {
		give Files
		want string
	}{
		{Files{CAFile: filepath.Join(dir, "absent")}, "absent: no such file"},
		{Files{CAFile: garbage}, "CA file " + garbage + ": no PEM certificate in it"},
		{Files{CAFile: huge}, "larger than"},
		{Files{CertFile: client.CertFile}, "given without a key file"},
		{Files{KeyFile: client.KeyFile}, "given without a certificate file"},
		{Files{CertFile: client.CertFile, KeyFile: garbage}, "certificate file " + client.CertFile + " with key file " + garbage},
	} {
		_, err := tt.give.Config()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.give, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(string(keyPEM))[40:80]) {
			t.Errorf("%+v: the error quotes the key: %v", tt.give, err)
		}
	}
}
