package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/source"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenFile is the published JSON of goldenStore's snapshot. The
// exporter's golden test reads it too, as its fixture.
const goldenFile = "testdata/snapshot.golden.json"

// goldenStore returns a Store fed one poll of every source, so that every
// field of the schema carries a value other than its zero somewhere, and
// some Floats and Durations are null.
func goldenStore(t *testing.T) *Store {
	t.Helper()
	registered := t0.Add(-time.Hour)
	walked := t0.Add(-3 * time.Second)
	up, down := true, false
	s := NewStore(StoreConfig{
		Enabled:           source.All(),
		StaleAfter:        map[string]time.Duration{source.Ratelimiter: 15 * time.Second, source.Redis: 15 * time.Second, source.Prometheus: 15 * time.Second},
		DefaultLimit:      100,
		DefaultWindow:     time.Minute,
		MaxKeysOfInterest: 10,
		NodeForgetAfter:   10 * time.Minute,
		Now:               func() time.Time { return t0 },
		Judge: func(JudgeInput) ([]Violation, []UnknownInvariant) {
			return []Violation{
					{Invariant: "node_down", Subject: "node-2", Severity: "critical", Message: "node node-2 (10.0.0.2:8000) is unreachable: connection refused", FirstSeen: t0.Add(-3 * time.Minute), LastSeen: t0},
					{Invariant: "over_limit", Subject: "hot", Severity: "warning", Message: "key hot has 60 requests in its window, over its limit 50", FirstSeen: t0.Add(-time.Minute), LastSeen: t0,
						Evidence: []Evidence{{Source: "redis", At: t0, What: "entries in its window", Value: 60}, {Source: "redis", At: t0, What: "its own limit", Value: Null()}},
						Causes:   []string{"an override the nodes do not enforce", "entries written behind the nodes' back"}},
					{Invariant: "over_limit", Subject: "vip", Severity: "warning", Message: "key vip has 6 requests in its window, over its limit 5", FirstSeen: t0.Add(-30 * time.Second), LastSeen: t0},
					{Invariant: "counter_without_ttl", Subject: "leaky", Severity: "warning", Message: "counter leaky has no TTL", FirstSeen: t0.Add(-10 * time.Minute), LastSeen: t0},
				}, []UnknownInvariant{
					{Invariant: "high_latency", Reason: "source prometheus is stale"},
				}
		},
	})
	s.Update(SourceState{
		Source: source.Ratelimiter, LastAttempt: t0.Add(-time.Second), LastSuccess: t0.Add(-time.Second), Duration: 12500 * time.Microsecond, FailuresTotal: 1,
		Section: &NodesSection{Nodes: []NodeReport{
			{
				URL: "http://10.0.0.1:8000", Address: "10.0.0.1:8000", ID: "node-1", Reachable: true, HealthLatency: 1500 * time.Microsecond,
				Peers:    []PeerNode{{ID: "node-1", Address: "10.0.0.1:8000", State: "active", RegisteredAt: &registered}},
				Counters: []APICounter{{Key: "hot", Count: 58, Limit: 50}, {Key: "vip", Count: 6, Limit: 5}},
				Limits:   &APILimits{DefaultLimit: 50, DefaultWindow: 30 * time.Second},
				Blocked:  []APICounter{{Key: "hot", Count: 58, Limit: 50}},
			},
			{URL: "http://10.0.0.2:8000", Address: "10.0.0.2:8000", Errors: map[string]string{"/health": "dial tcp 10.0.0.2:8000: connect: connection refused"}},
		}},
	})
	s.Update(SourceState{
		Source: source.Redis, LastAttempt: t0.Add(-2 * time.Second), LastSuccess: t0.Add(-2 * time.Second), Duration: 30 * time.Millisecond,
		Section: &RedisSection{
			Info: RedisInfo{Connected: true, Ping: Known(250 * time.Microsecond), Version: "7.2.4", Role: "master", UsedMemoryBytes: 1 << 21, ConnectedClients: 7, DBKeys: 12},
			Registry: []RegistryEntry{
				{ID: "node-1", Address: "10.0.0.1:8000", RegisteredAt: &registered, TTL: 20 * time.Second},
				{ID: "node-2", Address: "10.0.0.2:8000", TTL: -1}, // no TTL, no registered_at
			},
			Overrides: []Override{{Key: "vip", Limit: 5, Window: Milliseconds(time.Second)}, {Key: "batch", Limit: 1000, Window: Milliseconds(time.Hour)},
				{Key: "long-" + strings.Repeat("o", 295), Limit: 1, Window: Milliseconds(time.Second)}}, // published cut
			Counters: Counters{
				Keys: 6, RequestsInWindow: 187, BlockedKeys: 2, OverLimitKeys: 2, KeysWithoutTTL: 1, OrphanSequenceKeys: 3, WrongTypeKeys: 1, KeysTTLBeyondWindow: 1,
				NearLimitKeys: 3, NearLimitRatio: 0.8,
				NearLimit: []NearLimitKey{{Key: "ghost", Count: 3, Limit: 0}, {Key: "hot", Count: 60, Limit: 50}, {Key: "vip", Count: 6, Limit: 5}},
				WalkedBy:  "observer-2", WalkedAt: &walked,
				Walk: &Walk{Duration: Known(1840 * time.Millisecond), KeysPerSecond: 54350, RedisShare: 0.142,
					ShareMeasuredBy: ShareByCommandstats, Budget: 0.15, PacedBy: "budget"},
				Top: []TopKey{
					{Key: "hot", Count: 60, Limit: 50, Remaining: 0, TTL: Milliseconds(30 * time.Second)},
					{Key: "leaky", Count: 12, Limit: 50, Remaining: 38, TTL: -1},
					{Key: "vip", Count: 6, Limit: 5, Remaining: 0, TTL: Milliseconds(time.Second)},
					// A key is bytes: published escaped.
					{Key: "bin\xff\xfe\xc0key", Count: 3, Limit: 50, Remaining: 47, TTL: Milliseconds(time.Minute)},
				},
			},
			Blocks:          []Block{{Key: "hot", Count: 60, Limit: 50}, {Key: "vip", Count: 6, Limit: 5}},
			BlocksTotal:     2,
			OverLimit:       []Block{{Key: "hot", Count: 60, Limit: 50}, {Key: "vip", Count: 6, Limit: 5}},
			ZeroLimitActive: []Block{{Key: "ghost", Count: 3, Limit: 0}},
			WithoutTTL:      []string{"leaky"},
			KeyCounts:       map[string]int64{"hot": 60, "vip": 6},
			DefaultLimit:    50,
			DefaultWindow:   30 * time.Second,
		},
	})
	s.Update(SourceState{
		Source: source.Prometheus, LastAttempt: t0.Add(-500 * time.Millisecond), LastSuccess: t0.Add(-40 * time.Second), Duration: 5 * time.Second,
		ConsecutiveFailures: 2, FailuresTotal: 7, Err: errors.New("query check_latency_p99: context deadline exceeded"),
		Section: &PrometheusSection{
			Instances: map[string]InstanceStats{
				"10.0.0.1:8000": {CheckLatencyP99: Known(4750 * time.Microsecond), AllowedPerSecond: 40.25, BlockedPerSecond: 1.25, Up: &up},
				"10.0.0.2:8000": {CheckLatencyP99: Duration{}, AllowedPerSecond: Null(), BlockedPerSecond: Null(), Up: &down},
			},
			AllowedPerSecond: 40.25,
			BlockedPerSecond: 1.25,
			QueryErrors:      map[string]string{"blocked_rate": "bad_data: parse error"},
		},
	})
	return s
}

