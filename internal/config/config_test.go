package config

import (
	"github.com/observerd/observerd/internal/health"

	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/observerd/observerd/internal/ratio"
	"github.com/observerd/observerd/internal/source"
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
	if cfg.NearLimitRatio != (ratio.Ratio{Num: 4, Den: 5}) {
		t.Errorf("NearLimitRatio = %v, want exactly 4/5", cfg.NearLimitRatio)
	}
	if cfg.StaleAfterFor("redis") != 15*time.Second {
		t.Errorf("StaleAfterFor(redis) = %s", cfg.StaleAfterFor("redis"))
	}
	if cfg.RedisWalkBudget != 0.15 || cfg.RedisWalkMaxKeysPerSecond != 0 {
		t.Errorf("walk budget %v, max keys per second %v", cfg.RedisWalkBudget, cfg.RedisWalkMaxKeysPerSecond)
	}
	// A budgeted walk spreads over the Redis poll interval, and the
	// poll's deadline is two of them unless set.
	if cfg.TimeoutFor("redis") != 10*time.Second || cfg.TimeoutFor("prometheus") != 3*time.Second {
		t.Errorf("timeouts: redis %s, prometheus %s", cfg.TimeoutFor("redis"), cfg.TimeoutFor("prometheus"))
	}
}

