package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/redact"
	"github.com/observerd/observerd/internal/source"
)

// StaleIntervals is how many poll intervals a source may go without a
// success before its data is stale, when OBSERVERD_STALE_AFTER is 0.
const StaleIntervals = 3

// problem is one bad setting: the variable (with its prefix; empty when
// the problem is not one variable's) and what is wrong with it.
type problem struct {
	name string
	msg  string
}

func (p problem) Error() string {
	if p.name == "" {
		return p.msg
	}
	return p.name + ": " + p.msg
}

// problems collects the problems of a configuration in the order they are
// found.
type problems []problem

func (p *problems) add(name, format string, args ...any) {
	*p = append(*p, problem{name: Prefix + name, msg: fmt.Sprintf(format, args...)})
}

// err is every problem, one per line, or nil.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	errs := make([]error, len(p))
	for i, pr := range p {
		errs[i] = pr
	}
	return fmt.Errorf("config: %w", errors.Join(errs...))
}

// setting is one variable's name with its value, for the checks that apply
// the same rule to several variables, in a fixed order.
type setting[T any] struct {
	name  string
	value T
}

// Validate checks every value and reports every bad one at once, in the
// order of the variables; each error names its variable.
func (c Config) Validate() error { return c.check().err() }

// check is every problem of c's values.
func (c Config) check() problems {
	var p problems
	c.validateServing(&p)
	c.validateSources(&p)
	c.validateEndpoints(&p)
	c.validateDurations(&p)
	for _, e := range c.Invariants.Validate() {
		p.add(e.Name, "%s", e.Msg)
	}
	c.validateThresholds(&p)
	c.validateKeys(&p)
	c.validateLimits(&p)
	c.validateFiles(&p)
	return p
}

func (c Config) validateServing(p *problems) {
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		p.add("LISTEN_ADDR", "%q is not host:port: %v", c.ListenAddr, err)
	}
	for _, o := range c.CORSOrigins {
		if o == "*" {
			continue
		}
		if err := origin(o); err != nil {
			p.add("CORS_ORIGINS", "%v", err)
		}
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			p.add("PPROF_ADDR", "%q is not host:port: %v", c.PprofAddr, err)
		} else if sameListener(c.PprofAddr, c.ListenAddr) {
			p.add("PPROF_ADDR", "%q is OBSERVERD_LISTEN_ADDR %q too: pprof needs a listener of its own", c.PprofAddr, c.ListenAddr)
		}
	}
	if c.ProbeAddr != "" {
		if _, _, err := net.SplitHostPort(c.ProbeAddr); err != nil {
			p.add("PROBE_ADDR", "%q is not host:port: %v", c.ProbeAddr, err)
		} else if sameListener(c.ProbeAddr, c.ListenAddr) {
			p.add("PROBE_ADDR", "%q is OBSERVERD_LISTEN_ADDR %q too: the probes need a listener of their own", c.ProbeAddr, c.ListenAddr)
		} else if sameListener(c.ProbeAddr, c.PprofAddr) {
			p.add("PROBE_ADDR", "%q is OBSERVERD_PPROF_ADDR %q too: the probes need a listener of their own", c.ProbeAddr, c.PprofAddr)
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		p.add("LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		p.add("LOG_FORMAT", "%q is not json or console", c.LogFormat)
	}
}

// sameListener tells whether listen addresses a and b, both host:port,
// name the same port on hosts that overlap (the same host, or one of them
// every interface), so that both cannot be bound. Port 0 is a free port
// chosen at bind, never the same.
func sameListener(a, b string) bool {
	ah, ap, aerr := net.SplitHostPort(a)
	bh, bp, berr := net.SplitHostPort(b)
	if aerr != nil || berr != nil || ap != bp || ap == "0" {
		return false
	}
	every := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ah == bh || every(ah) || every(bh)
}

func (c Config) validateSources(p *problems) {
	known := source.All()
	if len(c.Sources) == 0 {
		p.add("SOURCES", "empty: name at least one of %s", strings.Join(known, ","))
	}
	for i, s := range c.Sources {
		if !slices.Contains(known, s) {
			p.add("SOURCES", "unknown source %q (known: %s)", s, strings.Join(known, ","))
		}
		if slices.Contains(c.Sources[:i], s) {
			p.add("SOURCES", "source %q named twice", s)
		}
	}
}

// validateEndpoints checks the addresses of the enabled sources only: a
// disabled source's defaults are never dialled.
func (c Config) validateEndpoints(p *problems) {
	if c.Enabled(source.Ratelimiter) {
		if len(c.RatelimiterURLs) == 0 && !(c.RatelimiterDiscover && c.Enabled(source.Redis)) {
			p.add("RATELIMITER_URLS", "empty, and no discovery through Redis: no node to poll")
		}
		if c.RatelimiterDiscoverScheme != "http" && c.RatelimiterDiscoverScheme != "https" {
			p.add("RATELIMITER_DISCOVER_SCHEME", "%q: want http or https", c.RatelimiterDiscoverScheme)
		}
		for _, u := range c.RatelimiterURLs {
			if err := httpURL(u); err != nil {
				p.add("RATELIMITER_URLS", "%v", err)
			}
		}
	}
	if c.Enabled(source.Redis) {
		if len(c.RedisClusterAddrs) == 0 {
			if err := redisURL(c.RedisURL); err != nil {
				p.add("REDIS_URL", "%v", err)
			}
		}
		for _, a := range c.RedisClusterAddrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				p.add("REDIS_CLUSTER_ADDRS", "%q is not host:port", a)
			}
		}
		c.validateWalk(p)
	}
	if c.Enabled(source.Prometheus) {
		if err := httpURL(c.PrometheusURL); err != nil {
			p.add("PROMETHEUS_URL", "%v", err)
		}
	}
}

