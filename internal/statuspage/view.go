package statuspage

import (
	"cmp"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/human"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// frame is what every page shares: the head, the header and the links.
type frame struct {
	State   string // "CRITICAL", "OK", "WAITING", ...
	Class   string // the CSS class of the state
	Refresh int    // seconds between reloads
	Version string
	Now     time.Time
	CSS     template.CSS
	Script  template.JS
	// History is set when the kept history can be stepped through.
	History bool
	// Past is set on a page of a kept summary rather than the live
	// snapshot; the page then neither reloads nor follows /events.
	Past *past
}

// past is what a page of the kept history says of its time.
type past struct {
	At    time.Time // the summary's
	Ago   string    // how long before the page was rendered
	Steps []step
}

// step is a link to another time of the history.
type step struct{ Label, Href string }

// view is the page of one snapshot.
type view struct {
	frame
	Snap     *snapshot.Snapshot
	Summary  string // "2 critical · 1 warning", or what is degraded
	Groups   []severityGroup
	Sources  []string // the names of Snap.Sources in order
	Charts   []chart
	Timeline timeline
}

// severityGroup is the active violations of one severity, the oldest first.
type severityGroup struct {
	Severity   string
	Violations []snapshot.Violation
}

// timeline is the violations raised and cleared, and its bounds.
type timeline struct {
	recorded
	Window string
	Max    int
}

// newView builds the page of s with what the history recorded.
func newView(f frame, s *snapshot.Snapshot, rec recorded, cfg historyConfig) view {
	groups := groupViolations(s.Violations)
	f.State, f.Class = stateOf(s, groups)
	return view{
		frame:    f,
		Snap:     s,
		Summary:  summary(s, groups),
		Groups:   groups,
		Sources:  sourceNames(s.Sources),
		Charts:   trendCharts(rec.Trend, cfg.trendWindow),
		Timeline: timeline{recorded: rec, Window: short(cfg.timelineWindow), Max: cfg.timelineMax},
	}
}

// groupViolations sorts vs by severity, then by first_seen, oldest first:
// the longest-standing critical problem leads.
func groupViolations(vs []snapshot.Violation) []severityGroup {
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, func(a, b snapshot.Violation) int {
		return cmp.Or(human.BySeverity(a, b), a.FirstSeen.Compare(b.FirstSeen),
			cmp.Compare(a.Invariant, b.Invariant), cmp.Compare(a.Subject, b.Subject))
	})
	var out []severityGroup
	for _, v := range sorted {
		if n := len(out); n > 0 && out[n-1].Severity == v.Severity {
			out[n-1].Violations = append(out[n-1].Violations, v)
			continue
		}
		out = append(out, severityGroup{Severity: v.Severity, Violations: []snapshot.Violation{v}})
	}
	return out
}

// stateOf is the page's overall state: the worst severity violated; with
// none, DEGRADED while a source is not ok or an invariant cannot be
// judged, else OK.
func stateOf(s *snapshot.Snapshot, groups []severityGroup) (state, class string) {
	if len(groups) > 0 {
		sev := groups[0].Severity
		if health.SeverityRank(sev) == health.UnknownSeverityRank {
			return "VIOLATED", "warning"
		}
		return strings.ToUpper(sev), sev
	}
	if len(s.Unknown) > 0 || len(notOK(s.Sources)) > 0 {
		return "DEGRADED", "degraded"
	}
	return "OK", "ok"
}

// summary says, in one line, what the state is made of.
func summary(s *snapshot.Snapshot, groups []severityGroup) string {
	var parts []string
	for _, g := range groups {
		parts = append(parts, fmt.Sprintf("%d %s", len(g.Violations), g.Severity))
	}
	if len(parts) == 0 {
		parts = append(parts, "no violations")
	}
	for _, name := range notOK(s.Sources) {
		parts = append(parts, fmt.Sprintf("source %s %s", name, s.Sources[name].Status))
	}
	if n := len(s.Unknown); n > 0 {
		parts = append(parts, human.Plural(n, "invariant")+" not judged")
	}
	return strings.Join(parts, " · ")
}

// notOK lists the sources whose status is not ok, in source order.
func notOK(sources map[string]snapshot.SourceStatus) []string {
	var out []string
	for _, name := range sourceNames(sources) {
		if sources[name].Status != snapshot.StatusOK {
			out = append(out, name)
		}
	}
	return out
}

// sourceNames lists the sources in observerd's order, then any other.
func sourceNames(sources map[string]snapshot.SourceStatus) []string {
	var out []string
	for _, name := range source.All() {
		if _, ok := sources[name]; ok {
			out = append(out, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
