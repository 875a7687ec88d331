package health

import (
	"fmt"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/source"
)

func redisSlow() Invariant {
	return Invariant{
		Name:     "redis_slow",
		Severity: SeverityWarning,
		Sources:  []string{source.Redis},
		Subject:  "`" + SubjectRedis + "`",
		Help:     "the median of Redis's round trips (PING, the walk's batches) over the last 10 s is above `OBSERVERD_REDIS_SLOW_THRESHOLD`, for `OBSERVERD_REDIS_SLOW_GRACE`",
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

// checkRedisSlow: the median of the Redis round trips of the last
// latencySpan (each poll's PING, and the median round trip of the walk's
// batches) is above the threshold. A Redis that stalls again and again is
// slow for most of them; one late answer, which a busy observer host makes
// as well as a slow Redis, is not enough. Unknown while the redis source is
// not fresh.
func checkRedisSlow(v *View, s Setting) Verdict {
	if r := v.redisReady(); r != "" {
		return Verdict{Unknown: r}
	}
	limit := s.Duration()
	var trips []time.Duration
	var f Finding
	for _, l := range v.mem.readings.latency {
		if l.ping > 0 {
			trips = append(trips, l.ping)
		}
		if l.ping > limit {
			f.Evidence = append(f.Evidence, ev(source.Redis, l.at, "PING round trip (ms)", millis(l.ping)))
		}
		if l.walk > 0 {
			trips = append(trips, l.walk)
		}
		if l.walk > limit {
			f.Evidence = append(f.Evidence, ev(source.Redis, l.at, "median round trip of the walk's batches (ms)", millis(l.walk)))
		}
	}
	if len(trips) == 0 {
		return Verdict{}
	}
	slices.Sort(trips)
	median := trips[len(trips)/2]
	if median <= limit {
		return Verdict{}
	}
	worst := trips[len(trips)-1]
	f.Evidence = append(lastN(f.Evidence, 6),
		ev(SourceObserverd, v.now, fmt.Sprintf("median of the %d round trips of the last %s (ms)", len(trips), latencySpan), millis(median)))
	f.Subject = SubjectRedis
	f.Message = fmt.Sprintf("redis round trips of the last %s have a median of %s (worst %s), above the threshold of %s",
		latencySpan, median.Round(time.Microsecond), worst.Round(time.Microsecond), limit)
	f.Causes = []string{
		"a slow command blocks Redis, which runs one command at a time: read SLOWLOG GET 20 (KEYS, a large ZRANGE, a long Lua script, DEBUG SLEEP)",
		"a fork for persistence (BGSAVE, AOF rewrite) on a large dataset: INFO persistence, latest_fork_usec",
		"Redis is short of CPU or memory (swapping, evictions near maxmemory): INFO cpu, INFO memory, the host's load",
		"the network between observerd and Redis: compare redis-cli --latency from a rate limiter node's host",
	}
	return Verdict{Findings: []Finding{f}}
}
