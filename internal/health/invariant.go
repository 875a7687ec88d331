package health

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// Invariant is the one declaration of an invariant.
type Invariant struct {
	// Name is the invariant label and the stem of its variables:
	// high_latency is set by OBSERVERD_HIGH_LATENCY_GRACE and
	// OBSERVERD_HIGH_LATENCY_THRESHOLD.
	Name string
	// Severity is one of the Severity constants.
	Severity string
	// Sources are the sources it is judged from; while none of them is
	// enabled it is not judged at all.
	Sources []string
	// Subject says what a violation names: SubjectKey, SubjectRedis, or
	// words such as "node".
	Subject string
	// Help says in one line, to a user, when it holds.
	Help string
	// Grace is the default grace period. GraceHelp is the meaning of its
	// variable after "name: "; empty means "grace period".
	Grace     time.Duration
	GraceHelp string
	// Threshold is nil for an invariant without one.
	Threshold *Threshold
	// Alert is its Prometheus alerting rule.
	Alert Alert
	// Check judges one view with the invariant's setting. It never sees
	// a view in which none of Sources is enabled.
	Check func(*View, Setting) Verdict
}

// Threshold declares an invariant's threshold.
type Threshold struct {
	// Default is the default value; its type is the threshold's kind:
	// time.Duration, int64 for a count, float64 for a share.
	Default any
	// Positive refuses zero; a negative value is always refused.
	Positive bool
	// Max, when set, is the largest value allowed, of Default's type.
	Max any
	// Help is the meaning of the variable after "name: ".
	Help string
}

// Alert declares an invariant's alerting rule over
// observerd_invariant_violation (deploy/prometheus/alerts.yml, checked
// against these declarations by a test).
type Alert struct {
	// For absorbs a missed scrape or a blip; the grace period is
	// observerd's own.
	For time.Duration
	// Counted sums the violations over their subjects and alerts on how
	// many there are: subjects such as short-lived keys come and go
	// faster than any For and would otherwise never fire.
	Counted bool
	// Description is the rule's description annotation, a Prometheus
	// template, one line per line of the rule file.
	Description string
}

// Setting is an invariant's configured grace period and threshold.
type Setting struct {
	Grace time.Duration
	// Threshold is of the declared kind, nil without one.
	Threshold any
}

// Duration is a duration threshold, 0 for another kind.
func (s Setting) Duration() time.Duration { d, _ := s.Threshold.(time.Duration); return d }

// Count is a count threshold, 0 for another kind.
func (s Setting) Count() int64 { n, _ := s.Threshold.(int64); return n }

// Share is a share threshold, 0 for another kind.
func (s Setting) Share() float64 { f, _ := s.Threshold.(float64); return f }

// Verdict is what a check concluded from one view.
type Verdict struct {
	// Skip: nothing it needs is enabled; any state is dropped.
	Skip bool
	// Unknown, when not empty, is why it cannot be judged now.
	Unknown string
	// Findings are the subjects for which the condition holds.
	Findings []Finding
	// Undecided are subjects it could not judge while judging others:
	// their reported violations are kept, as for Unknown.
	Undecided []string
}

// Finding is one subject for which a condition holds.
type Finding struct {
	Subject string
	Message string
	// Evidence are the figures that prove it, each with its source and
	// the time it was read.
	Evidence []snapshot.Evidence
	// Causes are its likely causes, in the order an on-call checks them.
	Causes []string
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// validate reports what is wrong with the declarations themselves, each
// error naming the invariant: they are code, so this is a programming
// error caught at start and by tests.
func validate(invs []Invariant) error {
	var errs []error
	seen := make(map[string]bool, len(invs))
	for _, inv := range invs {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: "+format, append([]any{inv.Name}, args...)...))
		}
		if !snakeCase.MatchString(inv.Name) {
			bad("name %q is not snake_case", inv.Name)
		}
		if seen[inv.Name] {
			bad("declared twice")
		}
		seen[inv.Name] = true
		if SeverityRank(inv.Severity) == UnknownSeverityRank {
			bad("severity %q is not one of %s, %s, %s", inv.Severity, SeverityCritical, SeverityWarning, SeverityInfo)
		}
		if inv.Grace < 0 {
			bad("default grace period %s is negative", inv.Grace)
		}
		if inv.Check == nil || len(inv.Sources) == 0 || inv.Help == "" {
			bad("needs a check, its sources and a help line")
		}
		if t := inv.Threshold; t != nil {
			if formatValue(t.Default) == "" {
				bad("threshold: a threshold is a time.Duration, an int64 or a float64")
			} else if msg := t.outOfBounds(t.Default); msg != "" {
				bad("default threshold %s", msg)
			}
		}
	}
	return errors.Join(errs...)
}
