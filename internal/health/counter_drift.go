package health

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func counterDrift() Invariant {
	return Invariant{
		Name:     "counter_drift",
		Severity: SeverityWarning,
		Sources:  []string{source.Ratelimiter, source.Redis},
		Subject:  "node, or `node-a/node-b`",
		Help:     "a node's count of a key lies outside Redis's counts read just before and just after it (or another node's), by more than `OBSERVERD_COUNTER_DRIFT_THRESHOLD`, for `OBSERVERD_COUNTER_DRIFT_GRACE`",
		Grace:    30 * time.Second,
		Threshold: &Threshold{
			Default: int64(5),
			Help:    "largest tolerated difference between a node's count and Redis's, or between nodes",
		},
		Alert: Alert{Counted: true, For: 10 * time.Minute, Description: `observerd {{ $labels.instance }} counts {{ $value }} key(s) whose
count in a node's API differs from Redis, or between nodes, by
more than the threshold.`},
		Check: checkCounterDrift,
	}
}

// checkCounterDrift: a node's API count for a key differs from Redis by more
// than the threshold, or two nodes disagree on a key by more than it.
//
// Like is compared with like: a key's count changes while it is read, by
// hundreds a second on a hot key, so a node's reading (taken between two
// known instants) is compared with two readings of the other side, the last
// one finished before it began and the first one begun after it finished,
// and drifts only when it lies outside both by more than the threshold.
// The newest reading of each node that two readings of the other side
// bracket is judged; a node without one is undecided. Readings that do not
// say when they were taken count as taken at the evaluation.
//
// Subjects stay few: one per node for node-versus-Redis drift, one per pair
// of nodes ("node-a/node-b"); the message names how many keys drift and the
// worst of them. Only keys in a node's sample (/api/counters) are compared,
// with Redis only when Redis counted them (RedisSection.KeyCounts). Unknown
// when the ratelimiter source, or the redis source when enabled, is not
// fresh.
func checkCounterDrift(v *View, s Setting) Verdict {
	if !v.enabled[source.Ratelimiter] {
		return Verdict{Skip: true}
	}
	if r := v.staleReason(source.Ratelimiter); r != "" {
		return Verdict{Unknown: r}
	}
	if v.nodes == nil {
		return Verdict{Unknown: "ratelimiter source has no data yet"}
	}
	redisOn := v.enabled[source.Redis]
	if redisOn {
		if r := v.redisReady(); r != "" {
			return Verdict{Unknown: r}
		}
	}
	rd := &v.mem.readings
	limit := s.Count()
	subjects := slices.Sorted(maps.Keys(rd.nodeCount))
	var vd Verdict
	if redisOn {
		v.driftFromRedis(&vd, subjects, limit)
	}
	for i, a := range subjects {
		for _, b := range subjects[i+1:] {
			pair := a + "/" + b
			j, ok := bracket(rd.nodeCount[a], rd.nodeCount[b], limit)
			if !ok {
				vd.Undecided = append(vd.Undecided, pair)
				continue
			}
			if j.drifting == 0 {
				continue
			}
			vd.Findings = append(vd.Findings, Finding{
				Subject: pair,
				Message: fmt.Sprintf("nodes %q and %q: %d of %d keys sampled by both differ by more than %d; worst: key %q counts %d on %q, %d and %d on %q just before and after",
					a, b, j.drifting, j.compared, limit, j.worst, j.count, a, j.before, j.after, b),
				Evidence: j.evidence(a, b),
				Causes:   driftCauses(v, a),
			})
		}
	}
	return vd
}

// driftFromRedis judges each node's newest bracketed reading against
// Redis's.
func (v *View) driftFromRedis(vd *Verdict, subjects []string, limit int64) {
	rd := &v.mem.readings
	for _, subject := range subjects {
		j, ok := bracket(rd.nodeCount[subject], rd.redisCount, limit)
		if !ok {
			vd.Undecided = append(vd.Undecided, subject)
			continue
		}
		if j.drifting == 0 {
			continue
		}
		vd.Findings = append(vd.Findings, Finding{
			Subject: subject,
			Message: fmt.Sprintf("node %q: %d of %d sampled keys differ from redis by more than %d; worst: key %q counts %d on the node, %d and %d in redis just before and after",
				subject, j.drifting, j.compared, limit, j.worst, j.count, j.before, j.after),
			Evidence: j.evidence(subject, source.Redis),
			Causes:   driftCauses(v, subject),
		})
	}
}

