package statuspage

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Names a peer could send: the page must show them as text.
const (
	hostileKey   = `<script>alert(1)</script>`
	hostileNode  = `<b onmouseover="alert(2)">node-x</b>`
	hostileError = `dial tcp: <img src=x onerror=alert(3)>`
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a real snapshot.Store fed by the test, whose invariants
// report whatever the test sets.
type fixture struct {
	clock *testClock
	store *snapshot.Store

	mu         sync.Mutex // guards violations and unknown
	violations []snapshot.Violation
	unknown    []snapshot.UnknownInvariant
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{clock: &testClock{now: t0}}
	f.store = snapshot.NewStore(snapshot.StoreConfig{
		Enabled:           source.All(),
		StaleAfter:        map[string]time.Duration{source.Ratelimiter: 15 * time.Second, source.Redis: 15 * time.Second, source.Prometheus: 15 * time.Second},
		DefaultLimit:      100,
		DefaultWindow:     time.Minute,
		MaxKeysOfInterest: 10,
		NodeForgetAfter:   10 * time.Minute,
		Now:               f.clock.Now,
		Judge: func(snapshot.JudgeInput) ([]snapshot.Violation, []snapshot.UnknownInvariant) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.violations, f.unknown
		},
	})
	return f
}

// judge sets what the invariants report from the next publish on.
func (f *fixture) judge(v []snapshot.Violation, u []snapshot.UnknownInvariant) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.violations, f.unknown = v, u
}

// publish feeds the Redis section again: one more snapshot, judged anew.
func (f *fixture) publish() *snapshot.Published {
	now := f.clock.Now()
	f.store.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Duration: 30 * time.Millisecond, Section: redisSection(now)})
	return f.store.Load()
}

// publishAll feeds one poll of every source, with every field set
// somewhere, some values unknown and some names hostile.
func (f *fixture) publishAll() *snapshot.Published {
	now := f.clock.Now()
	f.store.Update(snapshot.SourceState{
		Source: source.Ratelimiter, LastAttempt: now.Add(-time.Second), LastSuccess: now.Add(-time.Second), Duration: 12500 * time.Microsecond, FailuresTotal: 1,
		Section: nodesSection(now),
	})
	f.store.Update(snapshot.SourceState{
		Source: source.Prometheus, LastAttempt: now.Add(-500 * time.Millisecond), LastSuccess: now.Add(-40 * time.Second), Duration: 5 * time.Second,
		ConsecutiveFailures: 2, FailuresTotal: 7, Err: errors.New("query check_latency_p99: " + hostileError),
		Section: promSection(),
	})
	return f.publish()
}

// publishHealthy feeds one poll of every source, each fresh and without
// an error.
func (f *fixture) publishHealthy() *snapshot.Published {
	now := f.clock.Now()
	f.store.Update(snapshot.SourceState{Source: source.Ratelimiter, LastAttempt: now, LastSuccess: now, Section: nodesSection(now)})
	f.store.Update(snapshot.SourceState{Source: source.Prometheus, LastAttempt: now, LastSuccess: now, Section: promSection()})
	return f.publish()
}

// fullViolations are one violation of each severity, and one more.
func fullViolations() []snapshot.Violation {
	return []snapshot.Violation{
		{
			Invariant: "over_limit", Subject: hostileKey, Severity: "warning", Message: "key " + hostileKey + " has 60 requests in its window, over its limit 50", FirstSeen: t0.Add(-time.Minute), LastSeen: t0,
			Evidence: []snapshot.Evidence{
				{Source: "redis", At: t0.Add(-2 * time.Second), What: "requests of " + hostileKey + " in its window", Value: 60},
				{Source: hostileNode, At: t0.Add(-time.Second), What: "its count in the node's /api/counters", Value: 58},
				{Source: "observerd", At: t0, What: "share above its limit", Value: 0.2},
				{Source: "prometheus", At: t0, What: "a figure not known", Value: snapshot.Null()},
			},
			Causes: []string{"its override is not enforced by /check: compare its limit with the one its callers send", "a writer that says " + hostileError},
		},
		{Invariant: "sequence_key_leak", Subject: "redis", Severity: "info", Message: "3 orphan :seq keys", FirstSeen: t0.Add(-5 * time.Minute), LastSeen: t0},
		{Invariant: "node_down", Subject: "node-2", Severity: "critical", Message: `node "node-2" (10.0.0.2:8000) is unreachable: connection refused`, FirstSeen: t0.Add(-130 * time.Second), LastSeen: t0},
		{Invariant: "counter_without_ttl", Subject: "leaky", Severity: "warning", Message: "counter leaky has no TTL", FirstSeen: t0.Add(-10 * time.Minute), LastSeen: t0},
	}
}

