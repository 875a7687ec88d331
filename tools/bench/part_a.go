package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// redisPoll is part a at one size: observerd's poll, unpaced, and its
// first poll after a start against the fastest plain loop and, when
// withExporter, against one redis_exporter scrape. It returns the last
// poll's section for part d, nil when polling failed.
func (b *bench) redisPoll(ctx context.Context, size int, withExporter bool) *snapshot.RedisSection {
	keys := fmtKeys(size)
	const what = "Redis poll (unpaced) vs fastest plain loop"
	p, err := newPoller(b.r.url)
	if err != nil {
		b.t.fail("a", what, keys, err)
		return nil
	}
	defer p.close()
	runs := b.s.pollRuns
	if size >= 1_000_000 {
		runs = min(runs, 3)
	}
	res, err := measurePoll(ctx, b.r, p, runs, size)
	if err != nil {
		b.t.fail("a", what, keys, err)
		return nil
	}
	best := res.best()
	loopMed := median(best.wall)
	rounds := fmt.Sprintf("median of %d rounds of poll, every loop, first poll", runs)
	pollMed := median(res.poll)
	b.t.add(row{part: "a", what: what, size: keys,
		value: fmtDur(pollMed), baseline: fmtDur(loopMed), ratio: fmtRatio(float64(pollMed), float64(loopMed)) + " poll/loop",
		notes: fmt.Sprintf("%s; fastest loop: %s; the others: %s; %s", rounds, best.loop, otherLoops(res, best), countedNotes(res, size))})
	coldMed := median(res.cold)
	b.t.add(row{part: "a", what: "first Redis poll after a start (unpaced) vs fastest plain loop", size: keys,
		value: fmtDur(coldMed), baseline: fmtDur(loopMed), ratio: fmtRatio(float64(coldMed), float64(loopMed)) + " first poll/loop",
		notes: fmt.Sprintf("%s; a client and poller built anew each round: connections to dial, no earlier walk (the overrides unknown until it has walked once); Redis server time %s (poll %s); counters counted: %d",
			rounds, fmtDur(median(res.coldServer)), fmtDur(median(res.pollServer)), res.coldKeys)})
	pollSrv, loopSrv := median(res.pollServer), median(best.server)
	b.t.add(row{part: "a", what: "Redis server time, poll (unpaced) vs fastest plain loop", size: keys,
		value: fmtDur(pollSrv), baseline: fmtDur(loopSrv), ratio: fmtRatio(float64(pollSrv), float64(loopSrv)) + " poll/loop",
		notes: fmt.Sprintf("%s; INFO commandstats usec of the run's commands (INFO left out): the poll's PING, walk, sample after the walk and TIME", rounds)})
	if withExporter {
		b.exporterScrape(ctx, size, pollMed)
	}
	return res.section
}

// otherLoops lists the median wall time of every loop but best.
func otherLoops(res pollResult, best loopResult) string {
	var out []string
	for _, lr := range res.loops {
		if lr.loop != best.loop {
			out = append(out, fmt.Sprintf("%s %s", lr.loop, fmtDur(median(lr.wall))))
		}
	}
	return strings.Join(out, ", ")
}

// countedNotes says how many counters the poll and the loops counted, and
// shouts when one missed or repeated any.
func countedNotes(res pollResult, size int) string {
	notes := fmt.Sprintf("counters counted: poll %d", res.pollKeys)
	if res.pollKeys != int64(size) {
		notes += fmt.Sprintf(" (POLL COUNTED %d, WANT %d)", res.pollKeys, size)
	}
	var wrong []string
	for _, lr := range res.loops {
		for _, n := range lr.counted {
			if n != size {
				wrong = append(wrong, fmt.Sprintf("%s counted %d", lr.loop, n))
			}
		}
	}
	if len(wrong) == 0 {
		return notes + fmt.Sprintf(", every loop run %d", size)
	}
	return notes + fmt.Sprintf(", LOOPS WANT %d: %s", size, strings.Join(wrong, ", "))
}

// exporterScrape times redis_exporter's scrape at size against the poll's
// median.
func (b *bench) exporterScrape(ctx context.Context, size int, pollMed time.Duration) {
	keys := fmtKeys(size)
	const what = "Redis poll vs redis_exporter -check-keys"
	if b.exp == nil {
		b.t.fail("a", what, keys, b.expErr)
		return
	}
	runs := 1
	if size <= 10_000 {
		runs = 3
	}
	var ds []time.Duration
	series := 0
	for range runs {
		d, n, err := b.exp.scrape(ctx)
		if err != nil {
			b.t.fail("a", what, keys, err)
			return
		}
		ds, series = append(ds, d), n
	}
	scrape := median(ds)
	b.t.add(row{part: "a", what: what, size: keys, value: fmtDur(pollMed), baseline: fmtDur(scrape),
		ratio: fmtRatio(float64(scrape), float64(pollMed)) + " exporter/poll",
		notes: fmt.Sprintf("median of %d scrape(s) of /metrics, read to the end; %d redis_key_size series", runs, series)})
}
