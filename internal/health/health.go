// Package health judges the cluster's invariants against merged snapshots.
//
// An Evaluator is fed one Input per published snapshot. For every invariant
// it decides one of three things: the condition holds for some subjects, it
// holds for none, or it cannot be judged now because a source it needs is
// not fresh (the invariant is then listed in Result.Unknown with the reason).
//
// A condition that holds is remembered from the moment it was first seen and
// reported as a violation only once it has held for the invariant's grace
// period; FirstSeen is that moment and LastSeen the latest evaluation that
// confirmed it. It clears, and its state is forgotten, at the first
// evaluation that finds it no longer holding.
//
// While an invariant is unknown nothing is raised and nothing is cleared:
// violations already reported stay in the result unchanged (LastSeen keeps
// the time they were last confirmed), so a stale source never turns red into
// green. Conditions still inside their grace period are forgotten instead, so
// once the source is fresh again a condition must hold for a whole observed
// grace period before it is reported, and a stale source never turns green
// into red either.
package health

// Invariant names, as they appear in snapshot.Violation.Invariant and in the
// invariant label of the metrics.
const (
	NodeDown          = "node_down"
	RedisDisconnected = "redis_disconnected"
	HighLatency       = "high_latency"
	OverLimit         = "over_limit"
	GhostAllowing     = "ghost_allowing"
	CounterDrift      = "counter_drift"
	CounterWithoutTTL = "counter_without_ttl"
	SequenceKeyLeak   = "sequence_key_leak"
	SourceStale       = "source_stale"
)

// Severities, from the most to the least urgent.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// SubjectRedis is the subject of the invariants about Redis as a whole.
const SubjectRedis = "redis"

// Invariants returns every invariant name in evaluation order. The slice is
// new on every call.
func Invariants() []string {
	return []string{
		NodeDown, RedisDisconnected, HighLatency, OverLimit, GhostAllowing,
		CounterDrift, CounterWithoutTTL, SequenceKeyLeak, SourceStale,
	}
}

// SeverityRank orders severities most severe first: critical 0, warning
// 1, info 2; an unknown severity sorts last, at UnknownSeverityRank.
func SeverityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	case SeverityInfo:
		return 2
	default:
		return UnknownSeverityRank
	}
}

// UnknownSeverityRank is SeverityRank of a severity that is none of the
// Severity constants.
const UnknownSeverityRank = 3

// validSeverity reports whether s is one of the Severity constants.
func validSeverity(s string) bool { return SeverityRank(s) < UnknownSeverityRank }
