package health

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// t0 is the time of the first evaluation of every sequence.
var t0 = time.Date(2026, 1, 27, 12, 0, 0, 0, time.UTC)

// healthy returns an input at now in which every invariant holds for no
// subject: all sources fresh, two reachable registered nodes agreeing with
// Redis, and Prometheus showing a cluster that blocks few of its checks.
func healthy(now time.Time) Input {
	ok := func() snapshot.SourceStatus {
		last := now.Add(-time.Second)
		return snapshot.SourceStatus{Status: snapshot.StatusOK, LastAttempt: &last, LastSuccess: &last}
	}
	node := func(id, addr string) snapshot.Node {
		return snapshot.Node{
			ID: id, Address: addr, URL: "http://" + addr,
			Registered: true, Reachable: true, CheckLatencyP99: snapshot.Known(ms(2.5)),
		}
	}
	report := func(id, addr string) snapshot.NodeReport {
		return snapshot.NodeReport{
			URL: "http://" + addr, Address: addr, ID: id, Reachable: true,
			Counters: []snapshot.APICounter{{Key: "a", Count: 10, Limit: 100}, {Key: "b", Count: 3, Limit: 100}},
		}
	}
	instance := func() snapshot.InstanceStats {
		return snapshot.InstanceStats{
			CheckLatencyP99: snapshot.Known(ms(2.5)), AllowedPerSecond: 20, BlockedPerSecond: 1,
			Up: new(true), AllowedTotal: 5000, AllowedScraped: now.Add(-3 * time.Second),
		}
	}
	return Input{
		Now: now,
		Snapshot: &snapshot.Snapshot{
			Sources: map[string]snapshot.SourceStatus{
				source.Ratelimiter: ok(),
				source.Redis:       ok(),
				source.Prometheus:  ok(),
			},
			Nodes: []snapshot.Node{node("node-1", "10.0.0.1:8000"), node("node-2", "10.0.0.2:8000")},
			Redis: snapshot.RedisInfo{Connected: true},
		},
		Redis: &snapshot.RedisSection{KeyCounts: map[string]int64{"a": 10, "b": 3}},
		Nodes: &snapshot.NodesSection{Nodes: []snapshot.NodeReport{
			report("node-1", "10.0.0.1:8000"), report("node-2", "10.0.0.2:8000"),
		}},
		Prometheus: &snapshot.PrometheusSection{
			Instances: map[string]snapshot.InstanceStats{
				"10.0.0.1:8000": instance(),
				"10.0.0.2:8000": instance(),
			},
			AllowedPerSecond: 40, BlockedPerSecond: 2,
			AllowedRecent: 40, BlockedRecent: 2,
		},
		Fresh: map[string]bool{
			source.Ratelimiter: true,
			source.Redis:       true,
			source.Prometheus:  true,
		},
		Enabled: []string{source.Ratelimiter, source.Redis, source.Prometheus},
	}
}

// noGrace is the default config with every grace period zero, so that one
// evaluation decides.
func noGrace() testConfig {
	c := defaultConfig()
	c.settings = c.settings.WithoutGrace()
	return c
}

// step is one evaluation of a sequence: the healthy input at t0+at changed
// by give, and the summarised result wanted.
type step struct {
	at          time.Duration
	give        func(*Input)
	want        []string
	wantUnknown []string
}

// runSteps evaluates the steps in order with one evaluator.
func runSteps(t *testing.T, cfg testConfig, steps []step) {
	t.Helper()
	e := cfg.evaluator(zaptest.NewLogger(t))
	for i, s := range steps {
		in := healthy(t0.Add(s.at))
		if s.give != nil {
			s.give(&in)
		}
		res := e.Evaluate(in)
		if got := summary(res.Violations); !slices.Equal(got, s.want) {
			t.Errorf("step %d (+%s): violations\n got  %q\n want %q", i, s.at, got, s.want)
		}
		if got := unknownNames(res.Unknown); !slices.Equal(got, s.wantUnknown) {
			t.Errorf("step %d (+%s): unknown\n got  %q\n want %q\n (%v)", i, s.at, got, s.wantUnknown, res.Unknown)
		}
	}
}

// summary writes each violation as "severity invariant subject first=.. last=..",
// the times relative to t0.
func summary(vs []snapshot.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s %s %s first=%s last=%s",
			v.Severity, v.Invariant, v.Subject, v.FirstSeen.Sub(t0), v.LastSeen.Sub(t0)))
	}
	return out
}

func unknownNames(us []snapshot.UnknownInvariant) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Invariant)
	}
	return out
}

// staleSource marks src as failing with errText after three failures.
func staleSource(in *Input, src, errText string) {
	st := in.Snapshot.Sources[src]
	st.Status = snapshot.StatusStale
	st.Error = errText
	st.ConsecutiveFailures = 3
	in.Snapshot.Sources[src] = st
	in.Fresh[src] = false
}

