package snapshot

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/observerd/observerd/internal/source"
	"go.uber.org/zap/zaptest"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// clock is a manual clock for the Store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestStore(t *testing.T, c *clock) *Store {
	t.Helper()
	return NewStore(StoreConfig{
		Enabled:           []string{source.Ratelimiter, source.Redis, source.Prometheus},
		StaleAfter:        map[string]time.Duration{source.Redis: 15 * time.Second, source.Ratelimiter: 15 * time.Second, source.Prometheus: 15 * time.Second},
		DefaultLimit:      100,
		DefaultWindow:     time.Minute,
		NodeForgetAfter:   10 * time.Minute,
		MaxKeysOfInterest: KeysOfInterestLimit,
		Logger:            zaptest.NewLogger(t),
		Now:               c.Now,
	})
}

func redisSection() *RedisSection {
	reg := t0.Add(-time.Hour)
	return &RedisSection{
		Info:        RedisInfo{Connected: true, Ping: Known(ms(0.3)), Version: "7.0.15", Role: "master", UsedMemoryBytes: 1 << 20, ConnectedClients: 7, DBKeys: 12},
		Registry:    []RegistryEntry{{ID: "node-1", Address: "10.0.0.1:8000", RegisteredAt: &reg, TTL: 21 * time.Second}, {ID: "node-2", Address: "10.0.0.2:8000", TTL: 25 * time.Second}},
		Overrides:   []Override{{Key: "vip", Limit: 5, Window: Milliseconds(1000 * time.Millisecond)}},
		Counters:    Counters{Keys: 3, RequestsInWindow: 30, BlockedKeys: 1, Top: []TopKey{{Key: "a", Count: 20, Limit: 10, Remaining: 0, TTL: Milliseconds(60000 * time.Millisecond)}, {Key: "b", Count: 10, Limit: 100, Remaining: 90, TTL: Milliseconds(1000 * time.Millisecond)}}},
		Blocks:      []Block{{Key: "a", Count: 20, Limit: 10}},
		BlocksTotal: 1,
	}
}

func TestStoreBeforeFirstUpdate(t *testing.T) {
	s := newTestStore(t, &clock{now: t0})
	if s.Load() != nil {
		t.Fatal("Load before any update is not nil")
	}
	if h := s.Hints(); h.DefaultLimit != 100 || h.DefaultWindow != time.Minute {
		t.Errorf("Hints = %+v, want the configured defaults", h)
	}
}

func TestStoreSourceStatus(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Duration: 2 * time.Millisecond, Section: redisSection()})
	snap := s.Load().Snapshot
	if got := snap.Sources[source.Redis].Status; got != StatusOK {
		t.Errorf("redis status = %q, want ok", got)
	}
	if got := snap.Sources[source.Prometheus].Status; got != StatusPending {
		t.Errorf("prometheus status = %q, want pending", got)
	}

	// A failure keeps the last good data, marked stale with the error.
	c.Add(5 * time.Second)
	s.Update(SourceState{Source: source.Redis, LastAttempt: c.Now(), LastSuccess: t0, ConsecutiveFailures: 1, FailuresTotal: 1, Err: errors.New("dial tcp: connection refused"), Section: redisSection()})
	snap = s.Load().Snapshot
	st := snap.Sources[source.Redis]
	if st.Status != StatusStale || st.Error != "dial tcp: connection refused" || st.ConsecutiveFailures != 1 {
		t.Errorf("redis source = %+v, want stale with the error", st)
	}
	if snap.Counters.Keys != 3 || len(snap.Counters.Top) != 2 {
		t.Errorf("counters lost on failure: %+v", snap.Counters)
	}
	if snap.Redis.Connected {
		t.Error("redis.connected stays true while Redis fails")
	}
	if st.Age != Known(5*time.Second) {
		t.Errorf("age = %v, want 5s", st.Age)
	}

	// Failing with nothing good at all is an error.
	s.Update(SourceState{Source: source.Prometheus, LastAttempt: c.Now(), ConsecutiveFailures: 1, Err: errors.New("boom")})
	if got := s.Load().Snapshot.Sources[source.Prometheus].Status; got != StatusError {
		t.Errorf("prometheus status = %q, want error", got)
	}

	// Data older than the bound is stale although no poll failed.
	s.Update(SourceState{Source: source.Ratelimiter, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: &NodesSection{}})
	c.Add(16 * time.Second)
	s.Update(SourceState{Source: source.Prometheus, LastAttempt: c.Now(), ConsecutiveFailures: 2, Err: errors.New("boom")})
	if st := s.Load().Snapshot.Sources[source.Ratelimiter]; st.Status != StatusStale || !strings.Contains(st.Error, "more than 15s") {
		t.Errorf("old ratelimiter data = %+v, want stale", st)
	}
}

