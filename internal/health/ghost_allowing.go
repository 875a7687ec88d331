package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func ghostAllowing() Invariant {
	return Invariant{
		Name:     "ghost_allowing",
		Severity: SeverityWarning,
		Sources:  []string{source.Redis},
		Subject:  SubjectKey,
		Help:     "a key's limit is 0, yet it has requests in its window",
		Alert: Alert{Counted: true, For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} counts {{ $value }} key(s) with a
limit of 0 that still show remaining capacity or allowed requests.`},
		Check: checkGhostAllowing,
	}
}

// checkGhostAllowing: a key's limit is 0 yet requests are counted in its
// window, so something still allows it.
func checkGhostAllowing(v *View, _ Setting) Verdict {
	at := v.redisAt()
	return v.redisVerdict(func(r *snapshot.RedisSection) []Finding {
		var fs []Finding
		for _, b := range r.ZeroLimitActive {
			fs = append(fs, Finding{
				Subject: b.Key,
				Message: fmt.Sprintf("key %q has a limit of %d yet counts %d requests in its window",
					b.Key, b.Limit, b.Count),
				Evidence: []snapshot.Evidence{
					ev(source.Redis, at, "entries in its window", float64(b.Count)),
					ev(source.Redis, at, "its own limit", float64(b.Limit)),
				},
				Causes: []string{
					"the limit of 0 is an override the nodes do not enforce (/check applies the request's limit or the node default): the override hash ratelimit:limit:" + b.Key,
					"the entries predate the limit of 0: they age out within the window",
					"entries were written behind the nodes' back: MONITOR",
				},
			})
		}
		return fs
	})
}
