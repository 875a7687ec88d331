package health

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// drifting makes node-1 disagree with Redis and node-2 on key "a".
func drifting(in *Input) { in.Nodes.Nodes[0].Counters[0].Count = 20 }

// putOverLimit puts key "a" over its limit.
func putOverLimit(in *Input) { in.Redis.OverLimit = []snapshot.Block{{Key: "a", Count: 12, Limit: 5}} }

// both applies every change in order.
func both(fs ...func(*Input)) func(*Input) {
	return func(in *Input) {
		for _, f := range fs {
			f(in)
		}
	}
}

func redisStale(in *Input) { staleSource(in, source.Redis, "boom") }

func TestGracePeriods(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "reported once held for the grace period, first_seen kept, cleared at once",
			steps: []step{
				{at: 0, give: drifting},
				{at: 10 * time.Second, give: drifting},
				{at: 29 * time.Second, give: drifting},
				{at: 30 * time.Second, give: drifting, want: []string{
					"warning counter_drift node-1 first=0s last=30s",
					"warning counter_drift node-1/node-2 first=0s last=30s",
				}},
				{at: 45 * time.Second, give: drifting, want: []string{
					"warning counter_drift node-1 first=0s last=45s",
					"warning counter_drift node-1/node-2 first=0s last=45s",
				}},
				{at: 50 * time.Second},
				{at: 60 * time.Second, give: drifting},
				{at: 89 * time.Second, give: drifting},
				{at: 90 * time.Second, give: drifting, want: []string{
					"warning counter_drift node-1 first=1m0s last=1m30s",
					"warning counter_drift node-1/node-2 first=1m0s last=1m30s",
				}},
			},
		},
		{
			name: "a pending condition that stops holding starts over",
			steps: []step{
				{at: 0, give: func(in *Input) { nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250)) }},
				{at: 50 * time.Second},
				{at: 60 * time.Second, give: func(in *Input) { nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250)) }},
				{at: 110 * time.Second, give: func(in *Input) { nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250)) }},
				{at: 120 * time.Second, give: func(in *Input) { nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250)) }, want: []string{
					"warning high_latency node-1 first=1m0s last=2m0s",
				}},
			},
		},
		{
			name: "zero grace reports at once",
			steps: []step{
				{at: 0, give: putOverLimit, want: []string{"warning over_limit a first=0s last=0s"}},
				{at: 5 * time.Second, give: putOverLimit, want: []string{"warning over_limit a first=0s last=5s"}},
				{at: 10 * time.Second},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, defaultConfig(), tt.steps) })
	}
}

func TestUnknownNeitherRaisesNorClears(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "a reported violation survives a redis outage and keeps first_seen",
			steps: []step{
				{at: 0, give: putOverLimit, want: []string{"warning over_limit a first=0s last=0s"}},
				{at: 10 * time.Second, give: redisStale, want: []string{
					"critical redis_disconnected redis first=10s last=10s",
					"warning over_limit a first=0s last=0s",
				}, wantUnknown: redisUnknown},
				// The stale section no longer shows the key: still not cleared.
				{at: 20 * time.Second, give: redisStale, want: []string{
					"critical redis_disconnected redis first=10s last=20s",
					"warning over_limit a first=0s last=0s",
				}, wantUnknown: redisUnknown},
				{at: 30 * time.Second, give: putOverLimit, want: []string{"warning over_limit a first=0s last=30s"}},
				{at: 40 * time.Second},
			},
		},
		{
			name: "a reported violation clears once redis is fresh and it no longer holds",
			steps: []step{
				{at: 0, give: putOverLimit, want: []string{"warning over_limit a first=0s last=0s"}},
				{at: 10 * time.Second, give: redisStale, want: []string{
					"critical redis_disconnected redis first=10s last=10s",
					"warning over_limit a first=0s last=0s",
				}, wantUnknown: redisUnknown},
				{at: 20 * time.Second},
			},
		},
		{
			name: "a condition seen only in stale data is not raised",
			steps: []step{
				{at: 0},
				{at: 10 * time.Second, give: both(redisStale, putOverLimit), want: []string{
					"critical redis_disconnected redis first=10s last=10s",
				}, wantUnknown: redisUnknown},
			},
		},
		{
			name: "a pending condition is forgotten while unknown",
			steps: []step{
				{at: 0, give: drifting},
				{at: 20 * time.Second, give: both(redisStale, drifting), want: []string{
					"critical redis_disconnected redis first=20s last=20s",
				}, wantUnknown: redisUnknown},
				{at: 40 * time.Second, give: drifting},
				{at: 69 * time.Second, give: drifting},
				{at: 70 * time.Second, give: drifting, want: []string{
					"warning counter_drift node-1 first=40s last=1m10s",
					"warning counter_drift node-1/node-2 first=40s last=1m10s",
				}},
			},
		},
		{
			name: "node_down survives a stale ratelimiter source",
			steps: []step{
				{at: 0, give: func(in *Input) { nodeAt(in, "node-2").Reachable = false }, want: []string{
					"critical node_down node-2 first=0s last=0s",
				}},
				{at: 10 * time.Second, give: func(in *Input) {
					staleSource(in, source.Ratelimiter, "boom")
				}, want: []string{"critical node_down node-2 first=0s last=0s"}, wantUnknown: nodesUnknown},
				{at: 20 * time.Second},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, defaultConfig(), tt.steps) })
	}
}

