package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func ttlBeyondWindow() Invariant {
	return Invariant{
		Name:     "ttl_beyond_window",
		Severity: SeverityWarning,
		Sources:  []string{source.Redis},
		Subject:  SubjectKey,
		Help:     "a counter's TTL exceeds `ceil(window_ms/1000)+1` s of its own window by more than a second: it outlives its window",
		Alert: Alert{Counted: true, For: 15 * time.Minute, Description: `observerd {{ $labels.instance }} counts {{ $value }} counter(s) whose
TTL outlives their window.`},
		Check: checkTTLBeyondWindow,
	}
}

// checkTTLBeyondWindow: a counter's TTL is longer than the contract gives
// its own window (the override's, else the default), so it will outlive
// the window: a key that stops being allowed keeps its entries, and a user
// is blocked by them for longer than the limit says.
func checkTTLBeyondWindow(v *View, _ Setting) Verdict {
	at := v.redisAt()
	return v.redisVerdict(func(r *snapshot.RedisSection) []Finding {
		var fs []Finding
		for _, k := range r.TTLBeyondWindow {
			want := snapshot.ContractTTL(k.Window)
			fs = append(fs, Finding{
				Subject: k.Key,
				Message: fmt.Sprintf("counter key %q expires in %s, beyond the %s its window of %s gives it (%d keys in all)",
					k.Key, k.TTL.Round(time.Second), want, k.Window, r.Counters.KeysTTLBeyondWindow),
				Evidence: []snapshot.Evidence{
					ev(source.Redis, at, "PTTL (ms)", millis(k.TTL)),
					ev(source.Redis, at, "its window, override or default (ms)", millis(k.Window)),
					ev(SourceObserverd, at, "TTL the contract gives that window (ms)", millis(want)),
				},
				Causes: []string{
					"an EXPIRE (or PERSIST and EXPIRE) run on the key by hand or by a script: MONITOR, the ACL log, the scripts that touch ratelimit:* keys",
					"clients send a window_ms longer than the key's window observerd knows (no override names it): the nodes set the TTL from the request's window",
					"the key's override window was shortened while the counter lived on: it expires by itself within its TTL",
				},
			})
		}
		return fs
	})
}
