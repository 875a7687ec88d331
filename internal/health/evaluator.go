package health

import (
	"maps"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/observerd/observerd/internal/snapshot"
)

// Input is what the evaluator sees of one snapshot. Nothing in it is
// modified.
type Input struct {
	// Now is the time of the evaluation.
	Now time.Time
	// Snapshot is the merged view: source statuses, nodes, counters and
	// Redis info. A nil Snapshot is read as an empty one.
	Snapshot *snapshot.Snapshot
	// Redis is the last good Redis section, nil before the first.
	Redis *snapshot.RedisSection
	// Nodes is the last good section of the nodes' HTTP APIs, nil before
	// the first.
	Nodes *snapshot.NodesSection
	// Prometheus is the last good Prometheus section, nil before the
	// first.
	Prometheus *snapshot.PrometheusSection
	// Fresh says, per source name, whether the source's data is fresh now:
	// its last poll succeeded and its data is within the staleness bound.
	// A source missing from it is not fresh.
	Fresh map[string]bool
	// Enabled lists the enabled sources. Invariants that need only
	// disabled sources are not judged and not listed as unknown. When nil,
	// the sources of Snapshot.Sources are taken as the enabled ones.
	Enabled []string
}

// Result is the judgement of one evaluation.
type Result struct {
	// Violations are sorted by severity (critical first), invariant and
	// subject.
	Violations []snapshot.Violation
	// Unknown lists, sorted by invariant, the invariants that cannot be
	// judged now and why.
	Unknown []snapshot.UnknownInvariant
}

// Evaluator judges invariants over successive inputs, remembering since when
// each condition holds. It is not safe for concurrent use: the single writer
// that publishes snapshots calls it.
type Evaluator struct {
	settings Settings
	logger   *zap.Logger
	// states holds every condition seen holding and not yet cleared.
	states map[stateKey]*state
	mem    memory
}

// stateKey identifies one condition.
type stateKey struct {
	invariant string
	subject   string
}

// state is one condition seen holding.
type state struct {
	firstSeen time.Time
	lastSeen  time.Time
	message   string
	evidence  []snapshot.Evidence
	causes    []string
	severity  string
	reported  bool
}

// NewEvaluator returns an Evaluator of the invariants of s; staleAfter is
// each enabled source's staleness bound (source_stale). A nil logger logs
// nothing.
func NewEvaluator(s Settings, staleAfter map[string]time.Duration, logger *zap.Logger) *Evaluator {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Evaluator{
		settings: s,
		logger:   logger,
		states:   make(map[stateKey]*state),
		mem: memory{
			registered: make(map[string]bool),
			watching:   make(map[string]time.Time),
			staleAfter: maps.Clone(staleAfter),
			readings:   newReadings(),
		},
	}
}

// Evaluate judges every invariant against in and returns the violations
// reported and the invariants that cannot be judged. An unknown invariant
// keeps its reported violations as they were and forgets its pending
// conditions (see the package documentation).
func (e *Evaluator) Evaluate(in Input) Result {
	v := newView(in, &e.mem)
	e.mem.track(v)
	var res Result
	for i, inv := range e.settings.invariants {
		set := e.settings.values[i]
		vd := Verdict{Skip: true}
		if v.anyEnabled(inv.Sources) {
			vd = inv.Check(v, set)
		}
		if vd.Unknown != "" && !vd.Skip {
			res.Unknown = append(res.Unknown, snapshot.UnknownInvariant{Invariant: inv.Name, Reason: vd.Unknown})
		}
		e.apply(inv, set, vd, v.now)
	}
	res.Violations = e.violations()
	slices.SortFunc(res.Unknown, func(a, b snapshot.UnknownInvariant) int {
		return strings.Compare(a.Invariant, b.Invariant)
	})
	return res
}

