// Package config reads observerd's configuration from the environment
// (variables prefixed OBSERVERD_), validates it and documents it.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is observerd's whole configuration. Every field is one
// environment variable; the help tag is what `observerd -h` prints.
type Config struct {
	ListenAddr string   `env:"LISTEN_ADDR" envDefault:":9750" help:"HTTP listen address of /snapshot, /metrics, /healthz, /readyz"`
	Sources    []string `env:"SOURCES" envDefault:"ratelimiter,redis,prometheus" help:"enabled sources, any subset of ratelimiter,redis,prometheus"`
	CORSOrigin string   `env:"CORS_ORIGIN" help:"origin allowed to read /snapshot from a browser (Access-Control-Allow-Origin); empty: none"`

	RatelimiterURLs     []string       `env:"RATELIMITER_URLS" envDefault:"http://localhost:8000" help:"rate limiter node base URLs, comma-separated"`
	RatelimiterDiscover bool           `env:"RATELIMITER_DISCOVER" envDefault:"true" help:"also poll the nodes found in the Redis node registry, at http://{address}"`
	NodeTimezone        *time.Location `env:"NODE_TIMEZONE" envDefault:"UTC" help:"time zone of registration timestamps that nodes write without an offset"`
	NodeForgetAfter     time.Duration  `env:"NODE_FORGET_AFTER" envDefault:"10m" help:"how long a node that vanished stays listed (as down) after it was last seen"`
	MaxResponseBytes    int64          `env:"MAX_RESPONSE_BYTES" envDefault:"4194304" help:"largest HTTP answer read from a node or Prometheus, in bytes"`

	RedisURL          string   `env:"REDIS_URL" envDefault:"redis://localhost:6379" help:"Redis URL, redis:// or rediss://, password allowed in the URL"`
	RedisPasswordFile string   `env:"REDIS_PASSWORD_FILE" help:"file holding the Redis password; overrides a password in the URL"`
	RedisClusterAddrs []string `env:"REDIS_CLUSTER_ADDRS" help:"seed host:port list; when set, Redis is a Redis Cluster"`

	InstanceID                string  `env:"INSTANCE_ID" help:"this observer's name among the sidecars of one cluster: the walk lease's holder and counters.walked_by; empty: host name and process id (in Kubernetes the host name is the pod name)"`
	RedisWalkCoordination     string  `env:"REDIS_WALK_COORDINATION" envDefault:"lease" help:"lease: one observer of the cluster walks the keyspace each interval, holding a lease in Redis, and the others read its result from Redis; off: every observer walks"`
	RedisWalkURL              string  `env:"REDIS_WALK_URL" help:"Redis to walk the keyspace on (a replica, so that the walk costs the primary nothing), redis:// or rediss://; PING, INFO and the walk lease stay on OBSERVERD_REDIS_URL; empty: OBSERVERD_REDIS_URL"`
	RedisWalkMaxKeysPerSecond float64 `env:"REDIS_WALK_MAX_KEYS_PER_SECOND" envDefault:"0" help:"pace of a keyspace walk in keys per second, to spread it over the poll interval where the rate limiter needs Redis to itself; a paced walk takes keys/pace seconds, so raise OBSERVERD_REDIS_POLL_TIMEOUT to match; 0: unlimited"`

	PrometheusURL     string `env:"PROMETHEUS_URL" envDefault:"http://localhost:9090" help:"Prometheus base URL"`
	PrometheusJob     string `env:"PROMETHEUS_JOB" envDefault:"ratelimiter" help:"Prometheus job that scrapes the rate limiter nodes"`
	QueryP99          string `env:"PROMETHEUS_QUERY_P99" help:"PromQL for per-node check latency P99 in seconds, by instance; empty: the built-in query"`
	QueryAllowed      string `env:"PROMETHEUS_QUERY_ALLOWED" help:"PromQL for per-node allowed checks per second, by instance; empty: built-in"`
	QueryBlocked      string `env:"PROMETHEUS_QUERY_BLOCKED" help:"PromQL for per-node blocked checks per second, by instance; empty: built-in"`
	QueryAllowedTotal string `env:"PROMETHEUS_QUERY_ALLOWED_TOTAL" help:"PromQL for the cluster's allowed checks per second; empty: built-in"`
	QueryBlockedTotal string `env:"PROMETHEUS_QUERY_BLOCKED_TOTAL" help:"PromQL for the cluster's blocked checks per second; empty: built-in"`
	QueryUp           string `env:"PROMETHEUS_QUERY_UP" help:"PromQL for the nodes' scrape health, by instance; empty: up{job=\"$OBSERVERD_PROMETHEUS_JOB\"}"`

	PollInterval        time.Duration `env:"POLL_INTERVAL" envDefault:"5s" help:"default poll interval of every source"`
	PollTimeout         time.Duration `env:"POLL_TIMEOUT" envDefault:"3s" help:"default deadline of one poll"`
	PollMaxBackoff      time.Duration `env:"POLL_MAX_BACKOFF" envDefault:"30s" help:"longest wait between polls of a failing source"`
	RatelimiterInterval time.Duration `env:"RATELIMITER_POLL_INTERVAL" help:"poll interval of the node API; 0: OBSERVERD_POLL_INTERVAL"`
	RedisInterval       time.Duration `env:"REDIS_POLL_INTERVAL" help:"poll interval of Redis; 0: OBSERVERD_POLL_INTERVAL"`
	PrometheusInterval  time.Duration `env:"PROMETHEUS_POLL_INTERVAL" help:"poll interval of Prometheus; 0: OBSERVERD_POLL_INTERVAL"`
	RatelimiterTimeout  time.Duration `env:"RATELIMITER_POLL_TIMEOUT" help:"deadline of one poll of the node API; 0: OBSERVERD_POLL_TIMEOUT"`
	RedisTimeout        time.Duration `env:"REDIS_POLL_TIMEOUT" help:"deadline of one poll of Redis (a keyspace of several hundred thousand keys takes seconds); 0: OBSERVERD_POLL_TIMEOUT"`
	PrometheusTimeout   time.Duration `env:"PROMETHEUS_POLL_TIMEOUT" help:"deadline of one poll of Prometheus; 0: OBSERVERD_POLL_TIMEOUT"`
	StaleAfter          time.Duration `env:"STALE_AFTER" help:"age of a source's last success beyond which its data is stale (withheld from /metrics, source_stale); 0: 3 poll intervals, at least one interval plus the poll timeout"`
	MetricsKeepStale    bool          `env:"METRICS_KEEP_STALE" envDefault:"false" help:"keep exporting a stale source's last values on /metrics"`

	KeyPrefix     string        `env:"KEY_PREFIX" envDefault:"ratelimit:" help:"counter key prefix"`
	NodePrefix    string        `env:"NODE_PREFIX" envDefault:"ratelimiter:nodes:" help:"node registry key prefix"`
	TopKeys       int           `env:"TOP_KEYS" envDefault:"20" help:"how many hottest keys to publish (and export per key)"`
	ListLimit     int           `env:"LIST_LIMIT" envDefault:"100" help:"longest list of blocked, over-limit or TTL-less keys kept in a snapshot"`
	DefaultLimit  int64         `env:"DEFAULT_LIMIT" envDefault:"100" help:"default limit used until a node's /api/limits answers"`
	DefaultWindow time.Duration `env:"DEFAULT_WINDOW" envDefault:"60s" help:"default window used until a node's /api/limits answers"`

	Invariants Invariants `envPrefix:""`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info" help:"log level: debug, info, warn, error"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json" help:"log format: json or console"`
}

// Invariants holds the thresholds and grace periods of the health checks.
type Invariants struct {
	NodeDownGrace            time.Duration `env:"NODE_DOWN_GRACE" envDefault:"0s" help:"node_down: how long a node must be down before it is reported"`
	RedisDisconnectedGrace   time.Duration `env:"REDIS_DISCONNECTED_GRACE" envDefault:"0s" help:"redis_disconnected: grace period"`
	HighLatencyThreshold     time.Duration `env:"HIGH_LATENCY_THRESHOLD" envDefault:"100ms" help:"high_latency: check latency P99 above which a node is slow"`
	HighLatencyGrace         time.Duration `env:"HIGH_LATENCY_GRACE" envDefault:"60s" help:"high_latency: grace period"`
	OverLimitGrace           time.Duration `env:"OVER_LIMIT_GRACE" envDefault:"0s" help:"over_limit: grace period"`
	GhostAllowingGrace       time.Duration `env:"GHOST_ALLOWING_GRACE" envDefault:"0s" help:"ghost_allowing: grace period"`
	CounterDriftThreshold    int64         `env:"COUNTER_DRIFT_THRESHOLD" envDefault:"5" help:"counter_drift: largest tolerated difference between a node's count and Redis's, or between nodes"`
	CounterDriftGrace        time.Duration `env:"COUNTER_DRIFT_GRACE" envDefault:"30s" help:"counter_drift: grace period"`
	CounterWithoutTTLGrace   time.Duration `env:"COUNTER_WITHOUT_TTL_GRACE" envDefault:"0s" help:"counter_without_ttl: grace period"`
	SequenceKeyLeakThreshold int64         `env:"SEQUENCE_KEY_LEAK_THRESHOLD" envDefault:"10000" help:"sequence_key_leak: orphan :seq keys above which it is reported"`
	SequenceKeyLeakGrace     time.Duration `env:"SEQUENCE_KEY_LEAK_GRACE" envDefault:"0s" help:"sequence_key_leak: grace period"`
	SourceStaleGrace         time.Duration `env:"SOURCE_STALE_GRACE" envDefault:"0s" help:"source_stale: grace period after OBSERVERD_STALE_AFTER"`
	ViolationSubjectsLimit   int           `env:"VIOLATION_SUBJECTS_LIMIT" envDefault:"20" help:"per invariant, the most subjects exported on /metrics; the rest fold into subject=\"other\""`
}

// Prefix is the prefix of every variable.
const Prefix = "OBSERVERD_"

// Load parses the configuration from environ (KEY=value strings) and
// validates it. Errors name the variable.
func Load(environ []string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{
		Environment: env.ToMap(environ),
		Prefix:      Prefix,
	})
	if err != nil {
		return Config{}, explain(err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Default is the configuration of an empty environment: every variable at
// its default. It is the one owner of the defaults that the other packages
// and their tests start from.
func Default() Config {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{}, Prefix: Prefix})
	if err != nil {
		// The defaults are constants of this package; TestDefaultIsValid
		// proves they parse and validate.
		panic(fmt.Sprintf("config: the defaults do not parse: %v", err))
	}
	return cfg
}

// explain rewrites the parser's errors, which name Go fields, so that they
// name the variables instead.
func explain(err error) error {
	names := fieldVars()
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			msgs = append(msgs, fmt.Sprintf("%s: %v", names[pe.Name], pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
}

// Var is one documented variable.
type Var struct {
	Name    string
	Default string
	Help    string
	field   string
}

// Vars lists every variable with its default and meaning, in struct order.
func Vars() []Var {
	var out []Var
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
				walk(f.Type)
				continue
			}
			name, ok := f.Tag.Lookup("env")
			if !ok {
				continue
			}
			out = append(out, Var{Name: Prefix + name, Default: f.Tag.Get("envDefault"), Help: f.Tag.Get("help"), field: f.Name})
		}
	}
	walk(reflect.TypeFor[Config]())
	return out
}

func fieldVars() map[string]string {
	m := map[string]string{}
	for _, v := range Vars() {
		m[v.field] = v.Name
	}
	return m
}
