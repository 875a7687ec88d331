package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// costCase is one group of observers whose Redis cost is measured.
type costCase struct {
	name string
	opts observerOpts
}

// costCommands are the commands reported one by one; the total covers all.
var costCommands = []string{"scan", "zcount", "pttl", "hgetall", "get", "set"}

// redisCost is part b's first half: Redis server time per poll interval
// with one observer, five coordinated and five uncoordinated, all polling
// every statsEvery, unpaced, so that every interval holds whole walks. It
// also records part e at this size from the single observer.
func (b *bench) redisCost(ctx context.Context, size int) {
	every := b.s.statsEvery
	cases := []costCase{
		{"1 observer, unpaced", observerOpts{count: 1, interval: every, timeout: 30 * time.Second, unpaced: true}},
		{"5 observers, coordination lease, unpaced", observerOpts{count: 5, interval: every, timeout: 30 * time.Second, coordination: "lease", unpaced: true}},
		{"5 observers, coordination off, unpaced", observerOpts{count: 5, interval: every, timeout: 30 * time.Second, coordination: "off", unpaced: true}},
	}
	var base float64
	for i, c := range cases {
		what := fmt.Sprintf("Redis usec per %s poll interval, %s", every, c.name)
		perInterval, notes, mem, err := b.measureCost(ctx, c.opts, i == 0)
		if err != nil {
			b.t.fail("b", what, fmtKeys(size), err)
			continue
		}
		r := row{part: "b", what: what, size: fmtKeys(size), value: fmt.Sprintf("%.0f µs", perInterval), notes: notes}
		if i == 0 {
			base = perInterval
			b.addMemory(size, mem)
		} else if base > 0 {
			r.baseline, r.ratio = fmt.Sprintf("%.0f µs", base), fmtRatio(perInterval, base)+" vs 1 observer"
		}
		b.t.add(r)
	}
}

// measureCost starts the observers, waits until each has polled, then
// measures Redis's command statistics over statsWindow. It returns the
// total server time per poll interval, the per-command breakdown, and the
// first observer's memory when mem is asked.
func (b *bench) measureCost(ctx context.Context, o observerOpts, mem bool) (float64, string, memory, error) {
	obs, err := startObservers(ctx, b.p, b.d, o)
	defer stopObservers(obs)
	if err != nil {
		return 0, "", memory{}, err
	}
	if err := b.r.resetStats(ctx); err != nil {
		return 0, "", memory{}, err
	}
	start := time.Now()
	if !pace(ctx, start.Add(b.s.statsWindow)) {
		return 0, "", memory{}, ctx.Err()
	}
	stats, err := b.r.commandStats(ctx)
	elapsed := time.Since(start)
	if err != nil {
		return 0, "", memory{}, err
	}
	intervals := elapsed.Seconds() / o.interval.Seconds()
	var parts []string
	for _, name := range costCommands {
		parts = append(parts, fmt.Sprintf("%s %.0f", name, float64(stats[name].usec)/intervals))
	}
	notes := fmt.Sprintf("µs per interval: %s; SCAN calls per interval %.1f; over %s; unpaced: %s",
		strings.Join(parts, ", "), float64(stats["scan"].calls)/intervals, elapsed.Round(100*time.Millisecond), b.d.unpacedNote())
	var m memory
	if mem {
		if m, err = readMemory(obs[0].proc.PID()); err != nil {
			return 0, "", m, err
		}
	}
	return float64(stats.total()) / intervals, notes, m, nil
}
