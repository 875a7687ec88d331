package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func sequenceKeyLeak() Invariant {
	return Invariant{
		Name:     "sequence_key_leak",
		Severity: SeverityInfo,
		Sources:  []string{source.Redis},
		Subject:  "`" + SubjectRedis + "`",
		Help:     "orphan `:seq` keys exceed `OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD`",
		Threshold: &Threshold{
			Default: int64(10000),
			Help:    "orphan :seq keys above which it is reported",
		},
		Alert: Alert{For: time.Hour, Description: `observerd {{ $labels.instance }} reports more orphan :seq keys
than the threshold; they never expire and only grow.`},
		Check: checkSequenceLeak,
	}
}

// checkSequenceLeak: orphan sequence keys exceed the threshold.
func checkSequenceLeak(v *View, s Setting) Verdict {
	limit := s.Count()
	return v.redisVerdict(func(r *snapshot.RedisSection) []Finding {
		n := r.Counters.OrphanSequenceKeys
		if n <= limit {
			return nil
		}
		return []Finding{{
			Subject: SubjectRedis,
			Message: fmt.Sprintf("%d orphan sequence keys (no sorted set left), above the threshold of %d", n, limit),
			Evidence: []snapshot.Evidence{
				ev(source.Redis, v.redisAt(), "orphan :seq keys", float64(n)),
				ev(source.Redis, v.redisAt(), "counter keys", float64(r.Counters.Keys)),
			},
			Causes: []string{
				"the service never expires :seq keys (a known quirk): one stays behind for every key ever checked, most with short-lived keys (a fresh key per client or per request)",
				"counters were deleted without their :seq (a reset by hand, a script): the reset endpoint deletes both",
			},
		}}
	})
}
