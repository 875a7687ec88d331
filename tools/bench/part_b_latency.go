package main

import (
	"context"
	"fmt"
)

// measureLatency starts the observers (none for the baseline), waits until
// they have polled once, and runs the open-loop load for loadDuration.
func (b *bench) measureLatency(ctx context.Context, node string, o observerOpts) (loadResult, error) {
	if o.count > 0 {
		obs, err := startObservers(ctx, b.p, b.d, o)
		defer stopObservers(obs)
		if err != nil {
			return loadResult{}, err
		}
	}
	res := openLoop(ctx, node, b.s.loadRate, b.s.loadDuration)
	return res, ctx.Err()
}

// latencyRow formats one latency run beside the run without observers.
func latencyRow(what string, size int, res, base loadResult, isBase bool, s settings) row {
	p50, p99 := percentile(res.latencies, 50), percentile(res.latencies, 99)
	r := row{part: "b", what: what, size: fmtKeys(size), value: fmtDur(p50) + " / " + fmtDur(p99)}
	r.notes = fmt.Sprintf("%d requests at %.0f/s over %s, %d failed", res.sent, s.loadRate, s.loadDuration, res.failed)
	if res.failed > 0 {
		r.notes += " (last: " + res.lastErr + ")"
	}
	if !isBase && len(base.latencies) > 0 {
		b50, b99 := percentile(base.latencies, 50), percentile(base.latencies, 99)
		r.baseline = fmtDur(b50) + " / " + fmtDur(b99)
		r.ratio = fmtRatio(float64(p50), float64(b50)) + " / " + fmtRatio(float64(p99), float64(b99))
	}
	return r
}
