package main

import (
	"context"
	"fmt"

	"github.com/observerd/observerd/internal/snapshot"
)

// snapshotThroughput is part c: for each document size, observerd's
// /snapshot handler and a bare handler of the same bytes, each on its own
// loopback listener, under wrk in ABBA order so that drift in the
// machine's speed falls on both alike.
func (b *bench) snapshotThroughput(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the servers
	for _, c := range snapshotCases {
		const what = "/snapshot req/s under wrk -t1 -c16"
		obsRate, bareRate, notes, err := b.snapshotCase(ctx, c)
		if err != nil {
			b.t.fail("c", what, c.name, err)
			continue
		}
		b.t.add(row{part: "c", what: what, size: c.name, value: fmt.Sprintf("%.0f", obsRate), baseline: fmt.Sprintf("%.0f", bareRate),
			ratio: fmtRatio(obsRate, bareRate) + " observerd/bare", notes: notes})
	}
}

// snapshotCase serves one document both ways and returns the mean
// requests per second of each.
func (b *bench) snapshotCase(ctx context.Context, c snapshotCase) (float64, float64, string, error) {
	store := sizedStore(c.target)
	p := store.Load()
	h, err := observerdHandler(store)
	if err != nil {
		return 0, 0, "", err
	}
	obsURL, err := serveOn(ctx, h)
	if err != nil {
		return 0, 0, "", err
	}
	bareURL, err := serveOn(ctx, bareHandler(p, c.gzip))
	if err != nil {
		return 0, 0, "", err
	}
	urls := []string{obsURL + "/snapshot", bareURL + "/snapshot"}
	wire, err := sameBody(ctx, urls, c.gzip)
	if err != nil {
		return 0, 0, "", err
	}
	var sums [2]float64
	for range b.s.wrkRounds {
		for _, i := range []int{0, 1, 1, 0} {
			rate, err := runWrk(ctx, urls[i], b.s.wrkDuration, c.gzip)
			if err != nil {
				return 0, 0, "", err
			}
			sums[i] += rate
		}
	}
	n := float64(2 * b.s.wrkRounds)
	notes := fmt.Sprintf("JSON %s, %s on the wire; mean of %d wrk runs of %s per handler, ABBA order",
		fmtBytes(int64(len(p.JSON))), fmtBytes(int64(wire)), 2*b.s.wrkRounds, b.s.wrkDuration)
	return sums[0] / n, sums[1] / n, notes, nil
}

// metricsRender is part d at size: poll (unless sec is given), publish,
// and time /metrics; the smallest size is the baseline of the others.
func (b *bench) metricsRender(ctx context.Context, size int, sec *snapshot.RedisSection) {
	const what = "/metrics render time, series"
	if sec == nil {
		p, err := newPoller(b.r.url)
		if err != nil {
			b.t.fail("d", what, fmtKeys(size), err)
			return
		}
		sec, err = p.poll(ctx)
		p.close()
		if err != nil {
			b.t.fail("d", what, fmtKeys(size), err)
			return
		}
	}
	res, err := measureRender(sec, b.s.renderRuns)
	if err != nil {
		b.t.fail("d", what, fmtKeys(size), err)
		return
	}
	r := row{part: "d", what: what, size: fmtKeys(size), value: fmt.Sprintf("%s, %d series", fmtDur(res.took), res.series),
		notes: fmt.Sprintf("median of %d in-process GETs, %s of text", b.s.renderRuns, fmtBytes(int64(res.bytes)))}
	if size == b.s.renderSmall {
		b.smallDraw = &res
	} else if base := b.smallDraw; base != nil {
		r.baseline = fmt.Sprintf("%s, %d series", fmtDur(base.took), base.series)
		r.ratio = fmtRatio(float64(res.took), float64(base.took)) + " time, " + fmtRatio(float64(res.series), float64(base.series)) + " series vs " + fmtKeys(b.s.renderSmall)
	}
	b.t.add(r)
}