// indented is doc pretty-printed, ending with a newline.
func indented(t *testing.T, doc []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		t.Fatalf("indent snapshot JSON: %v", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestSnapshotGolden pins the whole published document: a renamed field, a
// changed unit or a lost value shows as a diff of the golden file. Rewrite
// it with go test ./internal/snapshot/ -update after a deliberate change.
func TestSnapshotGolden(t *testing.T) {
	p := goldenStore(t).Load()
	got := indented(t, p.JSON)
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("read %s (create it with -update): %v", goldenFile, err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("published snapshot differs from %s (-want +got); if the change is deliberate, run go test ./internal/snapshot/ -update:\n%s", goldenFile, diff)
	}

	var version struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(want, &version); err != nil {
		t.Fatalf("decode %s: %v", goldenFile, err)
	}
	if version.SchemaVersion == nil || *version.SchemaVersion != 1 {
		t.Errorf("%s: schema_version = %v, want 1", goldenFile, version.SchemaVersion)
	}
}

// TestSnapshotGoldenRoundTrip: the golden document decodes into the very
// snapshot the Store published, and encodes back to the same bytes, so
// that the exporter may take the golden file as its fixture.
func TestSnapshotGoldenRoundTrip(t *testing.T) {
	p := goldenStore(t).Load()
	var decoded Snapshot
	if err := json.Unmarshal(p.JSON, &decoded); err != nil {
		t.Fatalf("decode the published snapshot: %v", err)
	}
	// Null is NaN, which equals nothing: two nulls are the same value here,
	// as are two negative TTLs (no TTL, written -1).
	opts := cmp.Options{
		cmp.Comparer(func(a, b Float) bool { return a == b || (!a.Valid() && !b.Valid()) }),
		cmp.Comparer(func(a, b Milliseconds) bool { return a == b || (a < 0 && b < 0) }),
	}
	if diff := cmp.Diff(p.Snapshot, &decoded, opts); diff != "" {
		t.Errorf("snapshot after a JSON round trip (-published +decoded):\n%s", diff)
	}
	again, err := json.Marshal(&decoded)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(p.JSON), string(again)); diff != "" {
		t.Errorf("JSON after a round trip (-published +again):\n%s", diff)
	}
}

// TestSnapshotGoldenCoversEveryField keeps the fixture complete: every
// field of the document holds a value other than its zero (null, false, 0,
// "", empty) somewhere in the golden file, so that a field added to the
// schema without a value in goldenStore is noticed.
func TestSnapshotGoldenCoversEveryField(t *testing.T) {
	var doc any
	if err := json.Unmarshal(indented(t, goldenStore(t).Load().JSON), &doc); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				p := path + "." + k
				if path == ".sources" || strings.HasSuffix(path, "errors") {
					p = path + ".*" // keyed by name: one field
				}
				set[p] = set[p] || !isZero(e)
				walk(p, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("", doc)
	var zero []string
	for p, ok := range set {
		if !ok {
			zero = append(zero, p)
		}
	}
	slices.Sort(zero)
	if diff := cmp.Diff([]string(nil), zero); diff != "" {
		t.Errorf("fields that hold only zero values in the golden snapshot; give them a value in goldenStore (-want +got):\n%s", diff)
	}
}

// isZero reports whether a decoded JSON value is null, false, 0, "" or
// empty.
func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}
