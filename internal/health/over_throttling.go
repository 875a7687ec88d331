package health

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// recentSpan is the window of the recent rates over_throttling judges, the
// built-in recent queries' window.
const recentSpan = 30 * time.Second

func overThrottling() Invariant {
	return Invariant{
		Name:     "over_throttling",
		Severity: SeverityWarning,
		Sources:  []string{source.Redis, source.Prometheus},
		Subject:  "`" + SubjectCluster + "`",
		Help:     "the cluster blocks at least `OBSERVERD_OVER_THROTTLING_THRESHOLD` of its checks (last 30 s) while its keys at their own limit account for less than half of the blocked checks",
		Grace:    30 * time.Second,
		Threshold: &Threshold{
			Default:  0.5,
			Positive: true,
			Max:      1.0,
			Help:     "share of the cluster's checks blocked (0 to 1) from which the blocks are explained or reported",
		},
		Alert: Alert{For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} reports that the cluster blocks far
more checks than its keys at their limits explain.`},
		Check: checkOverThrottling,
	}
}

// checkOverThrottling: over the recent window the cluster blocks at least
// the threshold's share of its checks, and the keys Redis shows at their
// own limit (the only keys a check may block) account for less than half
// of the blocked checks by their own check rates (their sequences' rise),
// or no key is at its limit at all. Blocks nobody's limit explains come
// from limits observerd does not know (a limit sent in the requests, a
// node's lower default) or from nodes that count wrong.
//
// Without sequences that count every check (see seqCountsChecks) the keys
// at their limit cannot be weighed: only blocks while no key is at its
// limit are reported. Keys at their limit beyond the sample are not
// weighed either, and then nothing is reported.
func checkOverThrottling(v *View, s Setting) Verdict {
	p, unjudged, ok := v.redisAndTraffic()
	if !ok {
		return unjudged
	}
	if !p.AllowedRecent.Valid() || !p.BlockedRecent.Valid() || !p.AllowedPerSecond.Valid() {
		return Verdict{}
	}
	allowed, blocked := float64(p.AllowedRecent), float64(p.BlockedRecent)
	total := allowed + blocked
	if total < minClusterRate || blocked/total < s.Share() {
		return Verdict{}
	}
	rates := v.mem.readings.seqRates(recentSpan)
	checks := seqCountsChecks(rates, float64(p.AllowedPerSecond))
	atLimit := int64(v.redis.BlocksTotal)
	var explained float64
	var weighed int64
	var below []string
	for _, key := range slices.Sorted(maps.Keys(rates)) {
		r := rates[key]
		// At its limit at a reading of the span, as Redis counts
		// BlocksTotal (a limit of 0 included): a key whose window moved on,
		// or that was reset, still explains the blocks counted before.
		if r.atLimit {
			explained += r.rate
			weighed++
		} else if r.rate >= 1 {
			below = append(below, key)
		}
	}
	switch {
	case atLimit == 0 && weighed == 0:
	case !checks || weighed < atLimit || explained >= blocked/2:
		return Verdict{}
	}
	f := Finding{
		Subject: SubjectCluster,
		Message: fmt.Sprintf("the cluster blocks %.0f%% of its checks (%.1f/s of %.1f/s over the last %s), at or above the threshold of %.0f%%, yet its %d keys at their limit account for %.1f/s",
			100*blocked/total, blocked, total, recentSpan, 100*s.Share(), max(atLimit, weighed), explained),
		Evidence: []snapshot.Evidence{
			ev(source.Prometheus, v.promAt(), "cluster's allowed checks per second (30 s)", allowed),
			ev(source.Prometheus, v.promAt(), "cluster's blocked checks per second (30 s)", blocked),
			ev(source.Redis, v.redisAt(), "keys at or over their own limit", float64(atLimit)),
			ev(SourceObserverd, v.now, "checks per second of the keys at their limit (their :seq rise)", explained),
		},
		Causes: []string{
			"clients send a lower limit (or a longer window_ms) in their /check requests than the overrides and defaults observerd judges by: the keys below their known limit with many checks",
			"one node's default limit or window is stricter than the others': compare /api/limits of each node",
			"a node's clock is behind (clock_skew): it keeps counting entries the others have let go",
			"a node counts on another Redis holding stale counters (counter_drift)",
		},
	}
	nameBusiest(&f, below, rates)
	return Verdict{Findings: []Finding{f}}
}

// nameBusiest adds to f the busiest keys below their limit: the likeliest
// to be limited by a limit observerd does not know.
func nameBusiest(f *Finding, below []string, rates map[string]keyRate) {
	if len(below) == 0 {
		return
	}
	slices.SortFunc(below, func(a, b string) int { return cmp.Compare(rates[b].rate, rates[a].rate) })
	var parts []string
	for _, key := range below[:min(len(below), 3)] {
		r := rates[key]
		parts = append(parts, fmt.Sprintf("%q (%d of its limit %d, %.1f checks/s)", key, r.last.count, r.last.limit, r.rate))
		f.Evidence = append(f.Evidence, ev(source.Redis, r.last.at, "checks per second of key "+key+", below its limit", r.rate))
	}
	f.Message += "; keys below their limit taking many checks: " + strings.Join(parts, ", ")
}
