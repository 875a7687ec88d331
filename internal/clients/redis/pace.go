package redis

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// How a walk was paced (WalkStats.PacedBy).
const (
	// PacedByNothing: as fast as Redis answers, pipelinesInFlight batches
	// in flight.
	PacedByNothing = "unpaced"
	// PacedByKeyRate: Pass.MaxKeysPerSecond.
	PacedByKeyRate = "max_keys_per_second"
	// PacedByBudget: Pass.Budget, and the walk kept to it.
	PacedByBudget = "budget"
	// PacedByInterval: Pass.Budget, but the walk rested less than the
	// budget asked so as to finish by Pass.FinishBy.
	PacedByInterval = "interval"
)

// minRest is the shortest rest a budgeted walk takes: a shorter one is
// left for the next round trip's, since a timer cannot wait much less
// than this precisely. calibrateEvery is how often a budgeted walk reads
// INFO commandstats for the time the server has really spent on it, and
// minServerShare the least share of a round trip that counts as the
// server's between readings, whatever the last reading said.
const (
	minRest        = 200 * time.Microsecond
	calibrateEvery = 250 * time.Millisecond
	minServerShare = 0.1
)

// budget paces a walk by its share of Redis's time: the walk sends one
// request at a time, and goes on only once the server time it has spent
// is at most share of the time it has run. The server time is measured by
// INFO commandstats (the usec of SCAN, ZCOUNT and PTTL) every
// calibrateEvery where the server lets it be read; between readings each
// round trip counts for its length times the server's share of the round
// trips before the last reading. Where INFO commandstats cannot be read,
// a round trip counts whole: it is longer than the time the server spends
// on the request, so the walk errs on the side of resting. When Redis
// slows down (the rate limiter's commands queue before the walk's, or the
// server is slower) the same work costs more time and the walk rests
// longer. A walk that could not finish by finishBy at that pace rests
// less, spreading the time it has left over the round trips it is
// expected to take still: the poll interval wins over the budget, and the
// walk reports it (PacedByInterval). A walk with a spread time goes no
// faster than an even pace that ends then, however far below its budget
// that keeps it: a keyspace walked quickly is walked gently over the
// interval rather than in a burst at the budget's share.
type budget struct {
	share    float64
	finishBy time.Time // zero: no deadline
	spread   time.Time // zero: as fast as the budget lets it
	expected int64     // keys SCAN is expected to return in all
	step     int64     // keys a round trip reads (SCAN COUNT and batch)
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	began time.Time
	busy  time.Duration // the round trips so far
	seen  int64         // keys SCAN returned so far
	// late is set when, at its last round trip, the walk would not have
	// finished by finishBy even without resting: its steps should grow.
	late bool
	// spent is the server time of the servers walked before this one and
	// of this one up to its last reading; since adds the round trips
	// after that reading, each times serverShare, and trips is their
	// length.
	spent, since, trips time.Duration
	serverShare         float64
	// read reads the walked server's usec, prev is its last reading and
	// last the time of it; read is nil where it cannot be read.
	read func(context.Context) (int64, bool)
	prev int64
	last time.Time
}

func newBudget(share float64, finishBy, spread time.Time, expected, step int64) *budget {
	return &budget{share: share, finishBy: finishBy, spread: spread, expected: expected, step: max(step, 1),
		now: time.Now, sleep: sleepCtx, serverShare: 1}
}

// startServer begins the walk of a server whose usec read reads, usec
// being its first reading; ok is false where INFO commandstats cannot be
// read.
func (b *budget) startServer(read func(context.Context) (int64, bool), usec int64, ok bool) {
	b.spent += b.since
	b.since, b.trips, b.read, b.serverShare = 0, 0, nil, 1
	if b.began.IsZero() {
		b.began = b.now()
	}
	if !ok {
		return
	}
	b.read, b.prev, b.last = read, usec, b.now()
}

