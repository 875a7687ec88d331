package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func redisDisconnected() Invariant {
	return Invariant{
		Name:     "redis_disconnected",
		Severity: SeverityCritical,
		Sources:  []string{source.Redis},
		Subject:  "`" + SubjectRedis + "`",
		Help:     "Redis does not answer",
		Alert: Alert{For: time.Minute, Description: `observerd {{ $labels.instance }} reports that Redis
({{ $labels.subject }}) does not answer.`},
		Check: checkRedisDisconnected,
	}
}

// checkRedisDisconnected: Redis does not answer. The redis source's last
// poll failed, or the poll succeeded but Redis reported itself not
// connected. Unknown before the first poll has finished.
func checkRedisDisconnected(v *View, _ Setting) Verdict {
	st, ok := v.snap.Sources[source.Redis]
	if !ok || st.Status == snapshot.StatusPending {
		return Verdict{Unknown: v.staleReason(source.Redis)}
	}
	var msg string
	switch {
	case st.Status != snapshot.StatusOK:
		msg = "redis does not answer: source is " + st.Status
		if st.ConsecutiveFailures > 0 {
			msg += fmt.Sprintf(" after %d consecutive failures", st.ConsecutiveFailures)
		}
		if st.Error != "" {
			msg += ": " + truncate(st.Error)
		}
	case !v.snap.Redis.Connected:
		msg = "redis reports itself not connected"
	default:
		return Verdict{}
	}
	return Verdict{Findings: []Finding{{
		Subject: SubjectRedis, Message: msg,
		Evidence: []snapshot.Evidence{
			ev(source.Redis, v.readAt(source.Redis), "consecutive failed polls", float64(st.ConsecutiveFailures)),
		},
		Causes: []string{
			"redis-server stopped, crashed or is restarting: its service manager, its log (OOM killer, a failed save)",
			"Redis is frozen (paused, swapping, a long blocking command): redis-cli --latency, SLOWLOG GET",
			"the network or the address between observerd and Redis (OBSERVERD_REDIS_URL, a failover to another address)",
			"Redis refuses observerd: maxclients reached, a changed password or ACL (the error above says which)",
		},
	}}}
}
