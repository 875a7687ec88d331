package health

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/source"
)

func sourceStale() Invariant {
	return Invariant{
		Name:      "source_stale",
		Severity:  SeverityWarning,
		Sources:   source.All(),
		Subject:   "source",
		Help:      "a source has not succeeded for `OBSERVERD_STALE_AFTER` (default: 3 of its poll intervals)",
		GraceHelp: "grace period after OBSERVERD_STALE_AFTER",
		Alert: Alert{For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} reports that source
{{ $labels.subject }} has not succeeded for longer than its
staleness threshold.`},
		Check: checkSourceStale,
	}
}

// checkSourceStale: an enabled source has not succeeded for longer than its
// bound. A source that never succeeded counts from when the evaluator first
// saw it enabled. Never unknown: it judges the sources themselves.
func checkSourceStale(v *View, _ Setting) Verdict {
	var vd Verdict
	for _, src := range slices.Sorted(maps.Keys(v.enabled)) {
		bound, ok := v.mem.staleAfter[src]
		if !ok {
			continue
		}
		st := v.snap.Sources[src]
		var msg string
		switch {
		case st.LastSuccess == nil:
			age := v.now.Sub(v.mem.watching[src])
			if age <= bound {
				continue
			}
			msg = fmt.Sprintf("source %q has not succeeded once in %s, above its bound of %s",
				src, age.Round(time.Millisecond), bound)
		default:
			age := v.now.Sub(*st.LastSuccess)
			if age <= bound {
				continue
			}
			msg = fmt.Sprintf("source %q last succeeded %s ago, above its bound of %s",
				src, age.Round(time.Millisecond), bound)
		}
		if st.Error != "" {
			msg += ": " + truncate(st.Error)
		}
		f := Finding{Subject: src, Message: msg, Causes: staleCauses(src)}
		f.Evidence = append(f.Evidence, ev(src, v.now, "consecutive failed polls", float64(st.ConsecutiveFailures)))
		if st.LastSuccess != nil {
			f.Evidence = append(f.Evidence, ev(src, *st.LastSuccess, "seconds since its last success", v.now.Sub(*st.LastSuccess).Seconds()))
		}
		vd.Findings = append(vd.Findings, f)
	}
	return vd
}

// staleCauses are the likely causes of a source not answering in time.
func staleCauses(src string) []string {
	common := "observerd's poll timeout is too short for the source's answers (OBSERVERD_POLL_TIMEOUT; the source's duration_ms in /snapshot)"
	switch src {
	case source.Redis:
		return []string{"Redis does not answer or answers too slowly (redis_disconnected, redis_slow)",
			"the walk of a very large keyspace does not finish within the poll timeout (counters.keys; OBSERVERD_REDIS_WALK_MAX_KEYS_PER_SECOND)",
			"the walk lease's holder stopped sharing its walks (counters.walked_by)", common}
	case source.Prometheus:
		return []string{"Prometheus is down, restarting or overloaded: its /-/healthy and /-/ready",
			"a query fails or answers implausible figures (the source's error, sources.prometheus.errors)", common}
	default:
		return []string{"every node is down or unreachable from observerd (node_down)",
			"the nodes answer too slowly (high_latency, their health_latency_ms)", common}
	}
}
