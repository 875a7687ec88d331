package exporter

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

type fixed struct{ p *snapshot.Published }

func (f fixed) Load() *snapshot.Published { return f.p }

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// testSnapshot builds a published snapshot through a real Store.
func testSnapshot(t *testing.T, redisErr error, violations []snapshot.Violation) *snapshot.Published {
	t.Helper()
	s := snapshot.NewStore(snapshot.StoreConfig{
		Enabled:         []string{source.Ratelimiter, source.Redis, source.Prometheus},
		DefaultLimit:    100,
		DefaultWindow:   time.Minute,
		NodeForgetAfter: time.Minute,
		Now:             func() time.Time { return t0 },
		Judge: func(snapshot.JudgeInput) ([]snapshot.Violation, []snapshot.UnknownInvariant) {
			return violations, []snapshot.UnknownInvariant{{Invariant: "high_latency", Reason: "test"}}
		},
	})
	up := true
	s.Update(snapshot.SourceState{Source: source.Ratelimiter, LastAttempt: t0, LastSuccess: t0, Duration: 12 * time.Millisecond, Section: &snapshot.NodesSection{Nodes: []snapshot.NodeReport{
		{URL: "http://10.0.0.1:8000", Address: "10.0.0.1:8000", ID: "node-1", Reachable: true, HealthLatency: 2 * time.Millisecond, Limits: &snapshot.APILimits{DefaultLimit: 10, DefaultWindow: time.Minute}},
	}}})
	s.Update(snapshot.SourceState{Source: source.Prometheus, LastAttempt: t0, LastSuccess: t0, Duration: 5 * time.Millisecond, Section: &snapshot.PrometheusSection{
		Instances:        map[string]snapshot.InstanceStats{"10.0.0.1:8000": {CheckLatencyP99: snapshot.Known(4 * time.Millisecond), AllowedPerSecond: 3, BlockedPerSecond: snapshot.Null(), Up: &up}},
		AllowedPerSecond: 3, BlockedPerSecond: 0.25,
	}})
	st := snapshot.SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Duration: 30 * time.Millisecond, Section: &snapshot.RedisSection{
		Info:      snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(ms(0.5)), Version: "7.0.15", Role: "master", UsedMemoryBytes: 2048, ConnectedClients: 4, DBKeys: 9},
		Registry:  []snapshot.RegistryEntry{{ID: "node-1", Address: "10.0.0.1:8000", TTL: 20 * time.Second}},
		Overrides: []snapshot.Override{{Key: "vip", Limit: 5}},
		Counters: snapshot.Counters{Keys: 4, RequestsInWindow: 33, BlockedKeys: 2, OverLimitKeys: 1, KeysWithoutTTL: 1, KeysTTLBeyondWindow: 2, OrphanSequenceKeys: 3, WrongTypeKeys: 1,
			Top: []snapshot.TopKey{{Key: "hot", Count: 20, Limit: 10}, {Key: "vip", Count: 5, Limit: 5}}},
	}}
	if redisErr != nil {
		st.Err, st.ConsecutiveFailures, st.FailuresTotal = redisErr, 2, 2
		st.LastAttempt = t0.Add(time.Second)
	}
	s.Update(st)
	return s.Load()
}

func newTestCollector(p *snapshot.Published, keepStale bool, limit int) *Collector {
	return NewCollector(fixed{p}, Options{KeepStale: keepStale, SubjectsLimit: limit,
		Invariants: []string{"node_down", "over_limit", "high_latency"}})
}

