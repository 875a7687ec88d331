// Package config reads observerd's configuration from the environment
// (variables prefixed OBSERVERD_), validates it and documents it.
package config

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/ratio"
)

// Config is observerd's whole configuration. Every field is one
// environment variable; the help tag is what `observerd -h` prints.
type Config struct {
	ListenAddr  string   `env:"LISTEN_ADDR" envDefault:":9750" help:"HTTP listen address of the status page /, /snapshot, /events, /metrics, /healthz and /readyz"`
	Sources     []string `env:"SOURCES" envDefault:"ratelimiter,redis,prometheus" help:"enabled sources, any subset of ratelimiter,redis,prometheus"`
	CORSOrigins []string `env:"CORS_ORIGINS" help:"origins allowed to read /snapshot, /history, /keys/{key} and /events from a browser, comma-separated (https://dash.example.com), or * for any; preflight requests of these origins are answered; empty: none"`
	PprofAddr   string   `env:"PPROF_ADDR" help:"listen address of /debug/pprof on a listener of its own (127.0.0.1:6060); empty: off"`
	ProbeAddr   string   `env:"PROBE_ADDR" help:"listen address of /healthz and /readyz on a listener of its own (:9751), so that probes answer while the main port is flooded; plain HTTP without authentication whatever OBSERVERD_WEB_CONFIG_FILE says, and nothing but the two probes; empty: off"`

	WebConfigFile     string        `env:"WEB_CONFIG_FILE" help:"web configuration file of every path served (the Prometheus exporters' format: tls_server_config, basic_auth_users with bcrypt hashes, http_server_config headers), read again on each new connection; empty: plain HTTP without authentication"`
	WebMaxConnections int           `env:"WEB_MAX_CONNECTIONS" envDefault:"512" help:"most connections served at once; past it new connections wait to be accepted and idle ones are closed"`
	WebMaxRequests    int           `env:"WEB_MAX_REQUESTS" envDefault:"64" help:"most /snapshot, /history, /keys/{key} and /metrics requests answered at once; past it they get 503 with Retry-After at once; /healthz and /readyz are never held back"`
	WebMaxWaiting     int           `env:"WEB_MAX_WAITING" envDefault:"256" help:"most clients waiting at once on a long-poll of /snapshot?after= or streaming /events; past it they get 503 with Retry-After"`
	WebMaxWait        time.Duration `env:"WEB_MAX_WAIT" envDefault:"60s" help:"longest wait of a long-poll (/snapshot?wait=); a longer wait asked for is cut to this"`

	RatelimiterURLs           []string       `env:"RATELIMITER_URLS" envDefault:"http://localhost:8000" help:"rate limiter node base URLs, comma-separated"`
	RatelimiterDiscover       bool           `env:"RATELIMITER_DISCOVER" envDefault:"true" help:"also poll the nodes found in the Redis node registry, at {scheme}://{address}"`
	RatelimiterDiscoverScheme string         `env:"RATELIMITER_DISCOVER_SCHEME" envDefault:"http" help:"scheme of the nodes found in the registry: http, or https (checked against OBSERVERD_RATELIMITER_TLS_CA_FILE)"`
	NodeTimezone              *time.Location `env:"NODE_TIMEZONE" envDefault:"UTC" help:"time zone of registration timestamps that nodes write without an offset"`
	NodeForgetAfter           time.Duration  `env:"NODE_FORGET_AFTER" envDefault:"10m" help:"how long a node that vanished stays listed (as down) after it was last seen"`
	MaxResponseBytes          int64          `env:"MAX_RESPONSE_BYTES" envDefault:"4194304" help:"largest HTTP answer read from a node or Prometheus, in bytes"`
	MaxHeaderBytes            int64          `env:"MAX_RESPONSE_HEADER_BYTES" envDefault:"65536" help:"largest response header block read from a node or Prometheus, in bytes"`
	MaxNameBytes              int            `env:"MAX_NAME_BYTES" envDefault:"256" help:"longest key name, node id or address kept in a snapshot, in bytes; a longer one is cut and marked with how many bytes were cut"`
	RatelimiterCAFile         string         `env:"RATELIMITER_TLS_CA_FILE" help:"CA certificates (PEM) that the nodes' https:// certificates are checked against; empty: the system's"`
	RatelimiterCertFile       string         `env:"RATELIMITER_TLS_CERT_FILE" help:"client certificate (PEM) shown to the nodes; with OBSERVERD_RATELIMITER_TLS_KEY_FILE"`
	RatelimiterKeyFile        string         `env:"RATELIMITER_TLS_KEY_FILE" help:"key (PEM) of OBSERVERD_RATELIMITER_TLS_CERT_FILE"`
	RatelimiterHTTPConfigFile string         `env:"RATELIMITER_HTTP_CONFIG_FILE" help:"HTTP client configuration of the nodes, a YAML file in Prometheus's http_config format (basic_auth, authorization, oauth2, tls_config, proxy_url, follow_redirects, ...); not with the OBSERVERD_RATELIMITER_TLS_* shorthands; empty: those"`

	RedisURL          string   `env:"REDIS_URL" envDefault:"redis://localhost:6379" help:"Redis URL, redis:// or rediss://, password allowed in the URL"`
	RedisUsername     string   `env:"REDIS_USERNAME" help:"Redis ACL user; overrides a user in the URL"`
	RedisPasswordFile string   `env:"REDIS_PASSWORD_FILE" help:"file holding the Redis password; overrides a password in the URL"`
	RedisCAFile       string   `env:"REDIS_TLS_CA_FILE" help:"CA certificates (PEM) that a rediss:// server's certificate is checked against; empty: the system's"`
	RedisCertFile     string   `env:"REDIS_TLS_CERT_FILE" help:"client certificate (PEM) shown to a rediss:// server; with OBSERVERD_REDIS_TLS_KEY_FILE"`
	RedisKeyFile      string   `env:"REDIS_TLS_KEY_FILE" help:"key (PEM) of OBSERVERD_REDIS_TLS_CERT_FILE"`
	RedisClusterAddrs []string `env:"REDIS_CLUSTER_ADDRS" help:"seed host:port list; when set, Redis is a Redis Cluster"`

	InstanceID                string  `env:"INSTANCE_ID" help:"this observer's name among the sidecars of one cluster: the walk lease's holder and counters.walked_by; empty: host name and process id (in Kubernetes the host name is the pod name)"`
	RedisWalkCoordination     string  `env:"REDIS_WALK_COORDINATION" envDefault:"lease" help:"lease: one observer of the cluster walks the keyspace each interval, holding a lease in Redis, and the others read its result from Redis; off: every observer walks"`
	RedisWalkURL              string  `env:"REDIS_WALK_URL" help:"Redis to walk the keyspace on (a replica, so that the walk costs the primary nothing), redis:// or rediss://; PING, INFO and the walk lease stay on OBSERVERD_REDIS_URL; empty: OBSERVERD_REDIS_URL"`
	RedisWalkBudget           float64 `env:"REDIS_WALK_BUDGET" envDefault:"0.15" help:"share of Redis's time a keyspace walk may take while it runs, above 0 and at most 1: the walk sends one request at a time and rests so that the time Redis spends on it (INFO commandstats, else its round trips) stays within this share, longer when Redis is slower; a walk that would not finish within three quarters of the Redis poll interval at that pace takes more, and says so (counters.walk.paced_by interval); 1: unpaced, as fast as Redis answers"`
	RedisWalkMaxKeysPerSecond float64 `env:"REDIS_WALK_MAX_KEYS_PER_SECOND" envDefault:"0" help:"pace of a keyspace walk in keys per second instead of OBSERVERD_REDIS_WALK_BUDGET; a paced walk takes keys/pace seconds, so raise OBSERVERD_REDIS_POLL_TIMEOUT to match; 0: the budget paces the walk"`

	PrometheusURL string `env:"PROMETHEUS_URL" envDefault:"http://localhost:9090" help:"Prometheus base URL"`
	PrometheusJob string `env:"PROMETHEUS_JOB" envDefault:"ratelimiter" help:"Prometheus job that scrapes the rate limiter nodes"`

	PrometheusBearerTokenFile string `env:"PROMETHEUS_BEARER_TOKEN_FILE" help:"file holding a bearer token sent to Prometheus, read again on each query"`
	PrometheusUsername        string `env:"PROMETHEUS_USERNAME" help:"basic auth user of Prometheus; with OBSERVERD_PROMETHEUS_PASSWORD_FILE"`
	PrometheusPasswordFile    string `env:"PROMETHEUS_PASSWORD_FILE" help:"file holding the basic auth password of OBSERVERD_PROMETHEUS_USERNAME, read again on each query"`
	PrometheusCAFile          string `env:"PROMETHEUS_TLS_CA_FILE" help:"CA certificates (PEM) that an https:// Prometheus's certificate is checked against; empty: the system's"`
	PrometheusCertFile        string `env:"PROMETHEUS_TLS_CERT_FILE" help:"client certificate (PEM) shown to Prometheus; with OBSERVERD_PROMETHEUS_TLS_KEY_FILE"`
	PrometheusKeyFile         string `env:"PROMETHEUS_TLS_KEY_FILE" help:"key (PEM) of OBSERVERD_PROMETHEUS_TLS_CERT_FILE"`
	PrometheusHTTPConfigFile  string `env:"PROMETHEUS_HTTP_CONFIG_FILE" help:"HTTP client configuration of Prometheus, a YAML file in Prometheus's http_config format (basic_auth, authorization, oauth2, tls_config, proxy_url, follow_redirects, ...); not with the shorthands OBSERVERD_PROMETHEUS_USERNAME, _PASSWORD_FILE, _BEARER_TOKEN_FILE and _TLS_*; empty: those"`

	QueryP99            string `env:"PROMETHEUS_QUERY_P99" help:"PromQL for per-node check latency P99 in seconds, by instance; empty: the built-in query"`
	QueryAllowed        string `env:"PROMETHEUS_QUERY_ALLOWED" help:"PromQL for per-node allowed checks per second, by instance; empty: built-in"`
	QueryBlocked        string `env:"PROMETHEUS_QUERY_BLOCKED" help:"PromQL for per-node blocked checks per second, by instance; empty: built-in"`
	QueryAllowedTotal   string `env:"PROMETHEUS_QUERY_ALLOWED_TOTAL" help:"PromQL for the cluster's allowed checks per second; empty: built-in"`
	QueryBlockedTotal   string `env:"PROMETHEUS_QUERY_BLOCKED_TOTAL" help:"PromQL for the cluster's blocked checks per second; empty: built-in"`
	QueryUp             string `env:"PROMETHEUS_QUERY_UP" help:"PromQL for the nodes' scrape health, by instance; empty: up{job=\"$OBSERVERD_PROMETHEUS_JOB\"}"`
	QueryAllowedRecent  string `env:"PROMETHEUS_QUERY_ALLOWED_RECENT" help:"PromQL for the cluster's allowed checks per second over a recent window (built-in: 30s; needs a scrape interval of 15s or less)"`
	QueryBlockedRecent  string `env:"PROMETHEUS_QUERY_BLOCKED_RECENT" help:"PromQL for the cluster's blocked checks per second over a recent window (built-in: 30s)"`
	QueryAllowedCounter string `env:"PROMETHEUS_QUERY_ALLOWED_COUNTER" help:"PromQL for each node's allowed checks counter, by instance; empty: built-in"`
	QueryAllowedScraped string `env:"PROMETHEUS_QUERY_ALLOWED_SCRAPED" help:"PromQL for the Unix time of each node's last scrape of that counter, by instance; empty: built-in"`

	PollInterval        time.Duration `env:"POLL_INTERVAL" envDefault:"5s" help:"default poll interval of every source"`
	PollTimeout         time.Duration `env:"POLL_TIMEOUT" envDefault:"3s" help:"default deadline of one poll"`
	PollMaxBackoff      time.Duration `env:"POLL_MAX_BACKOFF" envDefault:"30s" help:"longest wait between polls of a failing source"`
	RatelimiterInterval time.Duration `env:"RATELIMITER_POLL_INTERVAL" help:"poll interval of the node API; 0: OBSERVERD_POLL_INTERVAL"`
	RedisInterval       time.Duration `env:"REDIS_POLL_INTERVAL" help:"poll interval of Redis; 0: OBSERVERD_POLL_INTERVAL"`
	PrometheusInterval  time.Duration `env:"PROMETHEUS_POLL_INTERVAL" help:"poll interval of Prometheus; 0: OBSERVERD_POLL_INTERVAL"`
	RatelimiterTimeout  time.Duration `env:"RATELIMITER_POLL_TIMEOUT" help:"deadline of one poll of the node API; 0: OBSERVERD_POLL_TIMEOUT"`
	RedisTimeout        time.Duration `env:"REDIS_POLL_TIMEOUT" help:"deadline of one poll of Redis; a walk paced by OBSERVERD_REDIS_WALK_BUDGET aims to finish within three quarters of the Redis poll interval, or of this when shorter; 0: the longer of OBSERVERD_POLL_TIMEOUT and two Redis poll intervals"`
	PrometheusTimeout   time.Duration `env:"PROMETHEUS_POLL_TIMEOUT" help:"deadline of one poll of Prometheus; 0: OBSERVERD_POLL_TIMEOUT"`
	StaleAfter          time.Duration `env:"STALE_AFTER" help:"age of a source's last success beyond which its data is stale (withheld from /metrics, source_stale); 0: 3 poll intervals, at least one interval plus the poll timeout"`
	MetricsKeepStale    bool          `env:"METRICS_KEEP_STALE" envDefault:"false" help:"keep exporting a stale source's last values on /metrics"`

	KeyPrefix       string        `env:"KEY_PREFIX" envDefault:"ratelimit:" help:"counter key prefix"`
	NodePrefix      string        `env:"NODE_PREFIX" envDefault:"ratelimiter:nodes:" help:"node registry key prefix"`
	TopKeys         int           `env:"TOP_KEYS" envDefault:"20" help:"how many hottest keys to publish (and export per key)"`
	ExportKeySeries bool          `env:"EXPORT_KEY_SERIES" envDefault:"true" help:"export observerd_counter_requests and observerd_counter_limit per top key on /metrics; false where key names are personal data (/snapshot keeps the top list)"`
	ListLimit       int           `env:"LIST_LIMIT" envDefault:"100" help:"longest list of blocked, over-limit, near-limit or TTL-less keys kept in a snapshot"`
	NearLimitRatio  ratio.Ratio   `env:"NEAR_LIMIT_RATIO" envDefault:"0.8" help:"share of its own limit (above 0, at most 1) at or above which a key is near its limit: counted in counters.near_limit_keys and listed, nearest first, in counters.near_limit; exact, 0.8 counts 8 of 10 and not 7; a key whose limit is 0 is always near it"`
	DefaultLimit    int64         `env:"DEFAULT_LIMIT" envDefault:"100" help:"default limit used until a node's /api/limits answers"`
	DefaultWindow   time.Duration `env:"DEFAULT_WINDOW" envDefault:"60s" help:"default window used until a node's /api/limits answers"`

	History time.Duration `env:"HISTORY" envDefault:"1h" help:"how far back observerd keeps, in memory and per process, a summary of every snapshot it publishes, for /snapshot?at=, /history, the status page's step back and a key's history; bounded in bytes too (a restarted observerd starts empty); 0: off"`

	// Invariants are the invariants judged with their settings,
	// OBSERVERD_<NAME>_GRACE and OBSERVERD_<NAME>_THRESHOLD, which derive
	// from the declarations in package health.
	Invariants             health.Settings `env:"-"`
	ViolationSubjectsLimit int             `env:"VIOLATION_SUBJECTS_LIMIT" envDefault:"20" help:"per invariant, the most subjects exported on /metrics; the rest fold into subject=\"other\""`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info" help:"log level: debug, info, warn, error"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json" help:"log format: json or console"`
}

// Prefix is the prefix of every variable.
const Prefix = "OBSERVERD_"

// Load is LoadWith the built-in invariants.
func Load(environ []string) (Config, error) { return LoadWith(environ, health.Builtin()) }

// LoadWith parses the configuration from environ (KEY=value strings),
// with the variables of invs, and validates it. It reports every problem
// at once, one per line, each naming its variable: unknown variables
// first, then values that do not parse, then values that parse but are
// not allowed.
func LoadWith(environ []string, invs []health.Invariant) (Config, error) {
	vars := env.ToMap(environ)
	p := unknownVars(vars, invs)
	cfg, err := env.ParseAsWithOptions[Config](env.Options{
		Environment: vars,
		Prefix:      Prefix,
	})
	unparsed := map[string]bool{}
	if err != nil {
		p = append(p, explain(err, unparsed)...)
	}
	var errs []health.VarError
	cfg.Invariants, errs = health.Parse(invs, func(name string) string { return vars[Prefix+name] })
	for _, e := range errs {
		unparsed[Prefix+e.Name] = true
		p = append(p, problem{name: Prefix + e.Name, msg: e.Msg})
	}
	for _, pr := range cfg.check() {
		// A variable that did not parse holds its zero value: judging
		// that would report it twice.
		if !unparsed[pr.name] {
			p = append(p, pr)
		}
	}
	if err := p.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Default is the configuration of an empty environment: every variable at
// its default, the built-in invariants judged. It is the one owner of the
// defaults that the other packages and their tests start from.
func Default() Config {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: map[string]string{}, Prefix: Prefix})
	if err != nil {
		// The defaults are constants of this package; TestDefaultIsValid
		// proves they parse and validate.
		panic(fmt.Sprintf("config: the defaults do not parse: %v", err))
	}
	cfg.Invariants = health.Defaults(health.Builtin())
	return cfg
}

// explain rewrites the parser's errors, which name Go fields, so that they
// name the variables instead, and marks each variable that did not parse
// in unparsed.
func explain(err error, unparsed map[string]bool) problems {
	names := fieldVars()
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return problems{{msg: err.Error()}}
	}
	var p problems
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := names[pe.Name]
			unparsed[name] = true
			p = append(p, problem{name: name, msg: pe.Err.Error()})
			continue
		}
		p = append(p, problem{msg: e.Error()})
	}
	return p
}

// Var is one documented variable.
type Var struct {
	Name    string
	Default string
	Help    string
	field   string
}

// Vars lists every variable with its default and meaning, in struct
// order, the variables of invs in the place of Config.Invariants.
func Vars(invs []health.Invariant) []Var {
	var out []Var
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type == reflect.TypeFor[health.Settings]() {
			for _, v := range health.Vars(invs) {
				out = append(out, Var{Name: Prefix + v.Name, Default: v.Default, Help: v.Help})
			}
			continue
		}
		if name, ok := f.Tag.Lookup("env"); ok {
			out = append(out, Var{Name: Prefix + name, Default: f.Tag.Get("envDefault"), Help: f.Tag.Get("help"), field: f.Name})
		}
	}
	return out
}

// fieldVars maps each Go field name to its variable.
func fieldVars() map[string]string {
	m := map[string]string{}
	for _, v := range Vars(nil) {
		m[v.field] = v.Name
	}
	return m
}