// nodeAt returns a pointer to the merged node with the given id.
func nodeAt(in *Input, id string) *snapshot.Node {
	for i := range in.Snapshot.Nodes {
		if in.Snapshot.Nodes[i].ID == id {
			return &in.Snapshot.Nodes[i]
		}
	}
	panic("no node " + id)
}

// testConfig is what an evaluator is built from.
type testConfig struct {
	settings   Settings
	staleAfter map[string]time.Duration
}

func (c testConfig) evaluator(logger *zap.Logger) *Evaluator {
	return NewEvaluator(c.settings, c.staleAfter, logger)
}

// defaultConfig is the invariants' configuration of an empty environment,
// with every source stale after the default bound: three poll intervals
// of 5 s (see config.Config.StaleAfterFor).
func defaultConfig() testConfig {
	return testConfig{
		settings: Defaults(Builtin()),
		staleAfter: map[string]time.Duration{
			source.Ratelimiter: 15 * time.Second,
			source.Redis:       15 * time.Second,
			source.Prometheus:  15 * time.Second,
		},
	}
}

// ms is f milliseconds.
func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// seen is a violation of the invariant under test that a judgement wants.
type seen struct {
	subject string
	// message is a regular expression its message matches.
	message string
	// sources are the distinct sources of its evidence, sorted.
	sources []string
	// kept: reported earlier and not confirmed at this evaluation (its
	// last_seen is before it), as while its subject cannot be judged.
	kept bool
}

// judgement is one evaluation of an invariant's test: the healthy input at
// t0+at changed by give, the violations of that invariant wanted, and
// whether it is listed unknown.
type judgement struct {
	at      time.Duration
	give    func(*Input)
	want    []seen
	unknown bool
}

// judge evaluates the judgements in order with one evaluator and checks
// the violations of the invariant named alone: subjects, messages,
// evidence (each figure with its source, a time no later than the
// evaluation and a finite value) and causes.
func judge(t *testing.T, cfg testConfig, name string, steps []judgement) {
	t.Helper()
	e := cfg.evaluator(zaptest.NewLogger(t))
	for i, s := range steps {
		in := healthy(t0.Add(s.at))
		if s.give != nil {
			s.give(&in)
		}
		res := e.Evaluate(in)
		var got []snapshot.Violation
		for _, v := range res.Violations {
			if v.Invariant == name {
				got = append(got, v)
			}
		}
		var gotSubjects, wantSubjects []string
		for _, v := range got {
			gotSubjects = append(gotSubjects, v.Subject)
		}
		for _, w := range s.want {
			wantSubjects = append(wantSubjects, w.subject)
		}
		slices.Sort(wantSubjects)
		if !slices.Equal(gotSubjects, wantSubjects) {
			t.Errorf("step %d (+%s): %s violations for %q, want %q: %v", i, s.at, name, gotSubjects, wantSubjects, got)
			continue
		}
		for _, w := range s.want {
			v := got[slices.IndexFunc(got, func(v snapshot.Violation) bool { return v.Subject == w.subject })]
			checkSeen(t, fmt.Sprintf("step %d (+%s): %s %s", i, s.at, name, w.subject), v, w, in.Now)
		}
		unknown := slices.ContainsFunc(res.Unknown, func(u snapshot.UnknownInvariant) bool { return u.Invariant == name })
		if unknown != s.unknown {
			t.Errorf("step %d (+%s): %s unknown %v, want %v (%v)", i, s.at, name, unknown, s.unknown, res.Unknown)
		}
	}
}

// checkSeen checks one violation against what is wanted of it.
func checkSeen(t *testing.T, what string, v snapshot.Violation, w seen, now time.Time) {
	t.Helper()
	if !regexp.MustCompile(w.message).MatchString(v.Message) {
		t.Errorf("%s: message\n got  %s\n want %s", what, v.Message, w.message)
	}
	if kept := v.LastSeen.Before(now); kept != w.kept {
		t.Errorf("%s: last seen %s at %s: kept %v, want %v", what, v.LastSeen.Sub(t0), now.Sub(t0), kept, w.kept)
	}
	if len(v.Evidence) == 0 {
		t.Errorf("%s: no evidence", what)
	}
	var sources []string
	for _, e := range v.Evidence {
		if e.Source == "" || e.What == "" || e.At.IsZero() || e.At.After(now) || !e.Value.Valid() {
			t.Errorf("%s: evidence %+v lacks a source, a figure, a time no later than %s or a value", what, e, now)
		}
		if !slices.Contains(sources, e.Source) {
			sources = append(sources, e.Source)
		}
	}
	slices.Sort(sources)
	if !slices.Equal(sources, w.sources) {
		t.Errorf("%s: evidence from %q, want %q: %+v", what, sources, w.sources, v.Evidence)
	}
	if len(v.Causes) == 0 || slices.Contains(v.Causes, "") {
		t.Errorf("%s: causes %q", what, v.Causes)
	}
}