func TestRegistryExpiry(t *testing.T) {
	unregistered := func(in *Input) { nodeAt(in, "node-2").Registered = false }
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "a node seen registered whose entry expires is down until it registers again",
			steps: []step{
				{at: 0},
				{at: 10 * time.Second, give: unregistered, want: []string{"critical node_down node-2 first=10s last=10s"}},
				// Redis stale: the reachable node cannot be judged, so it stays down.
				{at: 20 * time.Second, give: both(unregistered, redisStale), want: []string{
					"critical node_down node-2 first=10s last=10s",
					"critical redis_disconnected redis first=20s last=20s",
				}, wantUnknown: redisUnknown},
				{at: 30 * time.Second},
			},
		},
		{
			name: "a node never seen registered is not down for it",
			steps: []step{
				{at: 0, give: unregistered},
				{at: 10 * time.Second, give: unregistered},
			},
		},
		{
			name: "registration seen only in stale data does not count",
			steps: []step{
				{at: 0, give: both(unregistered, redisStale), want: []string{
					"critical redis_disconnected redis first=0s last=0s",
				}, wantUnknown: redisUnknown},
				{at: 10 * time.Second, give: unregistered},
			},
		},
		{
			name: "a node that left the merged list is forgotten",
			steps: []step{
				{at: 0},
				{at: 10 * time.Second, give: func(in *Input) { in.Snapshot.Nodes = in.Snapshot.Nodes[:1] }},
				{at: 20 * time.Second, give: unregistered},
			},
		},
		{
			name: "without the ratelimiter source the registry alone decides",
			steps: []step{
				{at: 0, give: func(in *Input) { in.Enabled = []string{source.Redis} }},
				{at: 10 * time.Second, give: func(in *Input) {
					in.Enabled = []string{source.Redis}
					unregistered(in)
				}, want: []string{"critical node_down node-2 first=10s last=10s"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runSteps(t, defaultConfig(), tt.steps) })
	}
}

func TestSourceNeverSucceeded(t *testing.T) {
	never := func(in *Input) {
		in.Snapshot.Sources[source.Prometheus] = snapshot.SourceStatus{Status: snapshot.StatusError, Error: "refused"}
		in.Fresh[source.Prometheus] = false
		in.Prometheus = nil
	}
	cfg := defaultConfig()
	cfg.staleAfter = map[string]time.Duration{source.Prometheus: 30 * time.Second}
	runSteps(t, cfg, []step{
		{at: 0, give: never, wantUnknown: promUnknown},
		{at: 30 * time.Second, give: never, wantUnknown: promUnknown},
		{at: 31 * time.Second, give: never, want: []string{
			"warning source_stale prometheus first=31s last=31s",
		}, wantUnknown: promUnknown},
		{at: 40 * time.Second},
	})
}