func TestRedisTimeout(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want time.Duration
	}{
		{[]string{"OBSERVERD_REDIS_POLL_INTERVAL=1s"}, 3 * time.Second},
		{[]string{"OBSERVERD_REDIS_POLL_INTERVAL=10s"}, 20 * time.Second},
		{[]string{"OBSERVERD_POLL_INTERVAL=200ms", "OBSERVERD_POLL_TIMEOUT=1s"}, time.Second},
		{[]string{"OBSERVERD_REDIS_POLL_INTERVAL=10s", "OBSERVERD_REDIS_POLL_TIMEOUT=4s"}, 4 * time.Second},
	} {
		cfg, err := Load(tc.env)
		if err != nil {
			t.Fatalf("Load(%q): %v", tc.env, err)
		}
		if got := cfg.TimeoutFor("redis"); got != tc.want {
			t.Errorf("Load(%q): Redis timeout %s, want %s", tc.env, got, tc.want)
		}
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
	if got := cfg.Invariants.Of("high_latency").Duration(); got != 20*time.Millisecond {
		t.Errorf("high_latency threshold = %s", got)
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
		{give: "OBSERVERD_POLL_INTERVAL=0s", want: "OBSERVERD_POLL_INTERVAL: must be at least 100ms, got 0s"},
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
		{give: "OBSERVERD_CORS_ORIGINS=example", want: "OBSERVERD_CORS_ORIGINS"},
		{give: "OBSERVERD_CORS_ORIGINS=https://a.example/path", want: "not an origin"},
		{give: "OBSERVERD_CORS_ORIGIN=https://a.example", want: "did you mean OBSERVERD_CORS_ORIGINS?"},
		{give: "OBSERVERD_PPROF_ADDR=6060", want: "OBSERVERD_PPROF_ADDR"},
		{give: "OBSERVERD_PPROF_ADDR=:9750", want: "a listener of its own"},
		{give: "OBSERVERD_PROBE_ADDR=9751", want: "OBSERVERD_PROBE_ADDR"},
		{give: "OBSERVERD_PROBE_ADDR=:9750", want: "OBSERVERD_PROBE_ADDR: \":9750\" is OBSERVERD_LISTEN_ADDR \":9750\" too"},
		{give: "OBSERVERD_WEB_MAX_WAIT=10ms", want: "OBSERVERD_WEB_MAX_WAIT"},
		{give: "OBSERVERD_WEB_MAX_WAITING=0", want: "OBSERVERD_WEB_MAX_WAITING"},
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

// TestListenersRefusedTogether: a listener of its own (pprof, probes) is
// refused on the port of another that it would overlap.
func TestListenersRefusedTogether(t *testing.T) {
	tests := []refusedLoad{
		{give: []string{"OBSERVERD_PROBE_ADDR=0.0.0.0:9750"}, want: "OBSERVERD_PROBE_ADDR: \"0.0.0.0:9750\" is OBSERVERD_LISTEN_ADDR \":9750\" too"},
		{give: []string{"OBSERVERD_LISTEN_ADDR=127.0.0.1:9750", "OBSERVERD_PROBE_ADDR=:9750"}, want: "OBSERVERD_PROBE_ADDR"},
		{give: []string{"OBSERVERD_LISTEN_ADDR=[::1]:9750", "OBSERVERD_PROBE_ADDR=[::]:9750"}, want: "OBSERVERD_PROBE_ADDR"},
		{give: []string{"OBSERVERD_PPROF_ADDR=127.0.0.1:6060", "OBSERVERD_PROBE_ADDR=127.0.0.1:6060"}, want: "OBSERVERD_PROBE_ADDR: \"127.0.0.1:6060\" is OBSERVERD_PPROF_ADDR \"127.0.0.1:6060\" too"},
		{give: []string{"OBSERVERD_PPROF_ADDR=127.0.0.1:9750"}, want: "OBSERVERD_PPROF_ADDR: \"127.0.0.1:9750\" is OBSERVERD_LISTEN_ADDR \":9750\" too"},
	}
	wantLoadErrors(t, tests)
}

// TestListenersAllowedApart: listeners on other ports, or on hosts that do
// not overlap, or on port 0 (a free port each), are allowed.
func TestListenersAllowedApart(t *testing.T) {
	tests := [][]string{
		{"OBSERVERD_PROBE_ADDR=:9751", "OBSERVERD_PPROF_ADDR=127.0.0.1:6060"},
		{"OBSERVERD_LISTEN_ADDR=127.0.0.1:9750", "OBSERVERD_PROBE_ADDR=10.0.0.1:9750"},
		{"OBSERVERD_LISTEN_ADDR=127.0.0.1:0", "OBSERVERD_PROBE_ADDR=127.0.0.1:0", "OBSERVERD_PPROF_ADDR=127.0.0.1:0"},
	}
	for _, give := range tests {
		t.Run(strings.Join(give, " "), func(t *testing.T) {
			if _, err := Load(give); err != nil {
				t.Errorf("Load(%q) = %v", give, err)
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
	if err := PrintUsage(&b, "observerd", health.Builtin()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	vars := Vars(health.Builtin())
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

func TestDefaultIsValid(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	loaded, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(loaded, cfg, cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("Default() differs from Load(nil) (-load +default):\n%s", diff)
	}
	if diff := cmp.Diff(source.All(), cfg.Sources); diff != "" {
		t.Errorf("OBSERVERD_SOURCES default is not every source (-want +got):\n%s", diff)
	}
}

// TestLoadRejectsOutOfRange pins each bound just past its edge: a rule that
// is loosened, or a bad value replaced by a default, fails here.
func TestLoadRejectsOutOfRange(t *testing.T) {
	tests := []refusedLoad{
		{give: []string{"OBSERVERD_LIST_LIMIT=0"}, want: "OBSERVERD_LIST_LIMIT: must be between 1 and 100000, got 0"},
		{give: []string{"OBSERVERD_LIST_LIMIT=100001"}, want: "OBSERVERD_LIST_LIMIT: must be between 1 and 100000, got 100001"},
		{give: []string{"OBSERVERD_MAX_RESPONSE_BYTES=1023"}, want: "OBSERVERD_MAX_RESPONSE_BYTES: must be at least 1024, got 1023"},
		{give: []string{"OBSERVERD_DEFAULT_LIMIT=-1"}, want: "OBSERVERD_DEFAULT_LIMIT: must not be negative, got -1"},
		{give: []string{"OBSERVERD_HIGH_LATENCY_THRESHOLD=0s"}, want: "OBSERVERD_HIGH_LATENCY_THRESHOLD: must be positive, got 0s"},
		{give: []string{"OBSERVERD_HIGH_LATENCY_THRESHOLD=-1s"}, want: "OBSERVERD_HIGH_LATENCY_THRESHOLD: must be positive, got -1s"},
		{give: []string{"OBSERVERD_COUNTER_DRIFT_THRESHOLD=-1"}, want: "OBSERVERD_COUNTER_DRIFT_THRESHOLD: must not be negative, got -1"},
		{give: []string{"OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD=-1"}, want: "OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD: must not be negative, got -1"},
		{give: []string{"OBSERVERD_SOURCES=redis,redis"}, want: `OBSERVERD_SOURCES: source "redis" named twice`},
		{give: []string{"OBSERVERD_TOP_KEYS=1001"}, want: "OBSERVERD_TOP_KEYS: must be between 1 and 1000, got 1001"},
		{give: []string{"OBSERVERD_NEAR_LIMIT_RATIO=0"}, want: "OBSERVERD_NEAR_LIMIT_RATIO: must be above 0 and at most 1, got 0"},
		{give: []string{"OBSERVERD_NEAR_LIMIT_RATIO=1.01"}, want: "OBSERVERD_NEAR_LIMIT_RATIO: must be above 0 and at most 1, got 1.01"},
		{give: []string{"OBSERVERD_NEAR_LIMIT_RATIO=80%"}, want: `OBSERVERD_NEAR_LIMIT_RATIO: "80%" is not a decimal share such as 0.8`},
		{give: []string{"OBSERVERD_NEAR_LIMIT_RATIO=-0.5"}, want: `OBSERVERD_NEAR_LIMIT_RATIO: "-0.5" is not a decimal share such as 0.8`},
	}
	wantLoadErrors(t, tests)
}

// TestLoadKeepsBoundaryValues loads each bound at its edge: it is accepted
// and kept as given.
func TestLoadKeepsBoundaryValues(t *testing.T) {
	tests := []struct {
		give  string
		field func(Config) any
		want  any
	}{
		{give: "OBSERVERD_LIST_LIMIT=1", field: func(c Config) any { return c.ListLimit }, want: 1},
		{give: "OBSERVERD_LIST_LIMIT=100000", field: func(c Config) any { return c.ListLimit }, want: 100000},
		{give: "OBSERVERD_MAX_RESPONSE_BYTES=1024", field: func(c Config) any { return c.MaxResponseBytes }, want: int64(1024)},
		{give: "OBSERVERD_DEFAULT_LIMIT=0", field: func(c Config) any { return c.DefaultLimit }, want: int64(0)},
		{give: "OBSERVERD_COUNTER_DRIFT_THRESHOLD=0", field: func(c Config) any { return c.Invariants.Of("counter_drift").Count() }, want: int64(0)},
		{give: "OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD=0", field: func(c Config) any { return c.Invariants.Of("sequence_key_leak").Count() }, want: int64(0)},
		{give: "OBSERVERD_TOP_KEYS=1000", field: func(c Config) any { return c.TopKeys }, want: 1000},
		{give: "OBSERVERD_NEAR_LIMIT_RATIO=1", field: func(c Config) any { return c.NearLimitRatio }, want: ratio.Ratio{Num: 1, Den: 1}},
		{give: "OBSERVERD_NEAR_LIMIT_RATIO=0.001", field: func(c Config) any { return c.NearLimitRatio }, want: ratio.Ratio{Num: 1, Den: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			cfg, err := Load([]string{tt.give})
			if err != nil {
				t.Fatalf("Load(%q): %v", tt.give, err)
			}
			if diff := cmp.Diff(tt.want, tt.field(cfg)); diff != "" {
				t.Errorf("Load(%q) (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

// TestLoadExplicitlyEmpty sets variables that have a default to the empty
// string: the operator asked for nothing, which is an error for a prefix or
// the source list, and for the node URLs means "only the discovered nodes".
// The parser must not swap in the default.
// TestEmptyVariableCountsAsUnset: an empty variable takes its default, as
// `observerd -h` says; the rules against empty values hold for Validate
// (see validate_test.go).
func TestEmptyVariableCountsAsUnset(t *testing.T) {
	cfg, err := Load([]string{"OBSERVERD_KEY_PREFIX=", "OBSERVERD_NODE_PREFIX=", "OBSERVERD_SOURCES=", "OBSERVERD_RATELIMITER_URLS=", "OBSERVERD_POLL_INTERVAL="})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(Default(), cfg, cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("empty variables did not take their defaults (-want +got):\n%s", diff)
	}
}

// TestLoadReportsEveryError sets several bad variables at once: each is
// reported, in the same fixed order on every call, whatever the order of
// the environment.
func TestLoadReportsEveryError(t *testing.T) {
	tests := []struct {
		name string
		give []string
		sep  string // between two problems
		want []string
	}{
		{
			name: "invalid values",
			sep:  "\n",
			give: []string{
				"OBSERVERD_LIST_LIMIT=0", "OBSERVERD_TOP_KEYS=1001", "OBSERVERD_NODE_PREFIX=x", "OBSERVERD_MAX_RESPONSE_BYTES=1023",
				"OBSERVERD_DEFAULT_LIMIT=-1", "OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD=-1", "OBSERVERD_HIGH_LATENCY_THRESHOLD=0s",
				"OBSERVERD_POLL_TIMEOUT=-1s", "OBSERVERD_SOURCES=redis,redis", "OBSERVERD_LOG_LEVEL=loud",
			},
			want: []string{
				`config: OBSERVERD_LOG_LEVEL: "loud" is not one of debug, info, warn, error`,
				`OBSERVERD_SOURCES: source "redis" named twice`,
				"OBSERVERD_POLL_TIMEOUT: must be at least 10ms, got -1s",
				"OBSERVERD_HIGH_LATENCY_THRESHOLD: must be positive, got 0s",
				"OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD: must not be negative, got -1",
				"OBSERVERD_DEFAULT_LIMIT: must not be negative, got -1",
				"OBSERVERD_MAX_RESPONSE_BYTES: must be at least 1024, got 1023",
				"OBSERVERD_TOP_KEYS: must be between 1 and 1000, got 1001",
				"OBSERVERD_LIST_LIMIT: must be between 1 and 100000, got 0",
			},
		},
		{
			name: "unparsable values",
			sep:  "\n",
			give: []string{"OBSERVERD_TOP_KEYS=many", "OBSERVERD_RATELIMITER_DISCOVER=maybe", "OBSERVERD_POLL_INTERVAL=soon"},
			want: []string{
				`config: OBSERVERD_RATELIMITER_DISCOVER: strconv.ParseBool: parsing "maybe": invalid syntax`,
				`OBSERVERD_POLL_INTERVAL: unable to parse duration: time: invalid duration "soon"`,
				`OBSERVERD_TOP_KEYS: strconv.ParseInt: parsing "many": invalid syntax`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := loadError(t, tt.give)
			for i := range 20 {
				if diff := cmp.Diff(first, loadError(t, tt.give)); diff != "" {
					t.Fatalf("call %d reports otherwise than the first (-first +this):\n%s", i+2, diff)
				}
			}
			lines := strings.Split(first, tt.sep)
			if len(lines) != len(tt.want) {
				t.Fatalf("Load reports %d problems, want %d:\n%s", len(lines), len(tt.want), first)
			}
			for i, want := range tt.want {
				if !strings.Contains(lines[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i+1, lines[i], want)
				}
			}
		})
	}
}

func loadError(t *testing.T, environ []string) string {
	t.Helper()
	_, err := Load(environ)
	if err == nil {
		t.Fatalf("Load(%q) succeeded", environ)
	}
	return err.Error()
}

// refusedLoad is an environment Load refuses, and what its error says.
type refusedLoad struct {
	give []string
	want string
}

// wantLoadErrors checks that Load refuses each environment with an error
// that says what it should.
func wantLoadErrors(t *testing.T, tests []refusedLoad) {
	t.Helper()
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			_, err := Load(tt.give)
			if err == nil {
				t.Fatalf("Load(%q) succeeded, want %q", tt.give, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%q) = %v, want it to contain %q", tt.give, err, tt.want)
			}
		})
	}
}
