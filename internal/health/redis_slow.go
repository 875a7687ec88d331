package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/source"
)

func redisSlow() Invariant {
	return Invariant{
		Name:     "redis_slow",
		Severity: SeverityWarning,
		Sources:  []string{source.Redis},
		Subject:  "`" + SubjectRedis + "`",
		Help:     "more than a quarter of Redis's round trips (PING, the walk's batches) over the last 10 s are above `OBSERVERD_REDIS_SLOW_THRESHOLD`, for `OBSERVERD_REDIS_SLOW_GRACE`",
		Grace:    30 * time.Second,
		Threshold: &Threshold{
			Default:  50 * time.Millisecond,
			Positive: true,
			Help:     "Redis round trip above which Redis is slow",
		},
		Alert: Alert{For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} reports that Redis answers slowly:
its round trip is above the threshold.`},
		Check: checkRedisSlow,
	}
}

// checkRedisSlow: more than a quarter of the Redis round trips of the
// last latencySpan (each poll's PING, and the median round trip of the
// walk's batches) are above the threshold. A Redis that stalls again and
// again delays many of them, though not all: the commands queued behind a
// stall run in the pause after it. A late answer now and then, which a
// busy observer host makes as well as a slow Redis, is not enough. Unknown
// while the redis source is not fresh.
func checkRedisSlow(v *View, s Setting) Verdict {
	if r := v.redisReady(); r != "" {
		return Verdict{Unknown: r}
	}
	limit := s.Duration()
	var trips, slow int
	var worst time.Duration
	var f Finding
	count := func(at time.Time, d time.Duration, what string) {
		if d <= 0 {
			return
		}
		trips++
		worst = max(worst, d)
		if d > limit {
			slow++
			f.Evidence = append(f.Evidence, ev(source.Redis, at, what, millis(d)))
		}
	}
	for _, l := range v.mem.readings.latency {
		count(l.at, l.ping, "PING round trip (ms)")
		count(l.at, l.walk, "median round trip of the walk's batches (ms)")
	}
	if 4*slow <= trips {
		return Verdict{}
	}
	f.Evidence = append(lastN(f.Evidence, 6),
		ev(SourceObserverd, v.now, fmt.Sprintf("round trips of the last %s above the threshold, of %d", latencySpan, trips), float64(slow)))
	f.Subject = SubjectRedis
	f.Message = fmt.Sprintf("%d of the %d redis round trips of the last %s took longer than the threshold of %s (worst %s)",
		slow, trips, latencySpan, limit, worst.Round(time.Microsecond))
	f.Causes = []string{
		"a slow command blocks Redis, which runs one command at a time: read SLOWLOG GET 20 (KEYS, a large ZRANGE, a long Lua script, DEBUG SLEEP)",
		"a fork for persistence (BGSAVE, AOF rewrite) on a large dataset: INFO persistence, latest_fork_usec",
		"Redis is short of CPU or memory (swapping, evictions near maxmemory): INFO cpu, INFO memory, the host's load",
		"the network between observerd and Redis: compare redis-cli --latency from a rate limiter node's host",
	}
	return Verdict{Findings: []Finding{f}}
}