func nodesSection(now time.Time) *snapshot.NodesSection {
	registered := now.Add(-time.Hour)
	return &snapshot.NodesSection{Nodes: []snapshot.NodeReport{
		{
			URL: "http://10.0.0.1:8000", Address: "10.0.0.1:8000", ID: "node-1", Reachable: true, HealthLatency: 1500 * time.Microsecond,
			Peers:    []snapshot.PeerNode{{ID: "node-1", Address: "10.0.0.1:8000", State: "active", RegisteredAt: &registered}},
			Counters: []snapshot.APICounter{{Key: "hot", Count: 58, Limit: 50}, {Key: hostileKey, Count: 6, Limit: 5}},
			Limits:   &snapshot.APILimits{DefaultLimit: 50, DefaultWindow: 30 * time.Second},
			Blocked:  []snapshot.APICounter{{Key: "hot", Count: 58, Limit: 50}},
		},
		{URL: "http://10.0.0.2:8000", Address: "10.0.0.2:8000", Errors: map[string]string{"/health": "dial tcp 10.0.0.2:8000: connect: connection refused"}},
		{URL: "http://10.0.0.3:8000", Address: "10.0.0.3:8000", ID: hostileNode, Reachable: true, HealthLatency: 3 * time.Millisecond,
			Errors: map[string]string{"/api/counters": hostileError}},
	}}
}

func redisSection(now time.Time) *snapshot.RedisSection {
	registered, walked := now.Add(-time.Hour), now.Add(-3*time.Second)
	return &snapshot.RedisSection{
		Info: snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(250 * time.Microsecond), Version: "7.2.4", Role: "master", UsedMemoryBytes: 3 << 20, ConnectedClients: 7, DBKeys: 12},
		Registry: []snapshot.RegistryEntry{
			{ID: "node-1", Address: "10.0.0.1:8000", RegisteredAt: &registered, TTL: 20 * time.Second},
			{ID: "node-2", Address: "10.0.0.2:8000", TTL: -1},
			{ID: hostileNode, Address: "10.0.0.3:8000", RegisteredAt: &registered, TTL: 18 * time.Second},
		},
		Overrides: []snapshot.Override{{Key: hostileKey, Limit: 5, Window: snapshot.Milliseconds(time.Second)}, {Key: "batch", Limit: 1000, Window: snapshot.Milliseconds(time.Hour)}},
		Counters: snapshot.Counters{
			Keys: 6, RequestsInWindow: 187, BlockedKeys: 2, OverLimitKeys: 2, KeysWithoutTTL: 1, KeysTTLBeyondWindow: 4, OrphanSequenceKeys: 3, WrongTypeKeys: 1,
			WalkedBy: "observer-2", WalkedAt: &walked,
			Walk: &snapshot.Walk{Duration: snapshot.Known(1843 * time.Millisecond), KeysPerSecond: 3.3, RedisShare: 0.12,
				ShareMeasuredBy: snapshot.ShareByCommandstats, Budget: 0.15, PacedBy: "budget"},
			NearLimitKeys: 4, NearLimitRatio: 0.8,
			NearLimit: []snapshot.NearLimitKey{{Key: "ghost", Count: 0, Limit: 0}, {Key: "hot", Count: 60, Limit: 50}, {Key: hostileKey, Count: 6, Limit: 5}},
			Top: []snapshot.TopKey{
				{Key: "hot", Count: 60, Limit: 50, Remaining: 0, TTL: snapshot.Milliseconds(30 * time.Second)},
				{Key: "leaky", Count: 12, Limit: 50, Remaining: 38, TTL: -1},
				{Key: hostileKey, Count: 6, Limit: 5, Remaining: 0, TTL: snapshot.Milliseconds(time.Second)},
			},
		},
		Blocks:        []snapshot.Block{{Key: "hot", Count: 60, Limit: 50}, {Key: hostileKey, Count: 6, Limit: 5}},
		BlocksTotal:   2,
		OverLimit:     []snapshot.Block{{Key: "hot", Count: 60, Limit: 50}, {Key: hostileKey, Count: 6, Limit: 5}},
		WithoutTTL:    []string{"leaky"},
		KeyCounts:     map[string]int64{"hot": 60, hostileKey: 6},
		DefaultLimit:  50,
		DefaultWindow: 30 * time.Second,
	}
}

func promSection() *snapshot.PrometheusSection {
	up, down := true, false
	return &snapshot.PrometheusSection{
		Instances: map[string]snapshot.InstanceStats{
			"10.0.0.1:8000": {CheckLatencyP99: snapshot.Known(4750 * time.Microsecond), AllowedPerSecond: 40.25, BlockedPerSecond: 1.25, Up: &up},
			"10.0.0.2:8000": {AllowedPerSecond: snapshot.Null(), BlockedPerSecond: snapshot.Null(), Up: &down},
		},
		AllowedPerSecond: 40.25,
		BlockedPerSecond: 1.25,
		QueryErrors:      map[string]string{"blocked_rate": "bad_data: parse error"},
	}
}

// newTestPage is the page of f's store, on f's clock.
func newTestPage(f *fixture, opts Options) *Page {
	opts.Store, opts.Now = f.store, f.clock.Now
	if opts.Version == "" {
		opts.Version = "1.2.3-test"
	}
	return New(opts)
}

// get renders p as a GET / would.
func get(t testing.TB, p *Page) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	return w
}

// body renders p and fails unless it answers 200 with HTML.
func body(t testing.TB, p *Page) string {
	t.Helper()
	w := get(t, p)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	return w.Body.String()
}