// Walk coordination modes of OBSERVERD_REDIS_WALK_COORDINATION.
const (
	WalkLease = "lease"
	WalkAlone = "off"
)

func (c Config) validateWalk(p *problems) {
	if c.RedisWalkCoordination != WalkLease && c.RedisWalkCoordination != WalkAlone {
		p.add("REDIS_WALK_COORDINATION", "%q: want %s or %s", c.RedisWalkCoordination, WalkLease, WalkAlone)
	}
	if c.RedisWalkURL != "" {
		if len(c.RedisClusterAddrs) > 0 {
			p.add("REDIS_WALK_URL", "not with OBSERVERD_REDIS_CLUSTER_ADDRS: a cluster is walked master by master")
		} else if err := redisURL(c.RedisWalkURL); err != nil {
			p.add("REDIS_WALK_URL", "%v", err)
		}
	}
	if !(c.RedisWalkBudget > 0 && c.RedisWalkBudget <= 1) {
		p.add("REDIS_WALK_BUDGET", "must be a share of Redis's time above 0 and at most 1 (1: unpaced), got %v", c.RedisWalkBudget)
	}
	if c.RedisWalkMaxKeysPerSecond < 0 || math.IsNaN(c.RedisWalkMaxKeysPerSecond) || math.IsInf(c.RedisWalkMaxKeysPerSecond, 0) {
		p.add("REDIS_WALK_MAX_KEYS_PER_SECOND", "must be a number of keys per second, 0 or more, got %v", c.RedisWalkMaxKeysPerSecond)
	}
}

