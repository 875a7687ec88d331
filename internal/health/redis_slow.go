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
		Help:     "Redis's round trip (PING, or the median batch of the walk) reached `OBSERVERD_REDIS_SLOW_THRESHOLD` in the last 10 s, for `OBSERVERD_REDIS_SLOW_GRACE`",
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

// checkRedisSlow: the worst Redis round trip of the last latencySpan (each
// poll's PING, and the median round trip of the walk's batches) is above
// the threshold. A Redis that stalls now and then is judged slow for as long
// as its stalls keep coming. Unknown while the redis source is not fresh.
func checkRedisSlow(v *View, s Setting) Verdict {
	if r := v.redisReady(); r != "" {
		return Verdict{Unknown: r}
	}
	limit := s.Duration()
	var worst time.Duration
	var f Finding
	for _, l := range v.mem.readings.latency {
		worst = max(worst, l.ping, l.walk)
		if l.ping > limit {
			f.Evidence = append(f.Evidence, ev(source.Redis, l.at, "PING round trip (ms)", millis(l.ping)))
		}
		if l.walk > limit {
			f.Evidence = append(f.Evidence, ev(source.Redis, l.at, "median round trip of the walk's batches (ms)", millis(l.walk)))
		}
	}
	if worst <= limit {
		return Verdict{}
	}
	f.Subject = SubjectRedis
	f.Message = fmt.Sprintf("redis round trips reached %s in the last %s, above the threshold of %s",
		worst.Round(time.Microsecond), latencySpan, limit)
	f.Evidence = lastN(f.Evidence, 6)
	f.Causes = []string{
		"a slow command blocks Redis, which runs one command at a time: read SLOWLOG GET 20 (KEYS, a large ZRANGE, a long Lua script, DEBUG SLEEP)",
		"a fork for persistence (BGSAVE, AOF rewrite) on a large dataset: INFO persistence, latest_fork_usec",
		"Redis is short of CPU or memory (swapping, evictions near maxmemory): INFO cpu, INFO memory, the host's load",
		"the network between observerd and Redis: compare redis-cli --latency from a rate limiter node's host",
	}
	return Verdict{Findings: []Finding{f}}
}
