package config

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/observerd/observerd/internal/source"
)

// TestValidateBounds applies each rule to Default() with one value changed,
// on both sides of its edge, without the parser between: want is the
// problem reported, or empty when the value is accepted.
func TestValidateBounds(t *testing.T) {
	tests := []struct {
		give string
		set  func(*Config)
		want string
	}{
		{give: "list limit 0", set: func(c *Config) { c.ListLimit = 0 }, want: "OBSERVERD_LIST_LIMIT: must be between 1 and 100000, got 0"},
		{give: "list limit 1", set: func(c *Config) { c.ListLimit = 1 }},
		{give: "list limit 100000", set: func(c *Config) { c.ListLimit = 100000 }},
		{give: "list limit 100001", set: func(c *Config) { c.ListLimit = 100001 }, want: "OBSERVERD_LIST_LIMIT: must be between 1 and 100000, got 100001"},
		{give: "max response 1023", set: func(c *Config) { c.MaxResponseBytes = 1023 }, want: "OBSERVERD_MAX_RESPONSE_BYTES: must be at least 1024, got 1023"},
		{give: "max response 1024", set: func(c *Config) { c.MaxResponseBytes = 1024 }},
		{give: "default limit -1", set: func(c *Config) { c.DefaultLimit = -1 }, want: "OBSERVERD_DEFAULT_LIMIT: must not be negative, got -1"},
		{give: "default limit 0", set: func(c *Config) { c.DefaultLimit = 0 }},
		{give: "history -1s", set: func(c *Config) { c.History = -time.Second }, want: "OBSERVERD_HISTORY: must not be negative (0 turns history off), got -1s"},
		{give: "history 0, off", set: func(c *Config) { c.History = 0 }},
		{give: "history 24h", set: func(c *Config) { c.History = 24 * time.Hour }},
		{give: "empty key prefix", set: func(c *Config) { c.KeyPrefix = "" }, want: "OBSERVERD_KEY_PREFIX: must not be empty"},
		{give: "empty node prefix", set: func(c *Config) { c.NodePrefix = "" }, want: "OBSERVERD_NODE_PREFIX: must not be empty"},
		{give: "latency threshold 0", set: func(c *Config) { c.Invariants = c.Invariants.WithThreshold("high_latency", time.Duration(0)) }, want: "OBSERVERD_HIGH_LATENCY_THRESHOLD: must be positive, got 0s"},
		{give: "latency threshold -1s", set: func(c *Config) {
			c.Invariants = c.Invariants.WithThreshold("high_latency", time.Duration(-time.Second))
		}, want: "OBSERVERD_HIGH_LATENCY_THRESHOLD: must be positive, got -1s"},
		{give: "drift threshold -1", set: func(c *Config) { c.Invariants = c.Invariants.WithThreshold("counter_drift", int64(-1)) }, want: "OBSERVERD_COUNTER_DRIFT_THRESHOLD: must not be negative, got -1"},
		{give: "drift threshold 0", set: func(c *Config) { c.Invariants = c.Invariants.WithThreshold("counter_drift", int64(0)) }},
		{give: "leak threshold -1", set: func(c *Config) { c.Invariants = c.Invariants.WithThreshold("sequence_key_leak", int64(-1)) }, want: "OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD: must not be negative, got -1"},
		{give: "leak threshold 0", set: func(c *Config) { c.Invariants = c.Invariants.WithThreshold("sequence_key_leak", int64(0)) }},
		{give: "walk coordination on", set: func(c *Config) { c.RedisWalkCoordination = "on" }, want: `OBSERVERD_REDIS_WALK_COORDINATION: "on": want lease or off`},
		{give: "walk coordination off", set: func(c *Config) { c.RedisWalkCoordination = WalkAlone }},
		{give: "walk pace -1", set: func(c *Config) { c.RedisWalkMaxKeysPerSecond = -1 }, want: "OBSERVERD_REDIS_WALK_MAX_KEYS_PER_SECOND: must be a number of keys per second, 0 or more, got -1"},
		{give: "walk pace 0.5", set: func(c *Config) { c.RedisWalkMaxKeysPerSecond = 0.5 }},
		{give: "walk budget 0", set: func(c *Config) { c.RedisWalkBudget = 0 }, want: "OBSERVERD_REDIS_WALK_BUDGET: must be a share of Redis's time above 0 and at most 1 (1: unpaced), got 0"},
		{give: "walk budget 1.5", set: func(c *Config) { c.RedisWalkBudget = 1.5 }, want: "OBSERVERD_REDIS_WALK_BUDGET: must be a share of Redis's time above 0 and at most 1 (1: unpaced), got 1.5"},
		{give: "walk budget NaN", set: func(c *Config) { c.RedisWalkBudget = math.NaN() }, want: "OBSERVERD_REDIS_WALK_BUDGET: must be a share of Redis's time above 0 and at most 1 (1: unpaced), got NaN"},
		{give: "walk budget 1", set: func(c *Config) { c.RedisWalkBudget = 1 }},
		{give: "walk budget 0.05", set: func(c *Config) { c.RedisWalkBudget = 0.05 }},
		{give: "walk URL not redis", set: func(c *Config) { c.RedisWalkURL = "http://replica:6379" }, want: `OBSERVERD_REDIS_WALK_URL: "http://replica:6379" is not a redis:// or rediss:// URL with a host`},
		{give: "walk URL of a cluster", set: func(c *Config) { c.RedisWalkURL, c.RedisClusterAddrs = "redis://replica:6379", []string{"a:7000"} }, want: "OBSERVERD_REDIS_WALK_URL: not with OBSERVERD_REDIS_CLUSTER_ADDRS: a cluster is walked master by master"},
		{give: "walk URL", set: func(c *Config) { c.RedisWalkURL = "redis://replica:6379" }},
		{give: "no source", set: func(c *Config) { c.Sources = nil }, want: "OBSERVERD_SOURCES: empty: name at least one of ratelimiter,redis,prometheus"},
		{give: "source twice", set: func(c *Config) { c.Sources = []string{source.Redis, source.Redis} }, want: `OBSERVERD_SOURCES: source "redis" named twice`},
		{
			give: "no node URL, no discovery",
			set:  func(c *Config) { c.RatelimiterURLs, c.RatelimiterDiscover = nil, false },
			want: "OBSERVERD_RATELIMITER_URLS: empty, and no discovery through Redis: no node to poll",
		},
		{
			give: "no node URL, discovery without redis",
			set:  func(c *Config) { c.RatelimiterURLs, c.Sources = nil, []string{source.Ratelimiter} },
			want: "OBSERVERD_RATELIMITER_URLS: empty, and no discovery through Redis: no node to poll",
		},
		{give: "no node URL, discovery through redis", set: func(c *Config) { c.RatelimiterURLs = nil }},
		{give: "top keys 1000", set: func(c *Config) { c.TopKeys = 1000 }},
		{give: "top keys 1001", set: func(c *Config) { c.TopKeys = 1001 }, want: "OBSERVERD_TOP_KEYS: must be between 1 and 1000, got 1001"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			cfg := Default()
			tt.set(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate() = nil, want %q", tt.want)
			case tt.want != "" && err.Error() != "config: "+tt.want:
				t.Errorf("Validate() = %q, want exactly %q", err, "config: "+tt.want)
			}
		})
	}
}

