// Package health judges the cluster's invariants against merged snapshots.
//
// Each invariant is one declaration (an Invariant, in a file of its own
// when it has a check of its own), and Builtin lists them. Everything else
// that names an invariant derives from the declarations: its variables
// (OBSERVERD_<NAME>_GRACE and _THRESHOLD), their validation and their lines
// in observerd -h (see Vars and Parse), observerd check's judgement without
// grace (Settings.WithoutGrace), the exporter's series (Settings.Names),
// and, through tests, the README's table and the alert rules.
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

// Severities, from the most to the least urgent.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Subjects that more than one invariant names.
const (
	// SubjectRedis is the subject of the invariants about Redis as a whole.
	SubjectRedis = "redis"
	// SubjectKey says that an invariant's subjects are counter keys.
	SubjectKey = "key"
	// SubjectCluster is the subject of the invariants about the cluster's
	// traffic as a whole.
	SubjectCluster = "cluster"
)

// Builtin returns the invariants observerd judges, in evaluation order. The
// slice and its declarations are new on every call.
func Builtin() []Invariant {
	return []Invariant{
		nodeDown(), redisDisconnected(), highLatency(), overLimit(), ghostAllowing(),
		counterDrift(), counterWithoutTTL(), sequenceKeyLeak(), sourceStale(),
		redisSlow(), clockSkew(), ttlBeyondWindow(), hotKey(), overThrottling(), failOpen(),
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