// TestStoreJudgesTheWalkTime: a fresh read of a walk another observer made
// long ago is old data.
func TestStoreJudgesTheWalkTime(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	sec := redisSection()
	walked := t0.Add(-10 * time.Second)
	sec.Counters.WalkedBy, sec.Counters.WalkedAt = "obs-2", &walked
	s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: sec})
	if st := s.Load().Snapshot.Sources[source.Redis]; st.Status != StatusOK {
		t.Fatalf("a walk 10s old, bound 15s: %+v, want ok", st)
	}
	c.Add(6 * time.Second)
	s.Update(SourceState{Source: source.Redis, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: sec})
	snap := s.Load().Snapshot
	st := snap.Sources[source.Redis]
	if st.Status != StatusStale || !strings.Contains(st.Error, "counters walked by obs-2 16s ago, more than 15s") {
		t.Errorf("a walk 16s old read just now: %+v, want stale naming the walker", st)
	}
	if snap.Counters.WalkedBy != "obs-2" || !snap.Counters.WalkedAt.Equal(walked) {
		t.Errorf("counters walked by %q at %v, want obs-2 at %v", snap.Counters.WalkedBy, snap.Counters.WalkedAt, walked)
	}
}

func TestStoreSequenceAndJSON(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	for i := 1; i <= 3; i++ {
		s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redisSection()})
		if got := s.Load().Snapshot.Sequence; got != uint64(i) {
			t.Fatalf("sequence = %d, want %d", got, i)
		}
	}
	p := s.Load()
	if !strings.HasPrefix(p.ETag, `"`) || !strings.HasSuffix(p.ETag, `-3"`) {
		t.Errorf("ETag = %s", p.ETag)
	}
	var doc map[string]any
	if err := json.Unmarshal(p.JSON, &doc); err != nil {
		t.Fatalf("snapshot JSON: %v", err)
	}
	for _, field := range []string{"schema_version", "sequence", "generated_at", "sources", "nodes", "limits", "counters", "blocks", "redis", "traffic", "violations"} {
		if _, ok := doc[field]; !ok {
			t.Errorf("snapshot lacks %q", field)
		}
	}
}

func TestStoreNaNBecomesNull(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	up := true
	s.Update(SourceState{Source: source.Prometheus, LastAttempt: t0, LastSuccess: t0, Section: &PrometheusSection{
		Instances:        map[string]InstanceStats{"10.0.0.1:8000": {CheckLatencyP99: Duration{}, AllowedPerSecond: Float(math.Inf(1)), BlockedPerSecond: 0.5, Up: &up}},
		AllowedPerSecond: Float(math.Inf(-1)),
		BlockedPerSecond: Null(),
	}})
	p := s.Load()
	var doc struct {
		Nodes []struct {
			P99     *float64 `json:"check_latency_p99_ms"`
			Allowed *float64 `json:"allowed_per_second"`
			Blocked *float64 `json:"blocked_per_second"`
		} `json:"nodes"`
		Traffic struct {
			Allowed *float64 `json:"allowed_per_second"`
		} `json:"traffic"`
	}
	if err := json.Unmarshal(p.JSON, &doc); err != nil {
		t.Fatalf("snapshot with NaN is not JSON: %v\n%s", err, p.JSON)
	}
	if len(doc.Nodes) != 1 || doc.Nodes[0].P99 != nil || doc.Nodes[0].Allowed != nil || doc.Nodes[0].Blocked == nil || doc.Traffic.Allowed != nil {
		t.Errorf("NaN/Inf not null: %s", p.JSON)
	}
}