func TestCollectorValues(t *testing.T) {
	c := newTestCollector(testSnapshot(t, nil, []snapshot.Violation{{Invariant: "over_limit", Subject: "hot", Severity: "warning"}}), false, 20)
	want := `
# HELP observerd_counter_keys Counter keys in Redis (cached: from the last poll, see observerd_source_last_success_timestamp_seconds).
# TYPE observerd_counter_keys gauge
observerd_counter_keys 4
# HELP observerd_counter_keys_ttl_beyond_window Counter keys whose TTL outlives their own window by more than a second (cached: from the last poll, see observerd_source_last_success_timestamp_seconds).
# TYPE observerd_counter_keys_ttl_beyond_window gauge
observerd_counter_keys_ttl_beyond_window 2
# HELP observerd_counter_requests Requests inside the window of one of the hottest keys (cached: from the last poll, see observerd_source_last_success_timestamp_seconds).
# TYPE observerd_counter_requests gauge
observerd_counter_requests{key="hot"} 20
observerd_counter_requests{key="vip"} 5
# HELP observerd_invariant_violation 1 per active violation; subject="other" counts the violations beyond the per-invariant limit.
# TYPE observerd_invariant_violation gauge
observerd_invariant_violation{invariant="over_limit",severity="warning",subject="hot"} 1
# HELP observerd_invariant_violations Active violations of the invariant.
# TYPE observerd_invariant_violations gauge
observerd_invariant_violations{invariant="high_latency"} 0
observerd_invariant_violations{invariant="node_down"} 0
observerd_invariant_violations{invariant="over_limit"} 1
# HELP observerd_invariant_unknown 1 when the invariant cannot be judged now because a source it needs is not fresh.
# TYPE observerd_invariant_unknown gauge
observerd_invariant_unknown{invariant="high_latency"} 1
observerd_invariant_unknown{invariant="node_down"} 0
observerd_invariant_unknown{invariant="over_limit"} 0
# HELP observerd_limit_default_requests The cluster's default limit, in requests per window (cached: from the last poll, see observerd_source_last_success_timestamp_seconds).
# TYPE observerd_limit_default_requests gauge
observerd_limit_default_requests 10
# HELP observerd_node_check_latency_p99_seconds 99th percentile of the node's check latency, from Prometheus (cached: from the last poll, see observerd_source_last_success_timestamp_seconds).
# TYPE observerd_node_check_latency_p99_seconds gauge
observerd_node_check_latency_p99_seconds{node="node-1"} 0.004
# HELP observerd_node_up 1 when the rate limiter node answers /health as healthy, else 0 (cached: from the last poll, see observerd_source_last_success_timestamp_seconds).
# TYPE observerd_node_up gauge
observerd_node_up{address="10.0.0.1:8000",node="node-1"} 1
# HELP observerd_redis_up 1 when Redis answered the last poll, else 0.
# TYPE observerd_redis_up gauge
observerd_redis_up 1
# HELP observerd_snapshot_sequence Sequence number of the snapshot these metrics come from; /snapshot shows the same number.
# TYPE observerd_snapshot_sequence gauge
observerd_snapshot_sequence 3
# HELP observerd_source_failures_total Failed polls of the source since observerd started.
# TYPE observerd_source_failures_total counter
observerd_source_failures_total{source="prometheus"} 0
observerd_source_failures_total{source="ratelimiter"} 0
observerd_source_failures_total{source="redis"} 0
# HELP observerd_source_up 1 when the source's last poll succeeded and its data is fresh, else 0.
# TYPE observerd_source_up gauge
observerd_source_up{source="prometheus"} 1
observerd_source_up{source="ratelimiter"} 1
observerd_source_up{source="redis"} 1
# HELP observerd_traffic_blocked_per_second Checks blocked per second across the cluster, from Prometheus (cached: from the last poll, see observerd_source_last_success_timestamp_seconds).
# TYPE observerd_traffic_blocked_per_second gauge
observerd_traffic_blocked_per_second 0.25
`
	names := []string{"observerd_counter_keys", "observerd_counter_keys_ttl_beyond_window", "observerd_counter_requests", "observerd_invariant_violation", "observerd_invariant_violations",
		"observerd_invariant_unknown", "observerd_limit_default_requests", "observerd_node_check_latency_p99_seconds", "observerd_node_up",
		"observerd_redis_up", "observerd_snapshot_sequence", "observerd_source_failures_total", "observerd_source_up", "observerd_traffic_blocked_per_second"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// A null value is not exported at all.
	if n := testutil.CollectAndCount(c, "observerd_node_blocked_per_second"); n != 0 {
		t.Errorf("null node blocked rate exported as %d series", n)
	}
}

func TestCollectorLint(t *testing.T) {
	c := newTestCollector(testSnapshot(t, nil, nil), false, 20)
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestCollectorWithholdsStale(t *testing.T) {
	p := testSnapshot(t, errors.New("dial tcp: connection refused"), nil)
	tests := []struct {
		give      bool
		wantCount int
	}{
		{give: false, wantCount: 0},
		{give: true, wantCount: 1},
	}
	for _, tt := range tests {
		c := newTestCollector(p, tt.give, 20)
		if n := testutil.CollectAndCount(c, "observerd_counter_keys"); n != tt.wantCount {
			t.Errorf("keep stale %v: observerd_counter_keys has %d series, want %d", tt.give, n, tt.wantCount)
		}
		if n := testutil.CollectAndCount(c, "observerd_redis_up"); n != 1 {
			t.Errorf("keep stale %v: observerd_redis_up withheld", tt.give)
		}
		if got := testutil.ToFloat64(newUpGauge(c)); got != 0 {
			t.Errorf("redis_up = %v while Redis fails", got)
		}
	}
}

// newUpGauge narrows the collector to observerd_redis_up for ToFloat64.
func newUpGauge(c *Collector) prometheus.Collector {
	return filtered{c, "observerd_redis_up"}
}

type filtered struct {
	c    *Collector
	name string
}

func (f filtered) Describe(ch chan<- *prometheus.Desc) { f.c.Describe(ch) }
func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric, 256)
	go func() { f.c.Collect(all); close(all) }()
	for m := range all {
		if strings.Contains(m.Desc().String(), `"`+f.name+`"`) {
			ch <- m
		}
	}
}

