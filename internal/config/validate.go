package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// knownSources are the sources observerd can poll; never modified.
var knownSources = []string{"ratelimiter", "redis", "prometheus"}

// Validate checks every value; each error names its variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", Prefix, name, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		bad("LISTEN_ADDR", "%q is not host:port: %v", c.ListenAddr, err)
	}
	if len(c.Sources) == 0 {
		bad("SOURCES", "empty: name at least one of %s", strings.Join(knownSources, ","))
	}
	for i, s := range c.Sources {
		if !slices.Contains(knownSources, s) {
			bad("SOURCES", "unknown source %q (known: %s)", s, strings.Join(knownSources, ","))
		}
		if slices.Contains(c.Sources[:i], s) {
			bad("SOURCES", "source %q named twice", s)
		}
	}
	if c.Enabled("ratelimiter") {
		if len(c.RatelimiterURLs) == 0 && !(c.RatelimiterDiscover && c.Enabled("redis")) {
			bad("RATELIMITER_URLS", "empty, and no discovery through Redis: no node to poll")
		}
		for _, u := range c.RatelimiterURLs {
			if err := httpURL(u); err != nil {
				bad("RATELIMITER_URLS", "%v", err)
			}
		}
	}
	if c.Enabled("redis") {
		if len(c.RedisClusterAddrs) == 0 {
			if err := redisURL(c.RedisURL); err != nil {
				bad("REDIS_URL", "%v", err)
			}
		}
		for _, a := range c.RedisClusterAddrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				bad("REDIS_CLUSTER_ADDRS", "%q is not host:port", a)
			}
		}
	}
	if c.Enabled("prometheus") {
		if err := httpURL(c.PrometheusURL); err != nil {
			bad("PROMETHEUS_URL", "%v", err)
		}
	}
	positive := map[string]time.Duration{"POLL_INTERVAL": c.PollInterval, "POLL_TIMEOUT": c.PollTimeout, "POLL_MAX_BACKOFF": c.PollMaxBackoff, "DEFAULT_WINDOW": c.DefaultWindow, "NODE_FORGET_AFTER": c.NodeForgetAfter}
	for name, d := range positive {
		if d <= 0 {
			bad(name, "must be positive, got %s", d)
		}
	}
	notNegative := map[string]time.Duration{
		"RATELIMITER_POLL_INTERVAL": c.RatelimiterInterval, "REDIS_POLL_INTERVAL": c.RedisInterval,
		"PROMETHEUS_POLL_INTERVAL": c.PrometheusInterval, "STALE_AFTER": c.StaleAfter,
		"RATELIMITER_POLL_TIMEOUT": c.RatelimiterTimeout, "REDIS_POLL_TIMEOUT": c.RedisTimeout, "PROMETHEUS_POLL_TIMEOUT": c.PrometheusTimeout,
		"NODE_DOWN_GRACE": c.Invariants.NodeDownGrace, "REDIS_DISCONNECTED_GRACE": c.Invariants.RedisDisconnectedGrace,
		"HIGH_LATENCY_GRACE": c.Invariants.HighLatencyGrace, "OVER_LIMIT_GRACE": c.Invariants.OverLimitGrace,
		"GHOST_ALLOWING_GRACE": c.Invariants.GhostAllowingGrace, "COUNTER_DRIFT_GRACE": c.Invariants.CounterDriftGrace,
		"COUNTER_WITHOUT_TTL_GRACE": c.Invariants.CounterWithoutTTLGrace, "SEQUENCE_KEY_LEAK_GRACE": c.Invariants.SequenceKeyLeakGrace,
		"SOURCE_STALE_GRACE": c.Invariants.SourceStaleGrace,
	}
	for name, d := range notNegative {
		if d < 0 {
			bad(name, "must not be negative, got %s", d)
		}
	}
	if c.StaleAfter > 0 {
		for _, src := range c.Sources {
			if gap := c.IntervalFor(src) + c.TimeoutFor(src); c.StaleAfter < gap {
				bad("STALE_AFTER", "%s is shorter than the %s between two successful polls of %s at worst (interval plus timeout): it would be stale while healthy", c.StaleAfter, gap, src)
			}
		}
	}
	if c.Invariants.HighLatencyThreshold <= 0 {
		bad("HIGH_LATENCY_THRESHOLD", "must be positive, got %s", c.Invariants.HighLatencyThreshold)
	}
	if c.Invariants.CounterDriftThreshold < 0 {
		bad("COUNTER_DRIFT_THRESHOLD", "must not be negative, got %d", c.Invariants.CounterDriftThreshold)
	}
	if c.Invariants.SequenceKeyLeakThreshold < 0 {
		bad("SEQUENCE_KEY_LEAK_THRESHOLD", "must not be negative, got %d", c.Invariants.SequenceKeyLeakThreshold)
	}
	if c.Invariants.ViolationSubjectsLimit < 1 {
		bad("VIOLATION_SUBJECTS_LIMIT", "must be at least 1, got %d", c.Invariants.ViolationSubjectsLimit)
	}
	if c.MaxResponseBytes < 1024 {
		bad("MAX_RESPONSE_BYTES", "must be at least 1024, got %d", c.MaxResponseBytes)
	}
	if c.KeyPrefix == "" {
		bad("KEY_PREFIX", "must not be empty")
	}
	if c.NodePrefix == "" {
		bad("NODE_PREFIX", "must not be empty")
	}
	if c.TopKeys < 1 || c.TopKeys > 1000 {
		bad("TOP_KEYS", "must be between 1 and 1000, got %d", c.TopKeys)
	}
	if c.ListLimit < 1 || c.ListLimit > 100000 {
		bad("LIST_LIMIT", "must be between 1 and 100000, got %d", c.ListLimit)
	}
	if c.DefaultLimit < 0 {
		bad("DEFAULT_LIMIT", "must not be negative, got %d", c.DefaultLimit)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		bad("LOG_FORMAT", "%q is not json or console", c.LogFormat)
	}
	if c.CORSOrigin != "" && c.CORSOrigin != "*" {
		if err := httpURL(c.CORSOrigin); err != nil {
			bad("CORS_ORIGIN", "%v", err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return nil
}

// Enabled reports whether source is in OBSERVERD_SOURCES.
func (c Config) Enabled(source string) bool { return slices.Contains(c.Sources, source) }

// IntervalFor is the poll interval of source.
func (c Config) IntervalFor(source string) time.Duration {
	own := map[string]time.Duration{"ratelimiter": c.RatelimiterInterval, "redis": c.RedisInterval, "prometheus": c.PrometheusInterval}
	return cmp.Or(own[source], c.PollInterval)
}

// TimeoutFor is the deadline of one poll of source.
func (c Config) TimeoutFor(source string) time.Duration {
	own := map[string]time.Duration{"ratelimiter": c.RatelimiterTimeout, "redis": c.RedisTimeout, "prometheus": c.PrometheusTimeout}
	return cmp.Or(own[source], c.PollTimeout)
}

// StaleAfterFor is the age beyond which source's data is stale:
// OBSERVERD_STALE_AFTER, else 3 poll intervals, and never less than one
// interval plus one poll's deadline, the longest a healthy source may go
// between successes.
func (c Config) StaleAfterFor(source string) time.Duration {
	if c.StaleAfter > 0 {
		return c.StaleAfter
	}
	return max(3*c.IntervalFor(source), c.IntervalFor(source)+c.TimeoutFor(source))
}

func httpURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL with a host", u.Redacted())
	}
	return nil
}

func redisURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error may quote the raw URL, password and all.
		return errors.New("not a URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" || u.Host == "" {
		return fmt.Errorf("%q is not a redis:// or rediss:// URL with a host", u.Redacted())
	}
	return nil
}
