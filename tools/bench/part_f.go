package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/snapshot"
)

// Part f's sizes: the default hour at a 2 s interval, of a keyspace of
// historyKeys keys, every list at the default caps (OBSERVERD_TOP_KEYS,
// OBSERVERD_LIST_LIMIT) and the overrides a large cluster has.
const (
	historySummaries = 1800
	historyInterval  = 2 * time.Second
	historyKeys      = 100_000
	historyTop       = 20
	historyList      = 100 // blocks and near-limit keys
	historyOver      = 20  // over_limit violations, with evidence
	historyOverrides = 1000
	// historyBound is the bound docs/design.md states for the history.
	historyBound = 32 << 20
)

// historyMemory is part f: the heap that the default hour of history
// holds, measured in this process after GC, before and after recording
// historySummaries summaries whose keys and figures change every time,
// as a live cluster's do, so that compression is not flattered.
func (b *bench) historyMemory() {
	const what = "history heap, default hour at a 2 s interval"
	r := rand.New(rand.NewPCG(18, 2))
	before := heapAfterGC()
	h := history.New(history.Config{Horizon: time.Hour})
	t0 := time.Now().UTC()
	var records []time.Duration
	for i := range historySummaries {
		p, err := historySnapshot(uint64(i+1), t0.Add(time.Duration(i)*historyInterval), r)
		if err != nil {
			b.t.fail("f", what, fmtKeys(historyKeys), err)
			return
		}
		start := time.Now()
		if err := h.Record(p); err != nil {
			b.t.fail("f", what, fmtKeys(historyKeys), err)
			return
		}
		records = append(records, time.Since(start))
	}
	after := heapAfterGC()
	k := h.Kept()
	runtime.KeepAlive(h)
	heap := int64(after) - int64(before)
	b.t.add(row{
		part: "f", what: what + fmt.Sprintf(" (%d summaries)", k.Summaries), size: fmtKeys(historyKeys),
		value: fmtBytes(heap), baseline: fmtBytes(historyBound) + " bound", ratio: fmtRatio(float64(heap), historyBound) + " of the bound",
		notes: fmt.Sprintf("%d B per summary on the heap (%d B counted against the %s budget); key index %d keys, %d stretches; Record median %s, p99 %s; %d top, %d blocks, %d near-limit keys, %d violations with evidence per summary, new keys every time",
			heap/int64(max(1, k.Summaries)), k.Bytes/max(1, k.Summaries), fmtBytes(int64(k.MaxBytes)), k.Keys, k.Runs,
			fmtDur(median(records)), fmtDur(percentile(records, 99)), historyTop, historyList, historyList, historyOver+1),
	})
}

// heapAfterGC is the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// historySnapshot is one published snapshot of a large, busy cluster.
func historySnapshot(seq uint64, at time.Time, r *rand.Rand) (*snapshot.Published, error) {
	key := func() string { return fmt.Sprintf("tenant-%d:user:%d", r.IntN(200), r.IntN(historyKeys)) }
	s := &snapshot.Snapshot{
		SchemaVersion: snapshot.SchemaVersion, Sequence: seq, GeneratedAt: at,
		Sources: map[string]snapshot.SourceStatus{},
		Limits:  snapshot.Limits{DefaultLimit: 100, DefaultWindow: snapshot.Milliseconds(time.Minute), DefaultsFrom: "api"},
		Counters: snapshot.Counters{
			Keys: historyKeys + r.Int64N(1000), RequestsInWindow: 2_000_000 + r.Int64N(100_000),
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
	for range historyOverrides {
		s.Limits.Overrides = append(s.Limits.Overrides, snapshot.Override{Key: key(), Limit: r.Int64N(1000), Window: snapshot.Milliseconds(time.Minute)})
	}
	for range historyTop {
		c := 90 + r.Int64N(20)
		s.Counters.Top = append(s.Counters.Top, snapshot.TopKey{Key: key(), Count: c, Limit: 100, Remaining: max(0, 100-c), TTL: snapshot.Milliseconds(time.Duration(r.IntN(60_000)) * time.Millisecond)})
	}
	for range historyList {
		s.Blocks = append(s.Blocks, snapshot.Block{Key: key(), Count: 100 + r.Int64N(10), Limit: 100})
	}
	for i := range historyOver {
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
	for range historyList {
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
	return &snapshot.Published{Snapshot: s, JSON: body, Members: members, ETag: fmt.Sprintf(`"bench-%d"`, seq)}, nil
}