// judged is one reading compared with the two readings bracketing it.
type judged struct {
	reading, first, second countsReading
	compared, drifting     int
	worst                  string
	count, before, after   int64
}

// bracket compares the newest reading of ours that two readings of theirs
// bracket (one finished before it began, one begun after it finished) with
// them: a key drifts when our count is below both of theirs, or above both,
// by more than limit. ok is false when no reading of ours is bracketed.
func bracket(ours, theirs []countsReading, limit int64) (judged, bool) {
	for i := len(ours) - 1; i >= 0; i-- {
		o := ours[i]
		first, second := -1, -1
		for k, t := range theirs {
			if !t.read.End.After(o.read.Start) {
				first = k
			}
			if second < 0 && !t.read.Start.Before(o.read.End) {
				second = k
			}
		}
		if first < 0 || second < 0 {
			continue
		}
		j := judged{reading: o, first: theirs[first], second: theirs[second]}
		var worstBy int64 = -1
		for _, key := range slices.Sorted(maps.Keys(o.counts)) {
			c := o.counts[key]
			b, ok1 := j.first.counts[key]
			a, ok2 := j.second.counts[key]
			if !ok1 || !ok2 {
				continue
			}
			j.compared++
			by := max(min(a, b)-c, c-max(a, b))
			if by <= limit {
				continue
			}
			j.drifting++
			if by > worstBy {
				worstBy, j.worst, j.count, j.before, j.after = by, key, c, b, a
			}
		}
		return j, true
	}
	return judged{}, false
}

// evidence is the worst key's three readings.
func (j judged) evidence(ours, theirs string) []snapshot.Evidence {
	what := "count of key " + j.worst
	return []snapshot.Evidence{
		ev(theirs, j.first.read.End, what+", just before", float64(j.before)),
		ev(ours, j.reading.read.End, what, float64(j.count)),
		ev(theirs, j.second.read.Start, what+", just after", float64(j.after)),
		ev(SourceObserverd, j.reading.read.End, "sampled keys drifting", float64(j.drifting)),
	}
}

// driftCauses orders the likely causes of a node's drift: those the
// snapshot points to first (a clock off, another default window), then the
// usual ones, then those it does not point to.
func driftCauses(v *View, node string) []string {
	var first, last []string
	add := func(cond bool, cause string) {
		if cond {
			first = append(first, cause)
		} else {
			last = append(last, cause)
		}
	}
	skewed, otherWindow := false, false
	if v.nodes != nil {
		for _, n := range v.nodes.Nodes {
			if n.Name() != node {
				continue
			}
			if v.redis != nil && n.Clock.Valid() && v.redis.Clock.Valid() {
				lo, hi := skewBounds(n.Clock, v.redis.Clock)
				skewed = lo > time.Second || hi < -time.Second
			}
			if v.redis != nil && n.Limits != nil && v.redis.DefaultWindow > 0 {
				otherWindow = n.Limits.DefaultWindow != v.redis.DefaultWindow
			}
		}
	}
	future := false
	if v.redis != nil {
		for _, s := range v.redis.Sampled {
			future = future || s.Future > 0
		}
	}
	add(skewed || future, "the node's clock is off (clock_skew): it counts over a window shifted from Redis's, and its entries may be scored in the future; compare date -u on its host with redis-cli TIME")
	add(otherWindow, "the node's default window differs from the one observerd judges by: compare its /api/limits with the others'")
	usual := []string{
		"the node counts on another Redis (a wrong RATELIMITER_REDIS_URL, or a failover that left it on the old primary): compare its /api/counters with ZCOUNT on the Redis observerd reads, and CLIENT LIST on both",
		"the node or observerd reads a replica that lags its primary: INFO replication, master_repl_offset against the replica's offset",
	}
	return append(append(first, usual...), last...)
}
