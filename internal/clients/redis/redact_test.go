package redis

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
)

func TestNewRejectsBadURLWithoutPassword(t *testing.T) {
	const password = "hunter2secret"
	tests := []struct {
		name string
		give string
	}{
		{name: "scheme", give: "http://:" + password + "@localhost:6379"},
		{name: "escape in password", give: "redis://:" + password + "%zz@localhost:6379"},
		{name: "db", give: "redis://:" + password + "@localhost:6379/notadb"},
		{name: "query value", give: "redis://:" + password + "@localhost:6379/?dial_timeout=" + password},
		{name: "no scheme", give: "localhost:6379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{URL: tt.give})
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, ErrInvalidURL) {
				t.Errorf("error = %v, want ErrInvalidURL", err)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestNewNeedsAnAddress(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoAddress) {
		t.Fatalf("New(Options{}) error = %v, want ErrNoAddress", err)
	}
}

func TestTLSConfig(t *testing.T) {
	tests := []struct {
		name           string
		give           Options
		wantTLS        bool
		wantServerName string
	}{
		{name: "plain", give: Options{URL: "redis://h1:6379"}},
		{name: "rediss", give: Options{URL: "rediss://h1:6379"}, wantTLS: true, wantServerName: "h1"},
		{name: "forced", give: Options{URL: "redis://h1:6379", TLS: true}, wantTLS: true},
		{name: "own config", give: Options{URL: "redis://h1:6379", TLSConfig: &tls.Config{ServerName: "redis.internal"}}, wantTLS: true, wantServerName: "redis.internal"},
		{name: "cluster verifies each node by its name", give: Options{URL: "rediss://:pw@h1:6379", ClusterAddrs: []string{"h2:7000"}}, wantTLS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.give)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			var cfg *tls.Config
			if c.cluster != nil {
				cfg = c.cluster.Options().TLSConfig
			} else {
				cfg = c.single.Options().TLSConfig
			}
			if (cfg != nil) != tt.wantTLS {
				t.Fatalf("TLS config = %v, want TLS %v", cfg, tt.wantTLS)
			}
			if cfg != nil && cfg.ServerName != tt.wantServerName {
				t.Errorf("ServerName = %q, want %q", cfg.ServerName, tt.wantServerName)
			}
		})
	}
}