func TestStoreMergesNodes(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redisSection()})
	up := true
	s.Update(SourceState{Source: source.Prometheus, LastAttempt: t0, LastSuccess: t0, Section: &PrometheusSection{
		Instances: map[string]InstanceStats{"10.0.0.1:8000": {CheckLatencyP99: Known(2500 * time.Microsecond), AllowedPerSecond: 12.5, BlockedPerSecond: 0.5, Up: &up}},
	}})
	s.Update(SourceState{Source: source.Ratelimiter, LastAttempt: t0, LastSuccess: t0, Section: &NodesSection{Nodes: []NodeReport{
		// Configured as localhost, registered as 10.0.0.1: joined by id.
		{URL: "http://localhost:8000", Address: "localhost:8000", ID: "node-1", Reachable: true, HealthLatency: 1400 * time.Microsecond,
			Counters: []APICounter{{Key: "a", Count: 19, Limit: 10}}, Limits: &APILimits{DefaultLimit: 10, DefaultWindow: 60 * time.Second}},
		{URL: "http://10.0.0.2:8000", Address: "10.0.0.2:8000", Errors: map[string]string{"/health": "connection refused"}},
	}}})
	snap := s.Load().Snapshot
	if len(snap.Nodes) != 2 {
		t.Fatalf("nodes = %+v, want 2", snap.Nodes)
	}
	n1, n2 := snap.Nodes[0], snap.Nodes[1]
	if n1.ID != "node-1" || n1.Address != "10.0.0.1:8000" || !n1.Registered || !n1.Reachable || n1.HealthLatency != Known(1400*time.Microsecond) || n1.CheckLatencyP99 != Known(2500*time.Microsecond) || float64(n1.AllowedPerSecond) != 12.5 || n1.RegisteredAt == nil {
		t.Errorf("node-1 = %+v", n1)
	}
	if n2.ID != "node-2" || n2.Reachable || !n2.Registered || n2.EndpointErrors["/health"] == "" {
		t.Errorf("node-2 = %+v", n2)
	}
	if snap.Limits.DefaultLimit != 10 || snap.Limits.DefaultsFrom != "api" || len(snap.Limits.Overrides) != 1 {
		t.Errorf("limits = %+v", snap.Limits)
	}
	if a := snap.Counters.Top[0]; a.APICount == nil || *a.APICount != 19 {
		t.Errorf("top[0].api_count = %v, want 19", a.APICount)
	}
	if snap.Counters.Top[1].APICount != nil {
		t.Error("top[1] has an api_count no node reported")
	}
	if h := s.Load().Hints; h.DefaultLimit != 10 || len(h.RegistryAddrs) != 2 || len(h.KeysOfInterest) != 1 {
		t.Errorf("hints = %+v", h)
	}

	// node-2's registry entry expires and it stops answering: it stays
	// listed as down until it is forgotten.
	c.Add(time.Minute)
	sec := redisSection()
	sec.Registry = sec.Registry[:1]
	s.Update(SourceState{Source: source.Redis, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: sec})
	s.Update(SourceState{Source: source.Ratelimiter, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: &NodesSection{Nodes: []NodeReport{
		{URL: "http://localhost:8000", Address: "localhost:8000", ID: "node-1", Reachable: true},
	}}})
	snap = s.Load().Snapshot
	if len(snap.Nodes) != 2 || snap.Nodes[1].ID != "node-2" || snap.Nodes[1].Registered || snap.Nodes[1].Reachable {
		t.Errorf("vanished node-2 not kept as down: %+v", snap.Nodes)
	}
	c.Add(11 * time.Minute)
	s.Update(SourceState{Source: source.Ratelimiter, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: &NodesSection{Nodes: []NodeReport{
		{URL: "http://localhost:8000", Address: "localhost:8000", ID: "node-1", Reachable: true},
	}}})
	if snap = s.Load().Snapshot; len(snap.Nodes) != 1 {
		t.Errorf("node-2 not forgotten after NODE_FORGET_AFTER: %+v", snap.Nodes)
	}
}

func TestStoreJudge(t *testing.T) {
	c := &clock{now: t0}
	var got JudgeInput
	s := NewStore(StoreConfig{
		Enabled: []string{source.Redis}, DefaultLimit: 100, DefaultWindow: time.Minute, NodeForgetAfter: time.Minute, Now: c.Now,
		Judge: func(in JudgeInput) ([]Violation, []UnknownInvariant) {
			got = in
			return []Violation{{Invariant: "over_limit", Subject: "a", Severity: "warning"}}, nil
		},
	})
	s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redisSection()})
	if got.Redis == nil || !got.Fresh[source.Redis] || got.Snapshot == nil {
		t.Errorf("judge input = %+v", got)
	}
	if v := s.Load().Snapshot.Violations; len(v) != 1 || v[0].Subject != "a" {
		t.Errorf("violations = %+v", v)
	}
}

