package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/history/historytest"
)

// Part f's sizes: the default hour at a 2 s interval, every list at the
// default caps (OBSERVERD_TOP_KEYS, OBSERVERD_LIST_LIMIT) of a keyspace
// of 100k keys, with the overrides a large cluster has.
const (
	historySummaries = 1800
	historyInterval  = 2 * time.Second
	// historyBound is the bound docs/design.md states for the history.
	historyBound = 32 << 20
)

// historySize is the cluster part f's snapshots are of.
var historySize = historytest.Default

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
		p, err := historytest.Busy(uint64(i+1), t0.Add(time.Duration(i)*historyInterval), r, historySize)
		if err != nil {
			b.t.fail("f", what, fmtKeys(historySize.Keys), err)
			return
		}
		start := time.Now()
		if err := h.Record(p); err != nil {
			b.t.fail("f", what, fmtKeys(historySize.Keys), err)
			return
		}
		records = append(records, time.Since(start))
	}
	after := heapAfterGC()
	k := h.Kept()
	runtime.KeepAlive(h)
	heap := int64(after) - int64(before)
	b.t.add(row{
		part: "f", what: what + fmt.Sprintf(" (%d summaries)", k.Summaries), size: fmtKeys(historySize.Keys),
		value: fmtBytes(heap), baseline: fmtBytes(historyBound) + " bound", ratio: fmtRatio(float64(heap), historyBound) + " of the bound",
		notes: fmt.Sprintf("%d B per summary on the heap (%d B counted against the %s budget); key index %d keys, %d stretches; Record median %s, p99 %s; %d top, %d blocks, %d near-limit keys, %d violations with evidence per summary, new keys every time",
			heap/int64(max(1, k.Summaries)), k.Bytes/max(1, k.Summaries), fmtBytes(int64(k.MaxBytes)), k.Keys, k.Runs,
			fmtDur(median(records)), fmtDur(percentile(records, 99)), historySize.Top, historySize.List, historySize.List, historySize.OverLimit+1),
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
