package health

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigFromDefaults(t *testing.T) {
	c := defaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	tests := []struct {
		give string
		want Rule
	}{
		{NodeDown, Rule{Severity: SeverityCritical}},
		{RedisDisconnected, Rule{Severity: SeverityCritical}},
		{HighLatency, Rule{Severity: SeverityWarning, Grace: time.Minute}},
		{OverLimit, Rule{Severity: SeverityWarning}},
		{GhostAllowing, Rule{Severity: SeverityWarning}},
		{CounterDrift, Rule{Severity: SeverityWarning, Grace: 30 * time.Second}},
		{CounterWithoutTTL, Rule{Severity: SeverityWarning}},
		{SequenceKeyLeak, Rule{Severity: SeverityInfo}},
		{SourceStale, Rule{Severity: SeverityWarning}},
	}
	if len(tests) != len(Invariants()) {
		t.Fatalf("table covers %d invariants, want %d", len(tests), len(Invariants()))
	}
	for _, tt := range tests {
		if got := c.rule(tt.give); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.give, got, tt.want)
		}
	}
	thresholds := []struct {
		name       string
		give, want any
	}{
		{HighLatency, c.HighLatency.Threshold, 100 * time.Millisecond},
		{CounterDrift, c.CounterDrift.Threshold, int64(5)},
		{SequenceKeyLeak, c.SequenceKeyLeak.Threshold, int64(10000)},
		{SourceStale, mustStaleAfter(t, c, "redis"), 15 * time.Second},
	}
	for _, tt := range thresholds {
		if tt.give != tt.want {
			t.Errorf("%s threshold: got %v, want %v", tt.name, tt.give, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		give func(*Config)
		want []string
	}{
		{
			name: "unknown severity",
			give: func(c *Config) { c.OverLimit.Severity = "fatal" },
			want: []string{`over_limit: severity "fatal" is not one of critical, warning, info`},
		},
		{
			name: "empty severity",
			give: func(c *Config) { c.SourceStale.Severity = "" },
			want: []string{`source_stale: severity "" is not one of`},
		},
		{
			name: "negative grace",
			give: func(c *Config) { c.CounterDrift.Grace = -time.Second },
			want: []string{"counter_drift: grace period must not be negative, got -1s"},
		},
		{
			name: "zero latency threshold",
			give: func(c *Config) { c.HighLatency.Threshold = 0 },
			want: []string{"high_latency: threshold must be positive, got 0s"},
		},
		{
			name: "negative count thresholds",
			give: func(c *Config) {
				c.CounterDrift.Threshold = -1
				c.SequenceKeyLeak.Threshold = -2
			},
			want: []string{
				"counter_drift: threshold must not be negative, got -1",
				"sequence_key_leak: threshold must not be negative, got -2",
			},
		},
		{
			name: "bad staleness bounds",
			give: func(c *Config) {
				c.SourceStale.StaleAfter = map[string]time.Duration{"redis": -time.Second, "prometheus": 0}
			},
			want: []string{
				`source_stale: bound of source "prometheus" must be positive, got 0s`,
				`source_stale: bound of source "redis" must be positive, got -1s`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			tt.give(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want an error wrapping ErrInvalidConfig", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d errors, want %d: %v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d: got %q, want it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestZeroConfigIsInvalid(t *testing.T) {
	if err := (Config{}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("zero config: got %v, want ErrInvalidConfig", err)
	}
}

func mustStaleAfter(t *testing.T, c Config, src string) time.Duration {
	t.Helper()
	d, ok := c.staleAfter(src)
	if !ok {
		t.Fatalf("no staleness bound for %s", src)
	}
	return d
}