// TestStoreConcurrentReaders runs readers against a publishing writer; the
// race detector proves that published snapshots are never written.
func TestStoreConcurrentReaders(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redisSection()})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				p := s.Load()
				snap := p.Snapshot
				if snap.Sequence < last {
					t.Errorf("sequence went back from %d to %d", last, snap.Sequence)
					return
				}
				last = snap.Sequence
				for _, n := range snap.Nodes {
					_ = n.ID + n.Address
				}
				for _, k := range snap.Counters.Top {
					if k.APICount != nil {
						_ = *k.APICount
					}
				}
				if !json.Valid(p.JSON) {
					t.Error("invalid JSON published")
					return
				}
			}
		}()
	}
	for i := range 150 {
		src := []string{source.Redis, source.Ratelimiter, source.Prometheus}[i%3]
		var sec Section
		switch src {
		case source.Redis:
			sec = redisSection()
		case source.Ratelimiter:
			sec = &NodesSection{Nodes: []NodeReport{{Address: "10.0.0.1:8000", ID: "node-1", Reachable: true, Counters: []APICounter{{Key: "a", Count: int64(i)}}}}}
		default:
			sec = &PrometheusSection{Instances: map[string]InstanceStats{"10.0.0.1:8000": {CheckLatencyP99: Known(time.Millisecond)}}}
		}
		s.Update(SourceState{Source: src, LastAttempt: t0, LastSuccess: t0, Section: sec})
	}
	close(done)
	wg.Wait()
	if got := s.Load().Snapshot.Sequence; got != 151 {
		t.Errorf("sequence = %d, want 151", got)
	}
}

// TestStoreRemembersVanishedNode: a node that left the registry and is no
// longer polled, but is still a Prometheus target, keeps who it is.
func TestStoreRemembersVanishedNode(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redisSection()})
	s.Update(SourceState{Source: source.Ratelimiter, LastAttempt: t0, LastSuccess: t0, Section: &NodesSection{Nodes: []NodeReport{
		{URL: "http://10.0.0.2:8000", Address: "10.0.0.2:8000", ID: "node-2", Reachable: true},
	}}})
	c.Add(time.Minute)
	sec := redisSection()
	sec.Registry = sec.Registry[:1]
	down := false
	s.Update(SourceState{Source: source.Redis, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: sec})
	s.Update(SourceState{Source: source.Ratelimiter, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: &NodesSection{}})
	s.Update(SourceState{Source: source.Prometheus, LastAttempt: c.Now(), LastSuccess: c.Now(), Section: &PrometheusSection{
		Instances: map[string]InstanceStats{"10.0.0.2:8000": {CheckLatencyP99: Duration{}, AllowedPerSecond: Null(), BlockedPerSecond: Null(), Up: &down}},
	}})
	for _, n := range s.Load().Snapshot.Nodes {
		if n.Address != "10.0.0.2:8000" {
			continue
		}
		if n.ID != "node-2" || n.URL != "http://10.0.0.2:8000" || n.Reachable || n.Registered || n.ScrapeUp == nil || *n.ScrapeUp {
			t.Errorf("vanished node = %+v, want node-2 with its URL, down", n)
		}
		return
	}
	t.Error("vanished node-2 is not listed")
}

// ms is f milliseconds.
func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func TestHintsKeysOfInterest(t *testing.T) {
	nodes := &NodesSection{Nodes: []NodeReport{
		{Address: "a:1", Counters: []APICounter{{Key: "zeta"}, {Key: "alpha"}, {Key: "mid"}}},
		{Address: "b:1", Counters: []APICounter{{Key: "alpha"}, {Key: "beta"}}},
		{Address: "c:1"}, // /api/counters failed: says nothing
	}}
	tests := []struct {
		max  int
		want []string
	}{
		{max: 10, want: []string{"alpha", "beta", "mid", "zeta"}},
		{max: 2, want: []string{"alpha", "beta"}},
		{max: 0, want: []string{}},
	}
	for _, tt := range tests {
		h := hintsFrom(&Snapshot{Limits: Limits{DefaultLimit: 7, DefaultWindow: Milliseconds(time.Second)}}, nil, nodes, tt.max)
		want := Hints{DefaultLimit: 7, DefaultWindow: time.Second, KeysOfInterest: tt.want}
		if diff := cmp.Diff(want, h, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("hints with at most %d keys (-want +got):\n%s", tt.max, diff)
		}
	}
}

// TestStoreOnPublish: the hook is handed every snapshot, in order, each
// the one Load returns right after it.
func TestStoreOnPublish(t *testing.T) {
	var got []*Published
	var s *Store
	s = NewStore(StoreConfig{
		Enabled: []string{source.Redis},
		Now:     (&clock{now: t0}).Now,
		OnPublish: func(p *Published) {
			if p != s.Load() {
				t.Errorf("snapshot %d handed to OnPublish is not the one published", p.Snapshot.Sequence)
			}
			got = append(got, p)
		},
	})
	for range 3 {
		s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redisSection()})
	}
	if len(got) != 3 || got[0].Snapshot.Sequence != 1 || got[2].Snapshot.Sequence != 3 {
		t.Errorf("OnPublish saw %d snapshots", len(got))
	}
}
