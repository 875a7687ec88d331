package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func clockSkew() Invariant {
	return Invariant{
		Name:     "clock_skew",
		Severity: SeverityWarning,
		Sources:  []string{source.Ratelimiter, source.Redis},
		Subject:  "node, or `" + SubjectRedis + "` for entries no node explains",
		Help:     "a node's clock (the `Date` of its answers) differs from Redis `TIME` by more than `OBSERVERD_CLOCK_SKEW_THRESHOLD`, or counter entries are scored that far in the future",
		Threshold: &Threshold{
			Default:  2 * time.Second,
			Positive: true,
			Help:     "largest tolerated difference between a node's clock and Redis's, and how far in the future an entry may be scored",
		},
		Alert: Alert{For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} reports a clock off Redis's TIME:
{{ if eq $labels.subject "redis" }}counter entries scored in the future{{ else if eq $labels.subject "other" }}{{ $value }} more nodes{{ else }}node {{ $labels.subject }}{{ end }}.`},
		Check: checkClockSkew,
	}
}

// FutureAfter is how far ahead of Redis's clock the Redis poller counts a
// sampled entry as scored in the future: clock_skew's threshold in s.
func FutureAfter(s Settings) time.Duration { return s.Of("clock_skew").Duration() }

// checkClockSkew: a node's clock, as the Date header of its /health answer
// shows it (to the second), is more than the threshold off Redis's TIME,
// both compared with observerd's clock at the moment of reading; or entries
// of the sampled keys are scored more than the threshold after Redis's
// clock. A node is reported only when even the most favourable reading of
// the two clocks (the Date's second, the round trips) is off by more than
// the threshold. Entries in the future are named on the nodes found ahead,
// or on redis when no node is. Unknown while the redis source is not fresh,
// or the ratelimiter source when enabled (no node can be judged, nor
// whether one explains the entries); not judged without redis.
func checkClockSkew(v *View, s Setting) Verdict {
	if !v.enabled[source.Redis] {
		return Verdict{Skip: true} // Redis's clock is the reference
	}
	if r := v.redisReady(); r != "" {
		return Verdict{Unknown: r}
	}
	if v.enabled[source.Ratelimiter] {
		if r := v.staleReason(source.Ratelimiter); r != "" {
			return Verdict{Unknown: r}
		}
	}
	limit := s.Duration()
	fut := futureEntries(v.redis, limit)
	var vd Verdict
	explained := false // the future entries were named on a node ahead
	if v.nodes != nil && v.redis.Clock.Valid() && v.enabled[source.Ratelimiter] {
		for _, n := range v.nodes.Nodes {
			if f, ahead, ok := v.nodeSkew(n, limit, fut); ok {
				explained = explained || (ahead && fut.entries > 0)
				vd.Findings = append(vd.Findings, f)
			}
		}
	}
	if fut.entries > 0 && !explained {
		vd.Findings = append(vd.Findings, Finding{
			Subject: SubjectRedis,
			Message: fmt.Sprintf("%d entries of %d sampled keys are scored up to %s after Redis's clock, beyond the threshold of %s; they count in their windows until Redis's clock passes them",
				fut.entries, fut.keys, fut.ahead.Round(time.Millisecond), limit),
			Evidence: []snapshot.Evidence{
				ev(source.Redis, v.redis.SampledAt, "entries scored beyond the threshold in the future", float64(fut.entries)),
				ev(source.Redis, v.redis.SampledAt, "keys holding them", float64(fut.keys)),
				ev(source.Redis, v.redis.SampledAt, "how far ahead the newest is scored (ms)", millis(fut.ahead)),
			},
			Causes: []string{
				"a node whose clock runs ahead writes them: compare each node's clock (date -u on its host, the Date of its answers) with redis-cli TIME",
				"a client or a script wrote entries with ZADD behind the nodes' back: MONITOR, the ACL log",
				"a node was restarted with a wrong clock and has since been fixed: the entries age out once Redis's clock passes them",
			},
		})
	}
	return vd
}

// nodeSkew judges one node's clock against Redis's: ok when even the most
// favourable reading of both is off by more than limit, ahead when the
// node's clock is ahead. The entries in the future are named on a node
// ahead.
func (v *View) nodeSkew(n snapshot.NodeReport, limit time.Duration, fut futureCount) (f Finding, ahead, ok bool) {
	if !n.Clock.Valid() {
		return Finding{}, false, false
	}
	redisClock := v.redis.Clock
	lo, hi := skewBounds(n.Clock, redisClock)
	var off time.Duration
	switch {
	case lo > limit:
		off = lo
	case hi < -limit:
		off = hi
	default:
		return Finding{}, false, false
	}
	dir := "ahead of"
	if off < 0 {
		dir = "behind"
	}
	f = Finding{
		Subject: n.Name(),
		Message: fmt.Sprintf("node %q's clock is at least %s %s Redis's TIME, above the threshold of %s",
			n.Name(), off.Abs().Round(time.Millisecond), dir, limit),
		Evidence: []snapshot.Evidence{
			ev(n.Name(), n.Clock.Read.End, "Date header of /health (Unix s)", float64(n.Clock.Clock.Unix())),
			ev(source.Redis, redisClock.Read.End, "TIME (Unix s)", float64(redisClock.Clock.UnixMicro())/1e6),
			ev(SourceObserverd, v.now, "node clock minus Redis clock, the least it can be (ms)", millis(off)),
		},
		Causes: skewCauses(off > 0),
	}
	if off > 0 && fut.entries > 0 {
		f.Message += fmt.Sprintf("; %d entries of %d sampled keys are scored up to %s in the future, as its checks write them",
			fut.entries, fut.keys, fut.ahead.Round(time.Millisecond))
		f.Evidence = append(f.Evidence, ev(source.Redis, v.redis.SampledAt, "entries scored beyond the threshold in the future", float64(fut.entries)))
	}
	return f, off > 0, true
}

// futureCount are the sampled entries scored in the future beyond a threshold.
type futureCount struct {
	entries, keys int64
	ahead         time.Duration
}

// futureEntries sums the sampled keys' entries scored more than limit after
// Redis's clock: how many, on how many keys, and the furthest ahead.
func futureEntries(r *snapshot.RedisSection, limit time.Duration) futureCount {
	var f futureCount
	for _, s := range r.Sampled {
		switch {
		case r.FutureAfter != limit:
			// Sampled with another margin (a reader of an older walk):
			// judge by how far ahead the newest entries are, one per key.
			if s.Ahead > limit {
				f.entries, f.keys, f.ahead = f.entries+1, f.keys+1, max(f.ahead, s.Ahead)
			}
		case s.Future > 0:
			f.entries, f.keys, f.ahead = f.entries+s.Future, f.keys+1, max(f.ahead, s.Ahead)
		}
	}
	return f
}

// skewCauses are the likely causes of a node's clock being off.
func skewCauses(ahead bool) []string {
	effect := "it prunes entries the others still count, and admits more than the limit"
	if ahead {
		effect = "its entries are scored in the future and count until Redis's clock passes them, and other nodes block keys they should admit"
	}
	return []string{
		"the node's host clock is not synchronised: timedatectl, chronyc tracking or ntpq -p on its host (" + effect + ")",
		"the node runs in a VM or container whose clock drifted after a pause or a migration: compare date -u on its host with redis-cli TIME",
		"the node's clock was set by hand or by a test setting (a clock offset)",
	}
}

// skewBounds bounds how far a node's clock is ahead of Redis's (behind when
// negative): between lo and hi, both read against observerd's clock.
func skewBounds(node, redis snapshot.ClockReading) (lo, hi time.Duration) {
	nLo, nHi := node.Offset()
	rLo, rHi := redis.Offset()
	return nLo - rHi, nHi - rLo
}
