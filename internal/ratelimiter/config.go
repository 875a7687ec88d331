package ratelimiter

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config configures one node. Every field is one environment variable; the
// desc tag is what `ratelimiterd -h` prints. The RATELIMITER_* variables and
// their defaults are those of the original service (docs/contract.md), so
// that a reference node can stand in for it anywhere; the LISTEN_HOST and
// CHAOS_* variables are this implementation's own.
type Config struct {
	RedisURL           string        `env:"RATELIMITER_REDIS_URL" envDefault:"redis://localhost:6379" desc:"redis:// or rediss:// URL of the shared Redis"`
	NodeID             string        `env:"RATELIMITER_NODE_ID" envDefault:"node-1" desc:"node id in the registry and in /health"`
	NodeHost           string        `env:"RATELIMITER_NODE_HOST" envDefault:"localhost" desc:"host part of the registered address"`
	NodePort           int           `env:"RATELIMITER_NODE_PORT" envDefault:"8000" desc:"port to listen on and to register (0: any free port, registered as opened)"`
	ListenHost         string        `env:"RATELIMITER_LISTEN_HOST" desc:"address to bind (empty: all interfaces)"`
	DefaultLimit       int64         `env:"RATELIMITER_DEFAULT_LIMIT" envDefault:"100" desc:"requests allowed per window when a check names no limit"`
	DefaultWindowMS    int64         `env:"RATELIMITER_DEFAULT_WINDOW_MS" envDefault:"60000" desc:"window in milliseconds when a check names none"`
	NodeTTL            Seconds       `env:"RATELIMITER_NODE_TTL_SECONDS" envDefault:"30" desc:"registry entry TTL in seconds"`
	Heartbeat          Seconds       `env:"RATELIMITER_NODE_HEARTBEAT_SECONDS" envDefault:"10" desc:"registry heartbeat interval in seconds"`
	ChaosClockOffset   time.Duration `env:"RATELIMITER_CHAOS_CLOCK_OFFSET" envDefault:"0s" desc:"chaos: duration added to the node clock for checks and counts (e.g. 2s, -500ms)"`
	ChaosCheckDelay    time.Duration `env:"RATELIMITER_CHAOS_CHECK_DELAY" envDefault:"0s" desc:"chaos: extra latency of every /check, observed in the histogram"`
	ChaosFailEndpoints []string      `env:"RATELIMITER_CHAOS_FAIL_ENDPOINTS" envSeparator:"," desc:"chaos: comma-separated paths answering 500 (e.g. /api/counters,/api/blocks)"`
	ChaosFailOpen      bool          `env:"RATELIMITER_CHAOS_FAIL_OPEN" envDefault:"false" desc:"chaos: allow a check when Redis cannot decide it, instead of answering 500"`
}

// Seconds is a duration written in the environment as whole seconds, as the
// original service reads its TTL and heartbeat.
type Seconds time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Seconds) UnmarshalText(b []byte) error {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("want whole seconds: %w", err)
	}
	*s = Seconds(time.Duration(n) * time.Second)
	return nil
}

// Duration returns s as a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(s) }

// ParseConfig reads the configuration from environ (KEY=value strings, as
// os.Environ returns) and validates it. ParseConfig(nil) gives the defaults.
func ParseConfig(environ []string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: env.ToMap(environ)})
	if err != nil {
		return Config{}, fmt.Errorf("parse ratelimiter config: %w", nameVariables(err))
	}
	for i, p := range cfg.ChaosFailEndpoints {
		cfg.ChaosFailEndpoints[i] = strings.TrimSpace(p)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports the first bad value, naming its variable.
func (c Config) Validate() error {
	switch {
	case c.RedisURL == "":
		return errors.New("RATELIMITER_REDIS_URL: must not be empty")
	case c.NodeID == "":
		return errors.New("RATELIMITER_NODE_ID: must not be empty")
	case c.NodePort < 0 || c.NodePort > 65535:
		return fmt.Errorf("RATELIMITER_NODE_PORT: %d is not a TCP port", c.NodePort)
	case c.DefaultLimit < 0:
		return fmt.Errorf("RATELIMITER_DEFAULT_LIMIT: %d is negative", c.DefaultLimit)
	case c.DefaultWindowMS <= 0:
		return fmt.Errorf("RATELIMITER_DEFAULT_WINDOW_MS: %d is not positive", c.DefaultWindowMS)
	case c.NodeTTL <= 0:
		return fmt.Errorf("RATELIMITER_NODE_TTL_SECONDS: %s is not positive", c.NodeTTL.Duration())
	case c.Heartbeat <= 0:
		return fmt.Errorf("RATELIMITER_NODE_HEARTBEAT_SECONDS: %s is not positive", c.Heartbeat.Duration())
	case c.ChaosCheckDelay < 0:
		return fmt.Errorf("RATELIMITER_CHAOS_CHECK_DELAY: %s is negative", c.ChaosCheckDelay)
	}
	for _, p := range c.ChaosFailEndpoints {
		if p != "" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("RATELIMITER_CHAOS_FAIL_ENDPOINTS: %q is not a path", p)
		}
	}
	return nil
}

// Usage writes every variable with its default and meaning, from the
// struct tags of Config.
func Usage(w io.Writer) error {
	for f := range reflect.TypeFor[Config]().Fields() {
		def := cmp.Or(f.Tag.Get("envDefault"), `""`)
		if _, err := fmt.Fprintf(w, "  %s (default %s)\n      %s\n", f.Tag.Get("env"), def, f.Tag.Get("desc")); err != nil {
			return fmt.Errorf("write usage: %w", err)
		}
	}
	return nil
}

// nameVariables rewrites the library's parse errors, which name Go fields,
// so that they name the environment variable instead.
func nameVariables(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeFor[Config]()
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				errs = append(errs, fmt.Errorf("%s: %w", f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}
