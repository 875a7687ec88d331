package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func overLimit() Invariant {
	return Invariant{
		Name:     "over_limit",
		Severity: SeverityWarning,
		Sources:  []string{source.Redis},
		Subject:  SubjectKey,
		Help:     "a key's in-window count is above its own limit (limit > 0)",
		Alert: Alert{Counted: true, For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} counts {{ $value }} key(s) whose
in-window request count is above their own limit; overrides may
not be enforced by /check.`},
		Check: checkOverLimit,
	}
}

// checkOverLimit: a key's in-window count is above its own limit.
func checkOverLimit(v *View, _ Setting) Verdict {
	at := v.redisAt()
	return v.redisVerdict(func(r *snapshot.RedisSection) []Finding {
		var fs []Finding
		for _, b := range r.OverLimit {
			if b.Limit <= 0 || b.Count <= b.Limit {
				continue
			}
			fs = append(fs, Finding{
				Subject: b.Key,
				Message: fmt.Sprintf("key %q counts %d requests in its window, over its limit of %d",
					b.Key, b.Count, b.Limit),
				Evidence: []snapshot.Evidence{
					ev(source.Redis, at, "entries in its window", float64(b.Count)),
					ev(source.Redis, at, "its own limit", float64(b.Limit)),
				},
				Causes: overLimitCauses(r, b.Key),
			})
		}
		return fs
	})
}

// overLimitCauses orders the likely causes of a key over its limit: an
// override the nodes do not enforce first when the key has one.
func overLimitCauses(r *snapshot.RedisSection, key string) []string {
	enforce := "the key has an override the nodes do not enforce (/check applies only the request's limit or the node default): the override hash ratelimit:limit:" + key + " against the limit its clients send"
	rest := []string{
		"entries were written behind the nodes' back (a script, a replay, a restore): MONITOR, the members' scores against the nodes' logs",
		"a node's clock runs behind (clock_skew): it prunes less and admits over the limit",
		"a node admits without Redis (fail_open) or counts on another Redis (counter_drift)",
		"the limit was lowered while the key was full: it falls back under as its entries age out",
	}
	for _, o := range r.Overrides {
		if o.Key == key {
			return append([]string{enforce}, rest...)
		}
	}
	return append(rest, enforce)
}
