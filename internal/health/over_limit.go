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
			})
		}
		return fs
	})
}
