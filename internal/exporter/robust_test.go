package exporter

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// hostileSnapshot is a snapshot that did not come through a Store, so its
// names are raw: a key and a node id that are not UTF-8, and two keys and
// two violations whose labels repeat.
func hostileSnapshot() *snapshot.Published {
	ok := snapshot.SourceStatus{Status: snapshot.StatusOK, LastSuccess: &t0, LastAttempt: &t0}
	return &snapshot.Published{Snapshot: &snapshot.Snapshot{
		Sequence: 7, GeneratedAt: t0,
		Sources: map[string]snapshot.SourceStatus{source.Redis: ok},
		Nodes: []snapshot.Node{
			{ID: "evil\xff", Address: "10.0.0.9:8000", Registered: true},
			{ID: "node-1", Address: "10.0.0.1:8000", Registered: true},
		},
		Counters: snapshot.Counters{Top: []snapshot.TopKey{
			{Key: "bin\xff\xfe\xc0key", Count: 30, Limit: 10},
			{Key: "hot", Count: 20, Limit: 10},
			{Key: "hot", Count: 19, Limit: 10},
		}},
		Violations: []snapshot.Violation{
			{Invariant: "over_limit", Subject: "bin\xffkey", Severity: "warning"},
			{Invariant: "over_limit", Subject: "hot", Severity: "warning"},
			{Invariant: "over_limit", Subject: "hot", Severity: "warning"},
		},
	}}
}

// TestCollectorDropsBadSeries: a series whose label is not UTF-8, or that
// repeats an earlier one, is dropped alone; the scrape and every other
// series stay.
func TestCollectorDropsBadSeries(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	c := NewCollector(fixed{hostileSnapshot()}, Options{SubjectsLimit: 10, Invariants: []string{"over_limit"}, Logger: zap.New(core)})
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := reg.Gather(); err != nil {
			t.Fatalf("gather: %v", err)
		}
	}
	want := `
# HELP observerd_counter_requests Requests inside the window of one of the hottest keys` + cached + `
# TYPE observerd_counter_requests gauge
observerd_counter_requests{key="hot"} 20
# HELP observerd_invariant_violation 1 per active violation; subject="other" counts the violations beyond the per-invariant limit.
# TYPE observerd_invariant_violation gauge
observerd_invariant_violation{invariant="over_limit",severity="warning",subject="hot"} 1
# HELP observerd_node_registered 1 when the node's entry is in the Redis node registry, else 0` + cached + `
# TYPE observerd_node_registered gauge
observerd_node_registered{address="10.0.0.1:8000",node="node-1"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "observerd_counter_requests", "observerd_invariant_violation", "observerd_node_registered"); err != nil {
		t.Error(err)
	}
	// Logged once while the number of dropped series stays the same.
	if got := logs.FilterMessage("series dropped from the scrape").Len(); got != 1 {
		t.Errorf("%d warnings logged over the scrapes, want 1: %v", got, logs.All())
	}
}