func TestSorting(t *testing.T) {
	give := func(in *Input) {
		in.Snapshot.Redis.Connected = false
		nodeAt(in, "node-2").Reachable = false
		nodeAt(in, "node-1").Reachable = false
		nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(300))
		in.Redis.OverLimit = []snapshot.Block{{Key: "b", Count: 9, Limit: 5}, {Key: "a", Count: 9, Limit: 5}}
		in.Redis.WithoutTTL = []string{"z"}
		in.Redis.Counters.OrphanSequenceKeys = 20000
		lastSuccess(in, source.Prometheus, time.Minute)
	}
	runSteps(t, noGrace(), []step{{give: give, want: []string{
		"critical node_down node-1 first=0s last=0s",
		"critical node_down node-2 first=0s last=0s",
		"critical redis_disconnected redis first=0s last=0s",
		"warning counter_without_ttl z first=0s last=0s",
		"warning high_latency node-1 first=0s last=0s",
		"warning over_limit a first=0s last=0s",
		"warning over_limit b first=0s last=0s",
		"warning source_stale prometheus first=0s last=0s",
		"info sequence_key_leak redis first=0s last=0s",
	}}})
}

// TestEverySubjectIsReported: no hidden cap makes the violations a sample;
// each distinct subject is one violation (the inputs are capped by
// OBSERVERD_LIST_LIMIT, and the exporter folds beyond its own limit).
func TestEverySubjectIsReported(t *testing.T) {
	keys := func(ks ...string) func(*Input) {
		return func(in *Input) {
			in.Redis.WithoutTTL = append(in.Redis.WithoutTTL, ks...)
		}
	}
	many := make([]string, 60)
	want := make([]string, len(many))
	for i := range many {
		many[i] = fmt.Sprintf("k%02d", i)
		want[i] = fmt.Sprintf("warning counter_without_ttl k%02d first=10s last=10s", i)
	}
	runSteps(t, defaultConfig(), []step{
		{at: 0, give: keys("c", "b", "b", "d"), want: []string{
			"warning counter_without_ttl b first=0s last=0s",
			"warning counter_without_ttl c first=0s last=0s",
			"warning counter_without_ttl d first=0s last=0s",
		}},
		{at: 10 * time.Second, give: keys(many...), want: want},
	})
}

func TestLogsOnceOnRaiseAndClear(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	e := defaultConfig().evaluator(zap.New(core))
	steps := []struct {
		at   time.Duration
		give func(*Input)
	}{
		{0, putOverLimit},
		{5 * time.Second, putOverLimit},
		{10 * time.Second, putOverLimit},
		{15 * time.Second, nil},
		{20 * time.Second, nil},
		// counter_drift never outlives its grace period: nothing to log.
		{25 * time.Second, drifting},
		{30 * time.Second, nil},
	}
	for _, s := range steps {
		in := healthy(t0.Add(s.at))
		if s.give != nil {
			s.give(&in)
		}
		e.Evaluate(in)
	}
	entries := logs.AllUntimed()
	if len(entries) != 2 {
		t.Fatalf("got %d log lines, want 2: %v", len(entries), entries)
	}
	tests := []struct {
		give observer.LoggedEntry
		want string
	}{
		{entries[0], "invariant violation raised"},
		{entries[1], "invariant violation cleared"},
	}
	for _, tt := range tests {
		if tt.give.Message != tt.want {
			t.Errorf("got %q, want %q", tt.give.Message, tt.want)
		}
		f := tt.give.ContextMap()
		if f["invariant"] != "over_limit" || f["subject"] != "a" || f["severity"] != SeverityWarning {
			t.Errorf("%q fields: %v", tt.want, f)
		}
	}
}

