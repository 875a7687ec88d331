package health

import (
	"cmp"
	"fmt"
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
		Help:     "a node's count of a key differs from Redis's, or from another node's, by more than `OBSERVERD_COUNTER_DRIFT_THRESHOLD` for `OBSERVERD_COUNTER_DRIFT_GRACE`",
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
// Subjects stay few: one per node for node-versus-Redis drift, one per pair
// of nodes ("node-a/node-b") for node-versus-node drift; the message names
// how many keys drift and the worst of them. Only keys in a node's sample
// (/api/counters) are compared, with Redis only when Redis counted them
// (RedisSection.KeyCounts). The samples and the Redis counts are taken at
// slightly different times, which the threshold and the grace period absorb.
// Unknown when the ratelimiter source, or the redis source when enabled, is
// not fresh.
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
	samples := nodeSamples(v.nodes)
	limit := s.Count()
	var vd Verdict
	if redisOn {
		for _, s := range samples {
			d := compare(s.counts, v.redis.KeyCounts, limit)
			if d.drifting == 0 {
				continue
			}
			vd.Findings = append(vd.Findings, Finding{
				Subject: s.subject,
				Message: fmt.Sprintf("node %q: %d of %d sampled keys differ from redis by more than %d; worst: key %q counts %d on the node, %d in redis",
					s.subject, d.drifting, d.compared, limit, d.worstKey, d.worstA, d.worstB),
			})
		}
	}
	for i, a := range samples {
		for _, b := range samples[i+1:] {
			d := compare(a.counts, b.counts, limit)
			if d.drifting == 0 {
				continue
			}
			vd.Findings = append(vd.Findings, Finding{
				Subject: a.subject + "/" + b.subject,
				Message: fmt.Sprintf("nodes %q and %q: %d of %d keys sampled by both differ by more than %d; worst: key %q counts %d on %q, %d on %q",
					a.subject, b.subject, d.drifting, d.compared, limit, d.worstKey, d.worstA, a.subject, d.worstB, b.subject),
			})
		}
	}
	return vd
}

// sample is one node's /api/counters answer as key -> count.
type sample struct {
	subject string
	counts  map[string]int64
}

// nodeSamples collects the samples of the nodes whose /api/counters
// answered, sorted by subject and one per subject.
func nodeSamples(ns *snapshot.NodesSection) []sample {
	var out []sample
	seen := make(map[string]bool)
	for _, r := range ns.Nodes {
		subject := r.Name()
		// A nil sample means the endpoint failed and says nothing.
		if r.Counters == nil || seen[subject] {
			continue
		}
		seen[subject] = true
		counts := make(map[string]int64, len(r.Counters))
		for _, c := range r.Counters {
			counts[c.Key] = c.Count
		}
		out = append(out, sample{subject: subject, counts: counts})
	}
	slices.SortFunc(out, func(a, b sample) int { return cmp.Compare(a.subject, b.subject) })
	return out
}

// drift summarises the comparison of two sets of counts.
type drift struct {
	compared, drifting int
	worstKey           string
	worstA, worstB     int64
}

// compare counts the keys present in both a and b whose counts differ by
// more than limit, and finds the worst (ties go to the smallest key, so the
// message does not flap).
func compare(a, b map[string]int64, limit int64) drift {
	var d drift
	var worst int64 = -1
	for k, ca := range a {
		cb, ok := b[k]
		if !ok {
			continue
		}
		d.compared++
		diff := ca - cb
		if diff < 0 {
			diff = -diff
		}
		if diff <= limit {
			continue
		}
		d.drifting++
		if diff > worst || (diff == worst && k < d.worstKey) {
			worst, d.worstKey, d.worstA, d.worstB = diff, k, ca, cb
		}
	}
	return d
}
