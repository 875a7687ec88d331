package health

import (
	"fmt"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// The Redis-based invariants read the last good Redis section and keep no
// verdict from stale data: while the redis source is not fresh they are
// unknown.

// redisVerdict runs judge when the Redis-based invariants can be judged.
func redisVerdict(v *view, judge func(*snapshot.RedisSection) []finding) verdict {
	if !v.enabled[source.Redis] {
		return verdict{skip: true}
	}
	if r := v.redisReady(); r != "" {
		return verdict{unknown: r}
	}
	return verdict{findings: judge(v.redis)}
}

// checkOverLimit: a key's in-window count is above its own limit.
func (e *Evaluator) checkOverLimit(v *view) verdict {
	return redisVerdict(v, func(r *snapshot.RedisSection) []finding {
		var fs []finding
		for _, b := range r.OverLimit {
			if b.Limit <= 0 || b.Count <= b.Limit {
				continue
			}
			fs = append(fs, finding{
				subject: b.Key,
				message: fmt.Sprintf("key %q counts %d requests in its window, over its limit of %d",
					b.Key, b.Count, b.Limit),
			})
		}
		return fs
	})
}

// checkGhostAllowing: a key's limit is 0 yet requests are counted in its
// window, so something still allows it.
func (e *Evaluator) checkGhostAllowing(v *view) verdict {
	return redisVerdict(v, func(r *snapshot.RedisSection) []finding {
		var fs []finding
		for _, b := range r.ZeroLimitActive {
			fs = append(fs, finding{
				subject: b.Key,
				message: fmt.Sprintf("key %q has a limit of %d yet counts %d requests in its window",
					b.Key, b.Limit, b.Count),
			})
		}
		return fs
	})
}

// checkWithoutTTL: a counter sorted set has no TTL and will never expire.
func (e *Evaluator) checkWithoutTTL(v *view) verdict {
	return redisVerdict(v, func(r *snapshot.RedisSection) []finding {
		var fs []finding
		for _, k := range r.WithoutTTL {
			fs = append(fs, finding{
				subject: k,
				message: fmt.Sprintf("counter key %q has no TTL, so it never expires (%d keys without TTL in all)",
					k, r.Counters.KeysWithoutTTL),
			})
		}
		return fs
	})
}

// checkSequenceLeak: orphan sequence keys exceed the threshold.
func (e *Evaluator) checkSequenceLeak(v *view) verdict {
	limit := e.cfg.SequenceKeyLeak.Threshold
	return redisVerdict(v, func(r *snapshot.RedisSection) []finding {
		n := r.Counters.OrphanSequenceKeys
		if n <= limit {
			return nil
		}
		return []finding{{
			subject: SubjectRedis,
			message: fmt.Sprintf("%d orphan sequence keys (no sorted set left), above the threshold of %d", n, limit),
		}}
	})
}
