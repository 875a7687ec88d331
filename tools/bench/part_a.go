package main

import (
	"context"
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// redisPoll is part a at one size: observerd's poll against the minimal
// loop and, when withExporter, against one redis_exporter scrape. It
// returns the last poll's section for part d, nil when polling failed.
func (b *bench) redisPoll(ctx context.Context, size int, withExporter bool) *snapshot.RedisSection {
	keys := fmtKeys(size)
	p, err := newPoller(b.r.url)
	if err != nil {
		b.t.fail("a", "Redis poll", keys, err)
		return nil
	}
	defer p.close()
	runs := b.s.pollRuns
	if size >= 1_000_000 {
		runs = min(runs, 3)
	}
	res, err := measurePoll(ctx, b.r, p, runs, size)
	if err != nil {
		b.t.fail("a", "Redis poll", keys, err)
		return nil
	}
	pollMed, loopMed := median(res.poll), median(res.loop)
	notes := fmt.Sprintf("median of %d; counters counted: poll %d, loop %d", runs, res.pollKeys, res.loopKeys)
	if res.pollKeys != int64(size) {
		notes += fmt.Sprintf("; POLL COUNTED %d, WANT %d", res.pollKeys, size)
	}
	b.t.add(row{part: "a", what: "Redis poll vs minimal loop", size: keys,
		value: fmtDur(pollMed), baseline: fmtDur(loopMed), ratio: fmtRatio(float64(pollMed), float64(loopMed)) + " poll/loop", notes: notes})
	pollSrv, loopSrv := median(res.pollServer), median(res.loopServer)
	b.t.add(row{part: "a", what: "Redis server time, poll vs minimal loop", size: keys,
		value: fmtDur(pollSrv), baseline: fmtDur(loopSrv), ratio: fmtRatio(float64(pollSrv), float64(loopSrv)) + " poll/loop",
		notes: fmt.Sprintf("median of %d; INFO commandstats usec of the run's commands (INFO left out): the poll's PING, walk, sample after the walk and TIME", runs)})
	if withExporter {
		b.exporterScrape(ctx, size, pollMed)
	}
	return res.section
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
