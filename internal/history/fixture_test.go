package history

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// t0 is the time of the first snapshot of the tests.
var t0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

// snap is a snapshot as the snapshot store publishes one: every list
// present, numbered seq, generated at.
func snap(seq uint64, at time.Time) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		SchemaVersion: snapshot.SchemaVersion,
		Sequence:      seq,
		GeneratedAt:   at,
		Sources: map[string]snapshot.SourceStatus{
			"redis":       {Status: snapshot.StatusOK},
			"ratelimiter": {Status: snapshot.StatusOK},
		},
		Nodes: []snapshot.Node{{ID: "node-1", Address: "10.0.0.1:8000", Reachable: true}, {ID: "node-2", Address: "10.0.0.2:8000"}},
		Limits: snapshot.Limits{DefaultLimit: 10, DefaultWindow: snapshot.Milliseconds(time.Minute), DefaultsFrom: "api",
			Overrides: []snapshot.Override{{Key: "vip", Limit: 1000, Window: snapshot.Milliseconds(time.Minute)}}},
		Counters:   snapshot.Counters{Keys: 5, RequestsInWindow: int64(seq), Top: []snapshot.TopKey{}},
		Blocks:     []snapshot.Block{},
		Redis:      snapshot.RedisInfo{Connected: true, Version: "7.0.15"},
		Traffic:    snapshot.Traffic{AllowedPerSecond: 4.5, BlockedPerSecond: snapshot.Null()},
		Violations: []snapshot.Violation{},
		Unknown:    []snapshot.UnknownInvariant{},
	}
}

// publish serializes s as the snapshot store does.
func publish(t testing.TB, s *snapshot.Snapshot) *snapshot.Published {
	t.Helper()
	body, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	members, err := snapshot.SplitMembers(body)
	if err != nil {
		t.Fatal(err)
	}
	return &snapshot.Published{Snapshot: s, JSON: body, Members: members, ETag: fmt.Sprintf(`"boot-%d"`, s.Sequence)}
}

// record records s in h.
func record(t testing.TB, h *Store, s *snapshot.Snapshot) {
	t.Helper()
	if err := h.Record(publish(t, s)); err != nil {
		t.Fatal(err)
	}
}

// every records n snapshots, from seq 1 at t0, one per interval, each
// changed by change (which may be nil) first.
func every(t testing.TB, h *Store, n int, interval time.Duration, change func(i int, s *snapshot.Snapshot)) {
	t.Helper()
	for i := range n {
		s := snap(uint64(i+1), t0.Add(time.Duration(i)*interval))
		if change != nil {
			change(i, s)
		}
		record(t, h, s)
	}
}
