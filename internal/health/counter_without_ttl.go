package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func counterWithoutTTL() Invariant {
	return Invariant{
		Name:     "counter_without_ttl",
		Severity: SeverityWarning,
		Sources:  []string{source.Redis},
		Subject:  SubjectKey,
		Help:     "a counter sorted set has no TTL",
		Alert: Alert{Counted: true, For: 15 * time.Minute, Description: `observerd {{ $labels.instance }} counts {{ $value }} counter
sorted set(s) without a TTL; they will never expire.`},
		Check: checkWithoutTTL,
	}
}

// checkWithoutTTL: a counter sorted set has no TTL and will never expire.
func checkWithoutTTL(v *View, _ Setting) Verdict {
	return v.redisVerdict(func(r *snapshot.RedisSection) []Finding {
		var fs []Finding
		for _, k := range r.WithoutTTL {
			fs = append(fs, Finding{
				Subject: k,
				Message: fmt.Sprintf("counter key %q has no TTL, so it never expires (%d keys without TTL in all)",
					k, r.Counters.KeysWithoutTTL),
			})
		}
		return fs
	})
}
