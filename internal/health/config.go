package health

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/config"
)

// ErrInvalidConfig is wrapped by every error Config.Validate returns.
var ErrInvalidConfig = errors.New("invalid health config")

// Rule is the part of an invariant's settings that every invariant has.
type Rule struct {
	// Severity is one of the Severity constants.
	Severity string
	// Grace is how long the condition must hold before it is reported;
	// zero reports it at the first evaluation that sees it.
	Grace time.Duration
}

// LatencyRule is a Rule with a latency threshold.
type LatencyRule struct {
	Rule
	// Threshold is the latency above which the condition holds.
	Threshold time.Duration
}

// CountRule is a Rule with a count threshold.
type CountRule struct {
	Rule
	// Threshold is the count above which the condition holds.
	Threshold int64
}

// StaleRule is the Rule of source_stale with its per-source bounds.
type StaleRule struct {
	Rule
	// StaleAfter is, per source name, how long the source may go without
	// a successful poll (config.Config.StaleAfterBySource). A source
	// missing from it is not judged.
	StaleAfter map[string]time.Duration
}

// Config holds the settings of every invariant.
type Config struct {
	// NodeDown: a known node is unreachable or its registry entry expired.
	NodeDown Rule
	// RedisDisconnected: Redis does not answer.
	RedisDisconnected Rule
	// HighLatency: a node's check-latency P99 is above the threshold.
	HighLatency LatencyRule
	// OverLimit: a key's in-window count is above its own limit.
	OverLimit Rule
	// GhostAllowing: a key's limit is 0 yet requests are counted for it.
	GhostAllowing Rule
	// CounterDrift: a node's API count for a key differs from Redis, or
	// from another node's, by more than the threshold.
	CounterDrift CountRule
	// CounterWithoutTTL: a counter sorted set has no TTL.
	CounterWithoutTTL Rule
	// SequenceKeyLeak: orphan sequence keys exceed the threshold.
	SequenceKeyLeak CountRule
	// SourceStale: a source has not succeeded for longer than its bound.
	SourceStale StaleRule
}

// NewConfig gives every invariant its severity, which is the invariant's
// own, and the thresholds and grace periods of inv (OBSERVERD_*_GRACE and
// *_THRESHOLD, whose defaults the config package owns). staleAfter is the
// staleness bound of each enabled source.
func NewConfig(inv config.Invariants, staleAfter map[string]time.Duration) Config {
	return Config{
		NodeDown:          Rule{Severity: SeverityCritical, Grace: inv.NodeDownGrace},
		RedisDisconnected: Rule{Severity: SeverityCritical, Grace: inv.RedisDisconnectedGrace},
		HighLatency: LatencyRule{
			Rule:      Rule{Severity: SeverityWarning, Grace: inv.HighLatencyGrace},
			Threshold: inv.HighLatencyThreshold,
		},
		OverLimit:     Rule{Severity: SeverityWarning, Grace: inv.OverLimitGrace},
		GhostAllowing: Rule{Severity: SeverityWarning, Grace: inv.GhostAllowingGrace},
		CounterDrift: CountRule{
			Rule:      Rule{Severity: SeverityWarning, Grace: inv.CounterDriftGrace},
			Threshold: inv.CounterDriftThreshold,
		},
		CounterWithoutTTL: Rule{Severity: SeverityWarning, Grace: inv.CounterWithoutTTLGrace},
		SequenceKeyLeak: CountRule{
			Rule:      Rule{Severity: SeverityInfo, Grace: inv.SequenceKeyLeakGrace},
			Threshold: inv.SequenceKeyLeakThreshold,
		},
		SourceStale: StaleRule{
			Rule:       Rule{Severity: SeverityWarning, Grace: inv.SourceStaleGrace},
			StaleAfter: maps.Clone(staleAfter),
		},
	}
}

// Validate reports every bad setting at once, each error naming the
// invariant and wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	for _, name := range Invariants() {
		r := c.rule(name)
		if !validSeverity(r.Severity) {
			bad("%s: severity %q is not one of %s, %s, %s",
				name, r.Severity, SeverityCritical, SeverityWarning, SeverityInfo)
		}
		if r.Grace < 0 {
			bad("%s: grace period must not be negative, got %s", name, r.Grace)
		}
	}
	if c.HighLatency.Threshold <= 0 {
		bad("%s: threshold must be positive, got %s", HighLatency, c.HighLatency.Threshold)
	}
	if c.CounterDrift.Threshold < 0 {
		bad("%s: threshold must not be negative, got %d", CounterDrift, c.CounterDrift.Threshold)
	}
	if c.SequenceKeyLeak.Threshold < 0 {
		bad("%s: threshold must not be negative, got %d", SequenceKeyLeak, c.SequenceKeyLeak.Threshold)
	}
	for _, src := range slices.Sorted(maps.Keys(c.SourceStale.StaleAfter)) {
		d := c.SourceStale.StaleAfter[src]
		if d <= 0 {
			bad("%s: bound of source %q must be positive, got %s", SourceStale, src, d)
		}
	}
	return errors.Join(errs...)
}

// rule returns the common settings of the named invariant.
func (c Config) rule(name string) Rule {
	switch name {
	case NodeDown:
		return c.NodeDown
	case RedisDisconnected:
		return c.RedisDisconnected
	case HighLatency:
		return c.HighLatency.Rule
	case OverLimit:
		return c.OverLimit
	case GhostAllowing:
		return c.GhostAllowing
	case CounterDrift:
		return c.CounterDrift.Rule
	case CounterWithoutTTL:
		return c.CounterWithoutTTL
	case SequenceKeyLeak:
		return c.SequenceKeyLeak.Rule
	case SourceStale:
		return c.SourceStale.Rule
	default:
		return Rule{}
	}
}

// staleAfter is the staleness bound of the named source; ok is false for
// a source without one.
func (c Config) staleAfter(source string) (bound time.Duration, ok bool) {
	bound, ok = c.SourceStale.StaleAfter[source]
	return bound, ok
}
