package main

import (
	"context"
	"time"
)

// addMemory records part e at size, against idle.
func (b *bench) addMemory(size int, m memory) {
	r := row{part: "e", what: "observerd VmRSS / VmHWM after a few polls", size: fmtKeys(size),
		value: fmtBytes(m.rss) + " / " + fmtBytes(m.hwm)}
	if size == 0 {
		r.size = "idle, no keys"
	} else if b.idleMem != nil {
		r.baseline = fmtBytes(b.idleMem.rss) + " / " + fmtBytes(b.idleMem.hwm)
		r.ratio = fmtRatio(float64(m.rss), float64(b.idleMem.rss)) + " / " + fmtRatio(float64(m.hwm), float64(b.idleMem.hwm)) + " vs idle"
	}
	b.t.add(r)
}

// memoryIdle is part e's baseline: an observer on an empty Redis.
func (b *bench) memoryIdle(ctx context.Context) {
	m, err := b.observerMemory(ctx, time.Minute)
	if err != nil {
		b.t.fail("e", "observerd VmRSS / VmHWM", "idle, no keys", err)
		return
	}
	b.idleMem = &m
	b.addMemory(0, m)
}

// memoryAt is part e at size, where no other part runs an observer.
func (b *bench) memoryAt(ctx context.Context, size int) {
	m, err := b.observerMemory(ctx, 5*time.Minute)
	if err != nil {
		b.t.fail("e", "observerd VmRSS / VmHWM", fmtKeys(size), err)
		return
	}
	b.addMemory(size, m)
}

// observerMemory runs one observer polling every second, unpaced, until
// it has polled three times, and reads its memory.
func (b *bench) observerMemory(ctx context.Context, timeout time.Duration) (memory, error) {
	obs, err := startObservers(ctx, b.p, b.d, observerOpts{count: 1, interval: time.Second, timeout: 2 * time.Minute, unpaced: true})
	defer stopObservers(obs)
	if err != nil {
		return memory{}, err
	}
	if err := obs[0].waitPolls(ctx, 3, timeout); err != nil {
		return memory{}, err
	}
	return readMemory(obs[0].proc.PID())
}
