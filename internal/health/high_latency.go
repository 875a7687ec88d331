package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func highLatency() Invariant {
	return Invariant{
		Name:     "high_latency",
		Severity: SeverityWarning,
		Sources:  []string{source.Prometheus},
		Subject:  "node",
		Help:     "a node's check latency P99 is above `OBSERVERD_HIGH_LATENCY_THRESHOLD` for `OBSERVERD_HIGH_LATENCY_GRACE`",
		Grace:    time.Minute,
		Threshold: &Threshold{
			Default:  100 * time.Millisecond,
			Positive: true,
			Help:     "check latency P99 above which a node is slow",
		},
		Alert: Alert{For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} reports the check latency P99 of
{{ if eq $labels.subject "other" }}{{ $value }} more nodes{{ else }}node {{ $labels.subject }}{{ end }}
above its threshold.`},
		Check: checkHighLatency,
	}
}

// checkHighLatency: a node's check-latency P99, from Prometheus, is above
// the threshold. Nodes without a valid figure are not judged.
func checkHighLatency(v *View, s Setting) Verdict {
	if r := v.staleReason(source.Prometheus); r != "" {
		return Verdict{Unknown: r}
	}
	limit := s.Duration()
	var vd Verdict
	for _, n := range v.snap.Nodes {
		p99 := n.CheckLatencyP99.Duration
		if !n.CheckLatencyP99.Valid || p99 <= limit {
			continue
		}
		vd.Findings = append(vd.Findings, Finding{
			Subject: n.Name(),
			Message: fmt.Sprintf("node %q check latency p99 is %s, above the threshold of %s",
				n.Name(), p99.Round(time.Microsecond), limit),
			Evidence: []snapshot.Evidence{
				ev(source.Prometheus, v.promAt(), "check latency p99 (ms)", millis(p99)),
				ev(source.Redis, v.redisAt(), "observerd's PING to Redis (ms)", millis(v.snap.Redis.Ping.Duration)),
			},
			Causes: []string{
				"Redis is slow for every node (redis_slow, SLOWLOG GET): then every node's latency rises together",
				"the node's link to Redis is slow or saturated (a remote Redis, a busy network): redis-cli --latency from its host",
				"the node itself is short of CPU or threads (its host's load, its worker count)",
				"a few very hot keys make the check script's ZREMRANGEBYSCORE slow on large sorted sets (hot_key, the top keys' counts)",
			},
		})
	}
	return vd
}
