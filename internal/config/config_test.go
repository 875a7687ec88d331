package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(nil)
	if err != nil {
		t.Fatalf("Load(nil): %v", err)
	}
	if cfg.ListenAddr != ":9750" || cfg.RedisURL != "redis://localhost:6379" || cfg.PrometheusURL != "http://localhost:9090" {
		t.Errorf("addresses = %q %q %q", cfg.ListenAddr, cfg.RedisURL, cfg.PrometheusURL)
	}
	if got := strings.Join(cfg.Sources, ","); got != "ratelimiter,redis,prometheus" {
		t.Errorf("Sources = %q", got)
	}
	if got := strings.Join(cfg.RatelimiterURLs, ","); got != "http://localhost:8000" {
		t.Errorf("RatelimiterURLs = %q", got)
	}
	if !cfg.RatelimiterDiscover || cfg.PollInterval != 5*time.Second || cfg.PollTimeout != 3*time.Second {
		t.Errorf("discover %v interval %s timeout %s", cfg.RatelimiterDiscover, cfg.PollInterval, cfg.PollTimeout)
	}
	if cfg.KeyPrefix != "ratelimit:" || cfg.NodePrefix != "ratelimiter:nodes:" || cfg.TopKeys != 20 {
		t.Errorf("prefixes %q %q top %d", cfg.KeyPrefix, cfg.NodePrefix, cfg.TopKeys)
	}
	if cfg.LogLevel != "info" || cfg.LogFormat != "json" || cfg.DefaultLimit != 100 || cfg.DefaultWindow != time.Minute {
		t.Errorf("log %q %q defaults %d %s", cfg.LogLevel, cfg.LogFormat, cfg.DefaultLimit, cfg.DefaultWindow)
	}
	if cfg.StaleAfterFor("redis") != 15*time.Second {
		t.Errorf("StaleAfterFor(redis) = %s", cfg.StaleAfterFor("redis"))
	}
}

func TestLoadOverrides(t *testing.T) {
	cfg, err := Load([]string{
		"OBSERVERD_SOURCES=redis",
		"OBSERVERD_REDIS_POLL_INTERVAL=250ms",
		"OBSERVERD_HIGH_LATENCY_THRESHOLD=20ms",
		"OBSERVERD_NODE_TIMEZONE=Europe/Berlin",
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Enabled("prometheus") || !cfg.Enabled("redis") {
		t.Errorf("Sources = %v", cfg.Sources)
	}
	if cfg.IntervalFor("redis") != 250*time.Millisecond || cfg.IntervalFor("prometheus") != 5*time.Second {
		t.Errorf("intervals %s %s", cfg.IntervalFor("redis"), cfg.IntervalFor("prometheus"))
	}
	if cfg.Invariants.HighLatencyThreshold != 20*time.Millisecond {
		t.Errorf("HighLatencyThreshold = %s", cfg.Invariants.HighLatencyThreshold)
	}
	if cfg.NodeTimezone.String() != "Europe/Berlin" {
		t.Errorf("NodeTimezone = %s", cfg.NodeTimezone)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "OBSERVERD_POLL_INTERVAL=soon", want: "OBSERVERD_POLL_INTERVAL"},
		{give: "OBSERVERD_POLL_INTERVAL=0s", want: "OBSERVERD_POLL_INTERVAL: must be positive"},
		{give: "OBSERVERD_TOP_KEYS=many", want: "OBSERVERD_TOP_KEYS"},
		{give: "OBSERVERD_TOP_KEYS=-1", want: "OBSERVERD_TOP_KEYS: must be between"},
		{give: "OBSERVERD_TOP_KEYS=0", want: "OBSERVERD_TOP_KEYS: must be between 1 and 1000"},
		{give: "OBSERVERD_SOURCES=redis,mysql", want: `OBSERVERD_SOURCES: unknown source "mysql"`},
		{give: "OBSERVERD_RATELIMITER_URLS=localhost:8000", want: "OBSERVERD_RATELIMITER_URLS"},
		{give: "OBSERVERD_REDIS_URL=http://localhost:6379", want: "OBSERVERD_REDIS_URL"},
		{give: "OBSERVERD_REDIS_CLUSTER_ADDRS=a,b:1", want: "OBSERVERD_REDIS_CLUSTER_ADDRS"},
		{give: "OBSERVERD_PROMETHEUS_URL=:9090", want: "OBSERVERD_PROMETHEUS_URL"},
		{give: "OBSERVERD_LOG_LEVEL=loud", want: "OBSERVERD_LOG_LEVEL"},
		{give: "OBSERVERD_LOG_FORMAT=xml", want: "OBSERVERD_LOG_FORMAT"},
		{give: "OBSERVERD_LISTEN_ADDR=9750", want: "OBSERVERD_LISTEN_ADDR"},
		{give: "OBSERVERD_RATELIMITER_DISCOVER=maybe", want: "OBSERVERD_RATELIMITER_DISCOVER"},
		{give: "OBSERVERD_NODE_TIMEZONE=Mars/Olympus", want: "OBSERVERD_NODE_TIMEZONE"},
		{give: "OBSERVERD_COUNTER_DRIFT_GRACE=-1s", want: "OBSERVERD_COUNTER_DRIFT_GRACE: must not be negative"},
		{give: "OBSERVERD_VIOLATION_SUBJECTS_LIMIT=0", want: "OBSERVERD_VIOLATION_SUBJECTS_LIMIT"},
		{give: "OBSERVERD_CORS_ORIGIN=example", want: "OBSERVERD_CORS_ORIGIN"},
		{give: "OBSERVERD_STALE_AFTER=6s", want: "OBSERVERD_STALE_AFTER: 6s is shorter than the 8s"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := Load([]string{tt.give})
			if err == nil {
				t.Fatalf("Load(%q) succeeded", tt.give)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%q) = %v, want it to contain %q", tt.give, err, tt.want)
			}
		})
	}
}

func TestErrorsHideRedisPassword(t *testing.T) {
	_, err := Load([]string{"OBSERVERD_REDIS_URL=http://user:s3cr3t@localhost:6379"})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b bytes.Buffer
	if err := PrintUsage(&b, "observerd"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	vars := Vars()
	if len(vars) < 40 {
		t.Fatalf("only %d variables documented", len(vars))
	}
	for _, v := range vars {
		if v.Help == "" {
			t.Errorf("%s has no meaning", v.Name)
		}
		if !strings.Contains(out, v.Name) {
			t.Errorf("usage lacks %s", v.Name)
		}
	}
	for _, want := range []string{"OBSERVERD_LISTEN_ADDR", ":9750", "OBSERVERD_REDIS_URL", "redis://localhost:6379"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}