// TestValidateReportsEveryProblem breaks several values at once: every one
// is reported, each once, in the same order on every call.
func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Default()
	cfg.Sources = nil
	cfg.KeyPrefix, cfg.NodePrefix = "", ""
	cfg.ListLimit, cfg.TopKeys = 0, 0
	cfg.Invariants = cfg.Invariants.WithThreshold("counter_drift", int64(-1))
	want := strings.Join([]string{
		"config: OBSERVERD_SOURCES: empty: name at least one of ratelimiter,redis,prometheus",
		"OBSERVERD_COUNTER_DRIFT_THRESHOLD: must not be negative, got -1",
		"OBSERVERD_KEY_PREFIX: must not be empty",
		"OBSERVERD_NODE_PREFIX: must not be empty",
		"OBSERVERD_TOP_KEYS: must be between 1 and 1000, got 0",
		"OBSERVERD_LIST_LIMIT: must be between 1 and 100000, got 0",
	}, "\n")
	for i := range 20 {
		err := cfg.Validate()
		if err == nil {
			t.Fatal("Validate() = nil")
		}
		if diff := cmp.Diff(want, err.Error()); diff != "" {
			t.Fatalf("call %d (-want +got):\n%s", i+1, diff)
		}
	}
}

func TestInstanceAndLeaseTTL(t *testing.T) {
	c := Default()
	host, _ := os.Hostname()
	if got := c.Instance(); !strings.HasPrefix(got, host+"-") || !strings.HasSuffix(got, "-"+strconv.Itoa(os.Getpid())) {
		t.Errorf("Instance() = %q, want %s-%d", got, host, os.Getpid())
	}
	c.InstanceID = "ratelimiter-0"
	if got := c.Instance(); got != "ratelimiter-0" {
		t.Errorf("Instance() = %q, want OBSERVERD_INSTANCE_ID", got)
	}
	if got := c.LeaseTTL(); got != 20*time.Second {
		t.Errorf("LeaseTTL() = %v, want two 5s intervals and a 10s deadline (two intervals)", got)
	}
	c.RedisInterval = time.Second
	if got := c.LeaseTTL(); got != 5*time.Second {
		t.Errorf("LeaseTTL() with a 1s Redis interval = %v, want 5s", got)
	}
}