func TestCollectorFoldsSubjects(t *testing.T) {
	var vs []snapshot.Violation
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		vs = append(vs, snapshot.Violation{Invariant: "over_limit", Subject: k, Severity: "warning"})
	}
	c := newTestCollector(testSnapshot(t, nil, vs), false, 2)
	want := `
# HELP observerd_invariant_violation 1 per active violation; subject="other" counts the violations beyond the per-invariant limit.
# TYPE observerd_invariant_violation gauge
observerd_invariant_violation{invariant="over_limit",severity="warning",subject="a"} 1
observerd_invariant_violation{invariant="over_limit",severity="warning",subject="b"} 1
observerd_invariant_violation{invariant="over_limit",severity="warning",subject="other"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "observerd_invariant_violation"); err != nil {
		t.Error(err)
	}
}

// TestCollectorOmitsKeySeries: with the per-key series off, neither
// per-key family is described or collected, the aggregates stay, and a
// pedantic registry takes the collector.
func TestCollectorOmitsKeySeries(t *testing.T) {
	perKey := []string{"observerd_counter_requests", "observerd_counter_limit"}
	tests := []struct {
		give       bool
		wantSeries int
	}{
		{give: false, wantSeries: 2},
		{give: true, wantSeries: 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("omit %v", tt.give), func(t *testing.T) {
			c := NewCollector(fixed{testSnapshot(t, nil, nil)}, Options{OmitKeySeries: tt.give, SubjectsLimit: 20})
			reg := prometheus.NewPedanticRegistry()
			if err := reg.Register(c); err != nil {
				t.Fatalf("register: %v", err)
			}
			if _, err := reg.Gather(); err != nil {
				t.Fatalf("gather: %v", err)
			}
			for _, name := range perKey {
				if n := testutil.CollectAndCount(c, name); n != tt.wantSeries {
					t.Errorf("%s: %d series, want %d", name, n, tt.wantSeries)
				}
				if got := described(c, name); got != (tt.wantSeries > 0) {
					t.Errorf("%s described: %v, want %v", name, got, tt.wantSeries > 0)
				}
			}
			if n := testutil.CollectAndCount(c, "observerd_counter_keys"); n != 1 {
				t.Errorf("observerd_counter_keys: %d series, want 1", n)
			}
		})
	}
}

// described reports whether c's Describe sends the descriptor of name.
func described(c *Collector, name string) bool {
	ch := make(chan *prometheus.Desc, 256)
	c.Describe(ch)
	close(ch)
	for d := range ch {
		if strings.Contains(d.String(), `fqName: "`+name+`"`) {
			return true
		}
	}
	return false
}

func TestCollectorBeforeFirstSnapshot(t *testing.T) {
	c := NewCollector(fixed{nil}, Options{})
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d series before the first snapshot, want none", n)
	}
}

// TestDescriptions: Descriptions lists exactly what Describe sends, in the
// same order, with the same names, help and labels.
func TestDescriptions(t *testing.T) {
	c := NewCollector(fixed{nil}, Options{})
	ch := make(chan *prometheus.Desc, 256)
	c.Describe(ch)
	close(ch)
	var want []string
	for d := range ch {
		want = append(want, d.String())
	}
	var got []string
	seen := map[string]bool{}
	for _, d := range Descriptions() {
		got = append(got, prometheus.NewDesc(d.Name, d.Help, d.Labels, nil).String())
		if seen[d.Name] {
			t.Errorf("Descriptions lists %s twice", d.Name)
		}
		seen[d.Name] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Descriptions differ from Describe (-Describe +Descriptions):\n%s", diff)
	}
}

// TestEveryMetricDocumented fails when a metric the collector exports is
// missing from the README's metric table.
func TestEveryMetricDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	for _, d := range Descriptions() {
		if !strings.Contains(string(readme), "`"+d.Name+"`") {
			t.Errorf("metric %s is not documented in README.md", d.Name)
		}
	}
}

// ms is f milliseconds.
func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