// apply updates the states of one invariant from its verdict.
func (e *Evaluator) apply(inv Invariant, set Setting, vd Verdict, now time.Time) {
	keep := make(map[string]bool, len(vd.Undecided))
	for _, s := range vd.Undecided {
		keep[s] = true
	}
	holding := make(map[string]bool, len(vd.Findings))
	if !vd.Skip && vd.Unknown == "" {
		for _, f := range distinct(vd.Findings) {
			holding[f.Subject] = true
			e.hold(stateKey{invariant: inv.Name, subject: f.Subject}, f, inv.Severity, set.Grace, now)
		}
	}
	for k, st := range e.states {
		if k.invariant != inv.Name || holding[k.subject] {
			continue
		}
		frozen := !vd.Skip && (vd.Unknown != "" || keep[k.subject])
		switch {
		case frozen && st.reported:
			// Not judged now: the reported violation stays as it was.
		case frozen:
			delete(e.states, k)
		default:
			e.clear(k, st, now)
		}
	}
}

// hold records that a condition holds at now and reports it once its grace
// period has passed.
func (e *Evaluator) hold(k stateKey, f Finding, severity string, grace time.Duration, now time.Time) {
	st, ok := e.states[k]
	if !ok {
		st = &state{firstSeen: now}
		e.states[k] = st
	}
	st.lastSeen = now
	st.message, st.evidence, st.causes = f.Message, f.Evidence, f.Causes
	message := f.Message
	if st.reported || now.Sub(st.firstSeen) < grace {
		return
	}
	st.reported = true
	st.severity = severity
	e.logger.Log(raisedLevel(st.severity), "invariant violation raised",
		zap.String("invariant", k.invariant),
		zap.String("subject", k.subject),
		zap.String("severity", st.severity),
		zap.String("message", message),
		zap.Time("first_seen", st.firstSeen))
}

// raisedLevel is the log level a violation of severity is raised at: a
// critical one at error, so that it reaches whoever watches observerd's
// errors, a warning at warn. Its clearing is news, not trouble, and is
// logged at info.
func raisedLevel(severity string) zapcore.Level {
	switch severity {
	case SeverityCritical:
		return zapcore.ErrorLevel
	case SeverityWarning:
		return zapcore.WarnLevel
	default:
		return zapcore.InfoLevel
	}
}

// clear forgets a condition that stopped holding, logging it if it had been
// reported.
func (e *Evaluator) clear(k stateKey, st *state, now time.Time) {
	delete(e.states, k)
	if !st.reported {
		return
	}
	e.logger.Info("invariant violation cleared",
		zap.String("invariant", k.invariant),
		zap.String("subject", k.subject),
		zap.String("severity", st.severity),
		zap.Duration("held", now.Sub(st.firstSeen)))
}

// distinct de-duplicates findings by subject; the first wins. Findings are
// bounded by their inputs: the key lists of a Redis section are capped by
// OBSERVERD_LIST_LIMIT, and nodes are as many as the cluster has.
func distinct(fs []Finding) []Finding {
	seen := make(map[string]bool, len(fs))
	out := make([]Finding, 0, len(fs))
	for _, f := range fs {
		if !seen[f.Subject] {
			seen[f.Subject] = true
			out = append(out, f)
		}
	}
	return out
}

// violations lists the reported conditions, sorted.
func (e *Evaluator) violations() []snapshot.Violation {
	var out []snapshot.Violation
	for k, st := range e.states {
		if !st.reported {
			continue
		}
		out = append(out, snapshot.Violation{
			Invariant: k.invariant,
			Subject:   k.subject,
			Severity:  st.severity,
			Message:   st.message,
			FirstSeen: st.firstSeen,
			LastSeen:  st.lastSeen,
			Evidence:  nonNil(st.evidence),
			Causes:    nonNil(st.causes),
		})
	}
	slices.SortFunc(out, func(a, b snapshot.Violation) int {
		if d := SeverityRank(a.Severity) - SeverityRank(b.Severity); d != 0 {
			return d
		}
		if c := strings.Compare(a.Invariant, b.Invariant); c != 0 {
			return c
		}
		return strings.Compare(a.Subject, b.Subject)
	})
	return out
}

// nonNil is s, or an empty slice for nil: the JSON shows [] rather than
// null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
