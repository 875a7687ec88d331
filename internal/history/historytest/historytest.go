// Package historytest builds snapshots of a large, busy cluster for the
// history's benchmarks: its Go benchmark and make bench's part f.
package historytest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// Sizes are the sizes of a busy cluster's snapshot.
type Sizes struct {
	Keys      int // the keyspace, from which key names are drawn
	Overrides int
	Top       int // OBSERVERD_TOP_KEYS
	List      int // blocks and near-limit keys: OBSERVERD_LIST_LIMIT
	OverLimit int // over_limit violations, with evidence
}

// Default is the default caps at a keyspace of 100k keys with 1000
// overrides.
var Default = Sizes{Keys: 100_000, Overrides: 1000, Top: 20, List: 100, OverLimit: 20}

// Busy is one published snapshot of a large, busy cluster of size:
// every list full, figures and key names drawn from r so that two
// summaries differ as a live cluster's do.
func Busy(seq uint64, at time.Time, r *rand.Rand, size Sizes) (*snapshot.Published, error) {
	key := func() string { return fmt.Sprintf("tenant-%d:user:%d", r.IntN(200), r.IntN(size.Keys)) }
	s := &snapshot.Snapshot{
		SchemaVersion: snapshot.SchemaVersion, Sequence: seq, GeneratedAt: at,
		Sources: map[string]snapshot.SourceStatus{},
		Limits:  snapshot.Limits{DefaultLimit: 100, DefaultWindow: snapshot.Milliseconds(time.Minute), DefaultsFrom: "api"},
		Counters: snapshot.Counters{
			Keys: int64(size.Keys) + r.Int64N(1000), RequestsInWindow: 2_000_000 + r.Int64N(100_000),
			BlockedKeys: 500 + r.Int64N(100), OverLimitKeys: r.Int64N(50), WalkedBy: "observerd-0", WalkedAt: &at,
		},
		BlocksTotal: 500 + r.IntN(100),
		Redis: snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(time.Duration(r.IntN(1000)) * time.Microsecond), Version: "7.0.15", Role: "master",
			UsedMemoryBytes: 300<<20 + r.Int64N(1<<20), ConnectedClients: 20 + r.Int64N(5), DBKeys: 200_000 + r.Int64N(1000)},
		Traffic:    snapshot.Traffic{AllowedPerSecond: snapshot.Float(1000 * r.Float64()), BlockedPerSecond: snapshot.Float(100 * r.Float64())},
		Violations: []snapshot.Violation{},
		Unknown:    []snapshot.UnknownInvariant{},
	}
	for _, name := range []string{"ratelimiter", "redis", "prometheus"} {
		last := at.Add(-time.Duration(r.IntN(2000)) * time.Millisecond)
		s.Sources[name] = snapshot.SourceStatus{Status: snapshot.StatusOK, LastAttempt: &last, LastSuccess: &last,
			Age: snapshot.Known(at.Sub(last)), Duration: snapshot.Known(time.Duration(r.IntN(500)) * time.Millisecond), FailuresTotal: uint64(r.IntN(10))}
	}
	for i := range 3 {
		s.Nodes = append(s.Nodes, snapshot.Node{ID: fmt.Sprintf("node-%d", i+1), Address: fmt.Sprintf("10.0.0.%d:8000", i+1), Registered: true, Reachable: true,
			RegistryTTL: snapshot.Known(time.Duration(r.IntN(20_000)) * time.Millisecond), HealthLatency: snapshot.Known(time.Duration(r.IntN(5000)) * time.Microsecond),
			CheckLatencyP99: snapshot.Known(time.Duration(r.IntN(5000)) * time.Microsecond), AllowedPerSecond: snapshot.Float(300 * r.Float64()), BlockedPerSecond: snapshot.Float(30 * r.Float64())})
	}
	for range size.Overrides {
		s.Limits.Overrides = append(s.Limits.Overrides, snapshot.Override{Key: key(), Limit: r.Int64N(1000), Window: snapshot.Milliseconds(time.Minute)})
	}
	for range size.Top {
		c := 90 + r.Int64N(20)
		s.Counters.Top = append(s.Counters.Top, snapshot.TopKey{Key: key(), Count: c, Limit: 100, Remaining: max(0, 100-c), TTL: snapshot.Milliseconds(time.Duration(r.IntN(60_000)) * time.Millisecond)})
	}
	for range size.List {
		s.Blocks = append(s.Blocks, snapshot.Block{Key: key(), Count: 100 + r.Int64N(10), Limit: 100})
	}
	for i := range size.OverLimit {
		k := key()
		s.Violations = append(s.Violations, snapshot.Violation{
			Invariant: "over_limit", Subject: k, Severity: "warning",
			Message:   fmt.Sprintf("key %s has %d requests in its window, over its limit 100", k, 101+r.IntN(10)),
			FirstSeen: at.Add(-time.Duration(i) * time.Minute), LastSeen: at,
			Evidence: []snapshot.Evidence{
				{Source: "redis", At: at, What: "requests of " + k + " in its window", Value: snapshot.Float(101 + r.IntN(10))},
				{Source: "node-1", At: at, What: "its count in the node's /api/counters", Value: snapshot.Float(100 + r.IntN(10))},
			},
			Causes: []string{"its override is not enforced by /check: compare its limit with the one its callers send", "a node counts with another window"},
		})
	}
	s.Violations = append(s.Violations, snapshot.Violation{Invariant: "hot_key", Subject: s.Counters.Top[0].Key, Severity: "info",
		Message: "one key takes 55% of the checks", FirstSeen: at, LastSeen: at,
		Evidence: []snapshot.Evidence{{Source: "prometheus", At: at, What: "share of the checks", Value: snapshot.Float(r.Float64())}}, Causes: []string{}})
	s.Counters.NearLimitKeys = int64(1000 + r.IntN(1000))
	for range size.List {
		s.Counters.NearLimit = append(s.Counters.NearLimit, snapshot.NearLimitKey{Key: key(), Count: int64(80 + r.IntN(20)), Limit: 100})
	}
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	members, err := snapshot.SplitMembers(body)
	if err != nil {
		return nil, err
	}
	return &snapshot.Published{Snapshot: s, JSON: body, Members: members, ETag: fmt.Sprintf(`"busy-%d"`, seq)}, nil
}
