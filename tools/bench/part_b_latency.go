package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// latencyRounds is how many runs without observers (A) and with the
// default sidecars (B) part b alternates, A B A B A B: enough for the A
// runs' spread to say what a ratio of B against them means.
const latencyRounds = 3

// noiseRatio is how far above the A runs' median p99 a p99 may lie and
// still be within noise, when it is above their highest.
const noiseRatio = 1.1

// latencyCase is one observer setup judged by a single B run.
type latencyCase struct {
	name string
	opts observerOpts
}

// checkLatency is part b's second half: /check p50 and p99 under steady
// open-loop load against one ratelimiterd. Runs without observers (A)
// alternate with runs beside five sidecars at their default settings
// (B), whose walks' share of Redis's time is measured meanwhile; then
// one run of each other setup, judged against the A runs' spread.
func (b *bench) checkLatency(ctx context.Context, size int) {
	node, proc, err := startNode(ctx, b.p, b.s.bin, b.r.url)
	if proc != nil {
		defer proc.Stop()
	}
	if err != nil {
		b.t.fail("b", "/check latency", fmtKeys(size), err)
		return
	}
	defer func() {
		if err := dropCheckKeys(ctx, b.r); err != nil {
			b.t.fail("b", "/check latency", fmtKeys(size), fmt.Errorf("delete the load's keys: %w", err))
		}
	}()
	const (
		aName = "/check latency p99, no observer (A runs)"
		bName = "/check latency p99, 5 observers, default settings (B runs, ABAB)"
	)
	// Default settings: nothing but what every observer of the bench
	// needs; coordination lease and the 5 s interval are the defaults.
	defaults := observerOpts{count: 5}
	var a, bs []loadResult
	share := &walkShare{}
	var failed error
	for i := range 2 * latencyRounds {
		o, w := observerOpts{}, (*walkShare)(nil)
		if i%2 == 1 {
			o, w = defaults, share
		}
		res, err := b.measureLatency(ctx, node, o, w)
		if err != nil {
			failed = err
			break
		}
		if i%2 == 0 {
			a = append(a, res)
		} else {
			bs = append(bs, res)
		}
	}
	if failed != nil {
		b.t.fail("b", bName, fmtKeys(size), failed)
		return
	}
	base := newSpread(a)
	b.t.add(row{part: "b", what: aName, size: fmtKeys(size), value: base.String(),
		notes: fmt.Sprintf("p99 of each run %s; p50 median %s; %s", fmtDurs(base.p99s), fmtDur(median(base.p50s)), b.loadNotes(a))})
	obs := newSpread(bs)
	b.t.add(row{part: "b", what: bName, size: fmtKeys(size), value: obs.String(), baseline: base.String(),
		ratio: fmtRatio(float64(obs.median()), float64(base.median())) + " p99 medians, " + base.judge(obs.median()),
		notes: fmt.Sprintf("p99 of each B run %s, each after an A run; p50 median %s vs %s; lease, 5 s, no other setting; %s",
			fmtDurs(obs.p99s), fmtDur(median(obs.p50s)), fmtDur(median(base.p50s)), b.loadNotes(bs))})
	totals, err := share.result()
	b.walkShareRow(size, totals, err)
	b.singleRuns(ctx, node, size, base)
}

// singleRuns are the setups judged by one B run each against the A runs.
func (b *bench) singleRuns(ctx context.Context, node string, size int, base spread) {
	cases := []latencyCase{
		{"5 observers, lease, unpaced", observerOpts{count: 5, unpaced: true}},
		{"5 observers, coordination off, default settings otherwise", observerOpts{count: 5, coordination: "off"}},
	}
	for _, c := range cases {
		what := "/check latency p99, " + c.name + " (one run)"
		res, err := b.measureLatency(ctx, node, c.opts, nil)
		if err != nil {
			b.t.fail("b", what, fmtKeys(size), err)
			continue
		}
		p99 := percentile(res.latencies, 99)
		notes := fmt.Sprintf("p50 %s vs A median %s; %s", fmtDur(percentile(res.latencies, 50)), fmtDur(median(base.p50s)), b.loadNotes([]loadResult{res}))
		if c.opts.unpaced {
			notes += "; unpaced: " + b.d.unpacedNote()
		}
		b.t.add(row{part: "b", what: what, size: fmtKeys(size), value: fmtDur(p99), baseline: base.String(),
			ratio: fmtRatio(float64(p99), float64(base.median())) + " p99/A median, " + base.judge(p99), notes: notes})
	}
}

// measureLatency starts the observers (none for an A run), waits until
// they have polled once, and runs the open-loop load for loadDuration;
// with share, it follows the walks meanwhile.
func (b *bench) measureLatency(ctx context.Context, node string, o observerOpts, share *walkShare) (loadResult, error) {
	if o.count > 0 {
		obs, err := startObservers(ctx, b.p, b.d, o)
		defer stopObservers(obs)
		if err != nil {
			return loadResult{}, err
		}
		if share != nil {
			wctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { share.watch(wctx, b.r, obs) })
			defer wg.Wait()
			defer cancel()
		}
	}
	res := openLoop(ctx, node, b.s.loadRate, b.s.loadDuration)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(res.latencies) == 0 {
		return res, errors.New("no request answered: " + res.lastErr)
	}
	return res, nil
}

// loadNotes sums up the load of runs: their requests and failures.
func (b *bench) loadNotes(runs []loadResult) string {
	sent, failed, last := 0, 0, ""
	for _, r := range runs {
		sent, failed = sent+r.sent, failed+r.failed
		if r.lastErr != "" {
			last = r.lastErr
		}
	}
	notes := fmt.Sprintf("%d run(s) of %s at %.0f/s, %d requests in all, %d failed", len(runs), b.s.loadDuration, b.s.loadRate, sent, failed)
	if last != "" {
		notes += " (last: " + last + ")"
	}
	return notes
}

// spread is the p50 and p99 of each of several runs of one setup.
type spread struct{ p50s, p99s []time.Duration }

func newSpread(runs []loadResult) spread {
	var s spread
	for _, r := range runs {
		s.p50s = append(s.p50s, percentile(r.latencies, 50))
		s.p99s = append(s.p99s, percentile(r.latencies, 99))
	}
	return s
}

func (s spread) median() time.Duration { return median(s.p99s) }

// String is the median p99 and the range of the runs' p99s.
func (s spread) String() string {
	return fmt.Sprintf("%s (%s–%s)", fmtDur(s.median()), fmtDur(slices.Min(s.p99s)), fmtDur(slices.Max(s.p99s)))
}

// judge says whether p99 is within the noise of the runs of s: within
// their lowest and highest p99, or at most noiseRatio times their median.
func (s spread) judge(p99 time.Duration) string {
	if (p99 >= slices.Min(s.p99s) && p99 <= slices.Max(s.p99s)) || float64(p99) <= noiseRatio*float64(s.median()) {
		return "within noise"
	}
	return "BEYOND NOISE"
}

// fmtDurs prints durations as "1.2 ms, 3.4 ms".
func fmtDurs(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmtDur(d)
	}
	return strings.Join(out, ", ")
}
