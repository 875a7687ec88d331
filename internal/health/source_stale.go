package health

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/source"
)

func sourceStale() Invariant {
	return Invariant{
		Name:      "source_stale",
		Severity:  SeverityWarning,
		Sources:   source.All(),
		Subject:   "source",
		Help:      "a source has not succeeded for `OBSERVERD_STALE_AFTER` (default: 3 of its poll intervals)",
		GraceHelp: "grace period after OBSERVERD_STALE_AFTER",
		Alert: Alert{For: 5 * time.Minute, Description: `observerd {{ $labels.instance }} reports that source
{{ $labels.subject }} has not succeeded for longer than its
staleness threshold.`},
		Check: checkSourceStale,
	}
}

// checkSourceStale: an enabled source has not succeeded for longer than its
// bound. A source that never succeeded counts from when the evaluator first
// saw it enabled. Never unknown: it judges the sources themselves.
func checkSourceStale(v *View, _ Setting) Verdict {
	var vd Verdict
	for _, src := range slices.Sorted(maps.Keys(v.enabled)) {
		bound, ok := v.mem.staleAfter[src]
		if !ok {
			continue
		}
		st := v.snap.Sources[src]
		var msg string
		switch {
		case st.LastSuccess == nil:
			age := v.now.Sub(v.mem.watching[src])
			if age <= bound {
				continue
			}
			msg = fmt.Sprintf("source %q has not succeeded once in %s, above its bound of %s",
				src, age.Round(time.Millisecond), bound)
		default:
			age := v.now.Sub(*st.LastSuccess)
			if age <= bound {
				continue
			}
			msg = fmt.Sprintf("source %q last succeeded %s ago, above its bound of %s",
				src, age.Round(time.Millisecond), bound)
		}
		if st.Error != "" {
			msg += ": " + truncate(st.Error)
		}
		vd.Findings = append(vd.Findings, Finding{Subject: src, Message: msg})
	}
	return vd
}
