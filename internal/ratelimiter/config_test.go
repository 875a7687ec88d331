package ratelimiter

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		RedisURL:        "redis://localhost:6379",
		NodeID:          "node-1",
		NodeHost:        "localhost",
		NodePort:        8000,
		DefaultLimit:    100,
		DefaultWindowMS: 60000,
		NodeTTL:         Seconds(30 * time.Second),
		Heartbeat:       Seconds(10 * time.Second),
	}
	if cfg.RedisURL != want.RedisURL || cfg.NodeID != want.NodeID || cfg.NodeHost != want.NodeHost ||
		cfg.NodePort != want.NodePort || cfg.DefaultLimit != want.DefaultLimit ||
		cfg.DefaultWindowMS != want.DefaultWindowMS || cfg.NodeTTL != want.NodeTTL ||
		cfg.Heartbeat != want.Heartbeat || cfg.ListenHost != "" || cfg.ChaosClockOffset != 0 ||
		cfg.ChaosCheckDelay != 0 || len(cfg.ChaosFailEndpoints) != 0 {
		t.Errorf("defaults %+v, want %+v", cfg, want)
	}
}

func TestParseConfigValues(t *testing.T) {
	cfg, err := ParseConfig([]string{
		"RATELIMITER_NODE_PORT=9001",
		"RATELIMITER_DEFAULT_LIMIT=10",
		"RATELIMITER_NODE_TTL_SECONDS=5",
		"RATELIMITER_CHAOS_CLOCK_OFFSET=-1500ms",
		"RATELIMITER_CHAOS_CHECK_DELAY=20ms",
		"RATELIMITER_CHAOS_FAIL_ENDPOINTS=/api/counters, /api/blocks",
		"RATELIMITER_LISTEN_HOST=127.0.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodePort != 9001 || cfg.DefaultLimit != 10 || cfg.NodeTTL.Duration() != 5*time.Second ||
		cfg.ChaosClockOffset != -1500*time.Millisecond || cfg.ChaosCheckDelay != 20*time.Millisecond ||
		strings.Join(cfg.ChaosFailEndpoints, "|") != "/api/counters|/api/blocks" || cfg.ListenHost != "127.0.0.1" {
		t.Errorf("parsed %+v", cfg)
	}
}

func TestParseConfigErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "RATELIMITER_NODE_PORT=70000", want: "RATELIMITER_NODE_PORT"},
		{give: "RATELIMITER_NODE_PORT=http", want: "RATELIMITER_NODE_PORT"},
		{give: "RATELIMITER_NODE_TTL_SECONDS=1.5", want: "RATELIMITER_NODE_TTL_SECONDS"},
		{give: "RATELIMITER_NODE_HEARTBEAT_SECONDS=0", want: "RATELIMITER_NODE_HEARTBEAT_SECONDS"},
		{give: "RATELIMITER_DEFAULT_LIMIT=-1", want: "RATELIMITER_DEFAULT_LIMIT"},
		{give: "RATELIMITER_DEFAULT_WINDOW_MS=0", want: "RATELIMITER_DEFAULT_WINDOW_MS"},
		{give: "RATELIMITER_CHAOS_CHECK_DELAY=soon", want: "RATELIMITER_CHAOS_CHECK_DELAY"},
		{give: "RATELIMITER_CHAOS_FAIL_ENDPOINTS=api/counters", want: "RATELIMITER_CHAOS_FAIL_ENDPOINTS"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := ParseConfig([]string{tt.give})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestRedisURLErrorHidesPassword(t *testing.T) {
	_, err := NewRedisClient(Config{RedisURL: "redis://:s3cret@host:notaport/0"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v, want one without the password", err)
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b bytes.Buffer
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{
		"RATELIMITER_REDIS_URL", "RATELIMITER_NODE_ID", "RATELIMITER_NODE_HOST", "RATELIMITER_NODE_PORT",
		"RATELIMITER_DEFAULT_LIMIT", "RATELIMITER_DEFAULT_WINDOW_MS", "RATELIMITER_NODE_TTL_SECONDS",
		"RATELIMITER_NODE_HEARTBEAT_SECONDS", "RATELIMITER_LISTEN_HOST", "RATELIMITER_CHAOS_CLOCK_OFFSET",
		"RATELIMITER_CHAOS_CHECK_DELAY", "RATELIMITER_CHAOS_FAIL_ENDPOINTS",
	} {
		if !strings.Contains(b.String(), v) {
			t.Errorf("usage lacks %s", v)
		}
	}
}
