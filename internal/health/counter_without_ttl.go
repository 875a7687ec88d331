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
	at := v.redisAt()
	return v.redisVerdict(func(r *snapshot.RedisSection) []Finding {
		var fs []Finding
		for _, k := range r.WithoutTTL {
			fs = append(fs, Finding{
				Subject: k,
				Message: fmt.Sprintf("counter key %q has no TTL, so it never expires (%d keys without TTL in all)",
					k, r.Counters.KeysWithoutTTL),
				Evidence: []snapshot.Evidence{
					ev(source.Redis, at, "PTTL of the key (ms; -1: none)", -1),
					ev(source.Redis, at, "counter keys without TTL", float64(r.Counters.KeysWithoutTTL)),
				},
				Causes: []string{
					"a PERSIST, or a write that drops the TTL (SET, a RENAME onto it, a restore), ran on the key: MONITOR, the ACL log",
					"a node's check script failed between its ZADD and its EXPIRE (a script error, a timeout): the nodes' logs",
					"a restore or a migration copied the key without its TTL",
				},
			})
		}
		return fs
	})
}