// TestLogLevelOfSeverity: a violation is raised at the level of its
// severity, so that a critical one reaches whoever watches errors; it is
// cleared at info, whatever its severity.
func TestLogLevelOfSeverity(t *testing.T) {
	tests := []struct {
		give        string
		wantRaised  zapcore.Level
		wantCleared zapcore.Level
	}{
		{give: SeverityCritical, wantRaised: zap.ErrorLevel, wantCleared: zap.InfoLevel},
		{give: SeverityWarning, wantRaised: zap.WarnLevel, wantCleared: zap.InfoLevel},
		{give: SeverityInfo, wantRaised: zap.InfoLevel, wantCleared: zap.InfoLevel},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			invs := Builtin()
			invs[3].Severity = tt.give // over_limit
			cfg := noGrace()
			cfg.settings = Defaults(invs).WithoutGrace()
			e := cfg.evaluator(zap.New(core))
			in := healthy(t0)
			putOverLimit(&in)
			e.Evaluate(in)
			e.Evaluate(healthy(t0.Add(time.Second)))
			want := []string{
				tt.wantRaised.String() + " invariant violation raised " + tt.give,
				tt.wantCleared.String() + " invariant violation cleared " + tt.give,
			}
			var got []string
			for _, l := range logs.AllUntimed() {
				got = append(got, fmt.Sprintf("%s %s %v", l.Level, l.Message, l.ContextMap()["severity"]))
			}
			if !slices.Equal(got, want) {
				t.Errorf("logged %q, want %q", got, want)
			}
		})
	}
}

func TestEvaluatorCopiesStaleBounds(t *testing.T) {
	cfg := defaultConfig()
	cfg.staleAfter = map[string]time.Duration{source.Prometheus: time.Hour}
	e := cfg.evaluator(nil)
	cfg.staleAfter[source.Prometheus] = time.Second
	in := healthy(t0)
	lastSuccess(&in, source.Prometheus, time.Minute)
	if res := e.Evaluate(in); len(res.Violations) != 0 {
		t.Fatalf("caller's map changed the evaluator: %v", res.Violations)
	}
}

// TestEvidenceAndCauses: a violation carries the evidence and causes of
// the finding that last confirmed it, and an invariant that gives none
// carries empty lists, written [] rather than null.
func TestEvidenceAndCauses(t *testing.T) {
	bare := Invariant{
		Name: "bare_finding", Severity: SeverityInfo, Sources: []string{source.Redis}, Help: "a finding without figures",
		Check: func(*View, Setting) Verdict { return Verdict{Findings: []Finding{{Subject: "s", Message: "m"}}} },
	}
	cfg := defaultConfig()
	cfg.settings = Defaults(append(Builtin(), bare)).WithoutGrace()
	e := cfg.evaluator(nil)
	in := healthy(t0)
	in.Snapshot.Redis.Ping = snapshot.Known(ms(80))
	e.Evaluate(in)
	in = healthy(t0.Add(5 * time.Second))
	in.Snapshot.Redis.Ping = snapshot.Known(ms(95))
	res := e.Evaluate(in)
	if len(res.Violations) != 2 {
		t.Fatalf("violations %v, want bare_finding and redis_slow", res.Violations)
	}
	for _, v := range res.Violations {
		switch v.Invariant {
		case "bare_finding":
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"evidence":[],"causes":[]`) {
				t.Errorf("bare_finding written %s, want empty evidence and causes", b)
			}
		case "redis_slow":
			var got []float64
			for _, ev := range v.Evidence {
				got = append(got, float64(ev.Value))
			}
			if !slices.Equal(got, []float64{80, 95, 2}) || !strings.Contains(v.Message, "95ms") || len(v.Causes) == 0 {
				t.Errorf("redis_slow as last confirmed: message %q, evidence %v, causes %q", v.Message, v.Evidence, v.Causes)
			}
			if v.FirstSeen != t0 || v.LastSeen != t0.Add(5*time.Second) {
				t.Errorf("redis_slow seen %s to %s", v.FirstSeen, v.LastSeen)
			}
		}
	}
}
