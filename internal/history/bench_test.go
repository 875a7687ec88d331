package history

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/history/historytest"
	"github.com/observerd/observerd/internal/snapshot"
)

// BenchmarkRecord is the cost of recording one full snapshot into an hour
// of history at a 2 s interval (after the first hour, every record also
// evicts one).
func BenchmarkRecord(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const kinds = 64 // snapshots prepared, recorded in turn with new numbers
	pubs := make([]*snapshot.Published, kinds)
	for i := range pubs {
		p, err := historytest.Busy(uint64(i+1), t0, r, historytest.Default)
		if err != nil {
			b.Fatal(err)
		}
		pubs[i] = p
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