// Instance is OBSERVERD_INSTANCE_ID, or else the host name and process id,
// unique per process.
func (c Config) Instance() string {
	if c.InstanceID != "" {
		return c.InstanceID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "observerd"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// LeaseTTL is how long the walk lease outlives its holder's last renewal:
// two Redis intervals and a poll's deadline, so that a walker that polls
// on time never loses it and another takes over soon after it stops.
func (c Config) LeaseTTL() time.Duration {
	return 2*c.IntervalFor(source.Redis) + c.TimeoutFor(source.Redis)
}

// MinPollInterval and MinPollTimeout are the shortest poll interval and
// poll deadline accepted: below them observerd would poll back to back,
// costing its sources more than it tells.
const (
	MinPollInterval = 100 * time.Millisecond
	MinPollTimeout  = 10 * time.Millisecond
)

func (c Config) validateDurations(p *problems) {
	for _, s := range []setting[time.Duration]{{"NODE_FORGET_AFTER", c.NodeForgetAfter}, {"DEFAULT_WINDOW", c.DefaultWindow}} {
		if s.value <= 0 {
			p.add(s.name, "must be positive, got %s", s.value)
		}
	}
	floors := []struct {
		setting[time.Duration]
		floor time.Duration
		unset bool // 0 means "the default" and is allowed
	}{
		{setting[time.Duration]{"POLL_INTERVAL", c.PollInterval}, MinPollInterval, false},
		{setting[time.Duration]{"POLL_TIMEOUT", c.PollTimeout}, MinPollTimeout, false},
		{setting[time.Duration]{"POLL_MAX_BACKOFF", c.PollMaxBackoff}, MinPollInterval, false},
		{setting[time.Duration]{"RATELIMITER_POLL_INTERVAL", c.RatelimiterInterval}, MinPollInterval, true},
		{setting[time.Duration]{"REDIS_POLL_INTERVAL", c.RedisInterval}, MinPollInterval, true},
		{setting[time.Duration]{"PROMETHEUS_POLL_INTERVAL", c.PrometheusInterval}, MinPollInterval, true},
		{setting[time.Duration]{"RATELIMITER_POLL_TIMEOUT", c.RatelimiterTimeout}, MinPollTimeout, true},
		{setting[time.Duration]{"REDIS_POLL_TIMEOUT", c.RedisTimeout}, MinPollTimeout, true},
		{setting[time.Duration]{"PROMETHEUS_POLL_TIMEOUT", c.PrometheusTimeout}, MinPollTimeout, true},
	}
	for _, f := range floors {
		if f.value < f.floor && !(f.unset && f.value == 0) {
			p.add(f.name, "must be at least %s, got %s", f.floor, f.value)
		}
	}
	if c.StaleAfter < 0 {
		p.add("STALE_AFTER", "must not be negative, got %s", c.StaleAfter)
	}
	if c.History < 0 {
		p.add("HISTORY", "must not be negative (0 turns history off), got %s", c.History)
	}
	if c.StaleAfter > 0 {
		for _, src := range c.Sources {
			if gap := c.IntervalFor(src) + c.TimeoutFor(src); c.StaleAfter < gap {
				p.add("STALE_AFTER", "%s is shorter than the %s between two successful polls of %s at worst (interval plus timeout): it would be stale while healthy", c.StaleAfter, gap, src)
			}
		}
	}
}

func (c Config) validateThresholds(p *problems) {
	if c.DefaultLimit < 0 {
		p.add("DEFAULT_LIMIT", "must not be negative, got %d", c.DefaultLimit)
	}
	if c.ViolationSubjectsLimit < 1 {
		p.add("VIOLATION_SUBJECTS_LIMIT", "must be at least 1, got %d", c.ViolationSubjectsLimit)
	}
}

func (c Config) validateKeys(p *problems) {
	if c.MaxResponseBytes < 1024 {
		p.add("MAX_RESPONSE_BYTES", "must be at least 1024, got %d", c.MaxResponseBytes)
	}
	if c.KeyPrefix == "" {
		p.add("KEY_PREFIX", "must not be empty")
	}
	if c.NodePrefix == "" {
		p.add("NODE_PREFIX", "must not be empty")
	}
	if c.TopKeys < 1 || c.TopKeys > 1000 {
		p.add("TOP_KEYS", "must be between 1 and 1000, got %d", c.TopKeys)
	}
	if c.ListLimit < 1 || c.ListLimit > 100000 {
		p.add("LIST_LIMIT", "must be between 1 and 100000, got %d", c.ListLimit)
	}
	if !c.NearLimitRatio.Valid() {
		p.add("NEAR_LIMIT_RATIO", "must be above 0 and at most 1, got %s", c.NearLimitRatio)
	}
}

// Enabled reports whether src is in OBSERVERD_SOURCES.
func (c Config) Enabled(src string) bool { return slices.Contains(c.Sources, src) }

// IntervalFor is the poll interval of src: its own, else
// OBSERVERD_POLL_INTERVAL.
func (c Config) IntervalFor(src string) time.Duration {
	return cmp.Or(ownOf(src, c.RatelimiterInterval, c.RedisInterval, c.PrometheusInterval), c.PollInterval)
}

// TimeoutFor is the deadline of one poll of src: its own, else
// OBSERVERD_POLL_TIMEOUT; for Redis, else the longer of that and two
// intervals: a budgeted walk spreads over most of its interval, and one
// that runs late on a busy machine should finish rather than time out.
func (c Config) TimeoutFor(src string) time.Duration {
	if own := ownOf(src, c.RatelimiterTimeout, c.RedisTimeout, c.PrometheusTimeout); own > 0 {
		return own
	}
	if src == source.Redis {
		return max(c.PollTimeout, 2*c.IntervalFor(src))
	}
	return c.PollTimeout
}

// ownOf picks src's own value of a per-source setting; 0 for an unknown
// source.
func ownOf(src string, ratelimiter, redis, prometheus time.Duration) time.Duration {
	switch src {
	case source.Ratelimiter:
		return ratelimiter
	case source.Redis:
		return redis
	case source.Prometheus:
		return prometheus
	}
	return 0
}

// StaleAfterFor is the age beyond which src's data is stale:
// OBSERVERD_STALE_AFTER, else StaleIntervals poll intervals, and never less
// than one interval plus one poll's deadline, the longest a healthy source
// may go between successes.
func (c Config) StaleAfterFor(src string) time.Duration {
	if c.StaleAfter > 0 {
		return c.StaleAfter
	}
	return max(StaleIntervals*c.IntervalFor(src), c.IntervalFor(src)+c.TimeoutFor(src))
}

// StaleAfterBySource is StaleAfterFor of every enabled source: one bound
// per source serves both the stale status of the snapshot and the
// source_stale invariant.
func (c Config) StaleAfterBySource() map[string]time.Duration {
	out := make(map[string]time.Duration, len(c.Sources))
	for _, s := range c.Sources {
		out[s] = c.StaleAfterFor(s)
	}
	return out
}

func httpURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the raw URL, password and all.
		return fmt.Errorf("%q is not a URL", redact.URL(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL with a host", redact.URL(raw))
	}
	return nil
}

func redisURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", redact.URL(raw))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" || u.Host == "" {
		return fmt.Errorf("%q is not a redis:// or rediss:// URL with a host", redact.URL(raw))
	}
	return nil
}

// origin checks that o is a browser origin: scheme, host and optional
// port, nothing after them, as the Origin request header carries it.
func origin(o string) error {
	if err := httpURL(o); err != nil {
		return err
	}
	u, _ := url.Parse(o)
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin: want scheme://host[:port] and nothing after it", redact.URL(o))
	}
	return nil
}