// roundTrip records a round trip of d that read scanned keys from SCAN
// (zero for a batch of counts) and rests as the budget and finishBy say.
func (b *budget) roundTrip(ctx context.Context, d time.Duration, scanned int) error {
	b.busy += d
	b.seen += int64(scanned)
	b.since += time.Duration(float64(d) * b.serverShare)
	b.trips += d
	b.calibrate(ctx)
	elapsed := b.now().Sub(b.began)
	rest := time.Duration(float64(b.spent+b.since)/b.share) - elapsed
	if !b.spread.IsZero() && b.expected > 0 {
		done := min(1, float64(b.seen)/float64(b.expected))
		rest = max(rest, time.Duration(done*float64(b.spread.Sub(b.began)))-elapsed)
	}
	if spare, ok := b.spare(); ok && spare < rest {
		rest = spare
	}
	if rest < minRest {
		return nil
	}
	return b.sleep(ctx, rest)
}

// calibrate replaces the round trips since the last reading of INFO
// commandstats by the server's own figure, once calibrateEvery has passed.
func (b *budget) calibrate(ctx context.Context) {
	if b.read == nil || b.now().Sub(b.last) < calibrateEvery {
		return
	}
	usec, ok := b.read(ctx)
	if !ok || usec < b.prev {
		// Unreadable now, or reset (CONFIG RESETSTAT): whole round
		// trips measure the rest of this server's walk.
		b.spent += b.since
		b.since, b.trips, b.read, b.serverShare = 0, 0, nil, 1
		return
	}
	server := time.Duration(usec-b.prev) * time.Microsecond
	if b.trips > 0 {
		b.serverShare = min(1, max(minServerShare, float64(server)/float64(b.trips)))
	}
	b.spent += server
	b.since, b.trips, b.prev, b.last = 0, 0, usec, b.now()
}

// spare is the rest a round trip may take and still finish by finishBy:
// the time left, less the round trips still expected at this walk's cost
// per key so far, shared among them. ok is false without a deadline or an
// estimate.
func (b *budget) spare() (time.Duration, bool) {
	if b.finishBy.IsZero() || b.seen == 0 {
		return 0, false
	}
	left := max(b.expected-b.seen, 0)
	// SCAN and the counts take a round trip each per step, and the
	// counts of the last page are still to come.
	trips := 2*((left+b.step-1)/b.step) + 1
	work := time.Duration(float64(b.busy) * float64(left) / float64(b.seen))
	free := b.finishBy.Sub(b.now()) - work
	if b.late = free <= 0; b.late {
		return 0, true
	}
	return free / time.Duration(trips+1), true
}

// pacedBy says whether the walk kept to its budget over its duration d, or
// finishBy made it take more.
func (b *budget) pacedBy(serverTime, d time.Duration) string {
	if d > 0 && float64(serverTime) > 1.01*b.share*float64(d) {
		return PacedByInterval
	}
	return PacedByBudget
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newPace is a pace of perSecond keys with a burst of one page. A limiter
// starts full; a walk starts with no keys in hand, so that a short one
// keeps to the pace too.
func newPace(perSecond float64, page int) *rate.Limiter {
	lim := rate.NewLimiter(rate.Limit(perSecond), page)
	lim.AllowN(time.Now(), page)
	return lim
}

// waitPace waits until n more keys read fit the walk's pace, or ctx ends.
func (wk *walker) waitPace(ctx context.Context, n int) error {
	if wk.pace == nil {
		return nil
	}
	// SCAN may return more keys than COUNT asked for, and so more than the
	// burst, the most one WaitN takes: they are paid a burst at a time.
	for burst := wk.pace.Burst(); n > 0; n -= burst {
		if err := wk.pace.WaitN(ctx, min(n, burst)); err != nil {
			// WaitN gives up at once, with an error of its own, when
			// the wait would outlast ctx's deadline: a paced walk waits
			// for it and times out like any other, with ctx's error.
			<-ctx.Done()
			return ctx.Err()
		}
	}
	return nil
}
