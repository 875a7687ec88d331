package history

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// fullSnapshot is a snapshot of a large keyspace with every list full:
// 20 top keys, 100 blocks, 100 keys near their limit and 20 violations
// with evidence, its figures drawn from r so that summaries differ as a
// live cluster's do. It returns the near-limit list as JSON members for
// publish.
func fullSnapshot(seq uint64, at time.Time, r *rand.Rand) *snapshot.Snapshot {
	s := snap(seq, at)
	s.Counters.Keys = 100_000 + r.Int64N(1000)
	s.Counters.RequestsInWindow = 2_000_000 + r.Int64N(100_000)
	key := func() string { return fmt.Sprintf("tenant-%d:user:%d", r.IntN(50), r.IntN(100_000)) }
	for range 20 {
		c := 50 + r.Int64N(50)
		s.Counters.Top = append(s.Counters.Top, snapshot.TopKey{Key: key(), Count: c, Limit: 100, Remaining: 100 - c, TTL: snapshot.Milliseconds(time.Duration(r.IntN(60_000)) * time.Millisecond)})
	}
	for range 100 {
		s.Blocks = append(s.Blocks, snapshot.Block{Key: key(), Count: 100 + r.Int64N(5), Limit: 100})
	}
	s.BlocksTotal = 100 + r.IntN(1000)
	s.Counters.NearLimitKeys = int64(100 + r.IntN(1000))
	for range 100 {
		s.Counters.NearLimit = append(s.Counters.NearLimit, snapshot.NearLimitKey{Key: key(), Count: int64(80 + r.IntN(20)), Limit: 100})
	}
	for i := range 20 {
		k := key()
		s.Violations = append(s.Violations, snapshot.Violation{
			Invariant: "over_limit", Subject: k, Severity: "warning",
			Message:   fmt.Sprintf("key %s has %d requests in its window, over its limit 100", k, 101+r.IntN(10)),
			FirstSeen: at.Add(-time.Duration(i) * time.Minute), LastSeen: at,
			Evidence: []snapshot.Evidence{
				{Source: "redis", At: at, What: "requests of " + k + " in its window", Value: snapshot.Float(101 + r.IntN(10))},
				{Source: "node-1", At: at, What: "its count in the node's /api/counters", Value: snapshot.Float(100 + r.IntN(10))},
			},
			Causes: []string{"its override is not enforced by /check: compare its limit with the one its callers send"},
		})
	}
	return s
}

// BenchmarkRecord is the cost of recording one full snapshot into an hour
// of history at a 2 s interval (after the first hour, every record also
// evicts one).
func BenchmarkRecord(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const kinds = 64 // snapshots prepared, recorded in turn with new numbers
	pubs := make([]*snapshot.Published, kinds)
	for i := range pubs {
		s := fullSnapshot(uint64(i+1), t0, r)
		pubs[i] = publish(b, s)
	}
	h := New(Config{Horizon: time.Hour})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := *pubs[i%kinds]
		s := *p.Snapshot
		s.Sequence, s.GeneratedAt = uint64(i+1), t0.Add(time.Duration(i)*2*time.Second)
		p.Snapshot = &s
		if err := h.Record(&p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	k := h.Kept()
	b.ReportMetric(float64(k.Bytes)/float64(k.Summaries), "bytes/summary")
}
