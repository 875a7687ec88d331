package redis

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

// fakeTime is a clock that only sleeps and round trips move.
type fakeTime struct {
	t      time.Time
	slept  []time.Duration
	reader int64 // usec the fake server reports
}

func (f *fakeTime) now() time.Time { return f.t }

func (f *fakeTime) sleep(_ context.Context, d time.Duration) error {
	f.slept = append(f.slept, d)
	f.t = f.t.Add(d)
	return nil
}

// trip runs a round trip of d on the fake clock and has b rest after it.
func (f *fakeTime) trip(t *testing.T, b *budget, d time.Duration, scanned int) {
	t.Helper()
	f.t = f.t.Add(d)
	if err := b.roundTrip(t.Context(), d, scanned); err != nil {
		t.Fatal(err)
	}
}

func newFakeBudget(f *fakeTime, share float64, finishBy time.Time, expected int64) *budget {
	b := newBudget(share, finishBy, time.Time{}, expected, 100)
	b.now, b.sleep = f.now, f.sleep
	return b
}

func (f *fakeTime) total() (d time.Duration) {
	for _, s := range f.slept {
		d += s
	}
	return d
}

// TestBudgetRestsByRoundTrips: without INFO commandstats, a walk at a 20%
// budget rests four times each round trip, and rests longer when Redis
// slows down and its round trips lengthen.
func TestBudgetRestsByRoundTrips(t *testing.T) {
	f := &fakeTime{t: time.Unix(1000, 0)}
	b := newFakeBudget(f, 0.2, time.Time{}, 0)
	b.startServer(nil, 0, false)
	for range 10 {
		f.trip(t, b, time.Millisecond, 100)
	}
	if got := f.total(); got != 40*time.Millisecond {
		t.Errorf("rests after ten 1 ms round trips: %v, want 40ms", got)
	}
	f.slept = nil
	for range 10 {
		f.trip(t, b, 5*time.Millisecond, 100)
	}
	if got := f.total(); got != 200*time.Millisecond {
		t.Errorf("rests after ten 5 ms round trips: %v, want 200ms", got)
	}
	if busy, elapsed := b.busy, f.t.Sub(time.Unix(1000, 0)); float64(busy) > 0.2*float64(elapsed)*1.001 {
		t.Errorf("busy %v of %v: more than the budget", busy, elapsed)
	}
	if b.read != nil || b.pacedBy(b.busy, f.t.Sub(time.Unix(1000, 0))) != PacedByBudget {
		t.Errorf("measured by commandstats %v, paced by %s: want round trips, budget", b.read != nil, b.pacedBy(b.busy, f.t.Sub(time.Unix(1000, 0))))
	}
}

// TestBudgetShortRestsAddUp: rests shorter than a timer keeps are owed
// and taken together.
func TestBudgetShortRestsAddUp(t *testing.T) {
	f := &fakeTime{t: time.Unix(1000, 0)}
	b := newFakeBudget(f, 0.5, time.Time{}, 0)
	b.startServer(nil, 0, false)
	for range 10 {
		f.trip(t, b, 50*time.Microsecond, 0)
	}
	if len(f.slept) != 2 || f.total() != 400*time.Microsecond {
		t.Errorf("rests %v after ten 50µs round trips at 50%%: want two of 200µs", f.slept)
	}
}

// TestBudgetCalibratesByCommandstats: once calibrateEvery has passed, the
// server's own figure replaces the round trips, which are longer: the walk
// rests less, and still keeps to its budget by the server's measure.
func TestBudgetCalibratesByCommandstats(t *testing.T) {
	f := &fakeTime{t: time.Unix(1000, 0), reader: 5_000}
	began := f.t
	reads := 0
	read := func(context.Context) (int64, bool) { reads++; return f.reader, true }
	b := newFakeBudget(f, 0.1, time.Time{}, 0)
	b.startServer(read, f.reader, true)
	// Round trips of 1 ms of which the server spends 250 µs.
	for range 400 {
		f.reader += 250
		f.trip(t, b, time.Millisecond, 100)
	}
	server := time.Duration(f.reader-5_000) * time.Microsecond
	elapsed := f.t.Sub(began)
	if share := float64(server) / float64(elapsed); share > 0.101 || share < 0.09 {
		t.Errorf("server %v over %v: share %.3f, want about the budget 0.1", server, elapsed, share)
	}
	if reads < 3 || b.read == nil {
		t.Errorf("%d readings, still read %v: want one every %v", reads, b.read != nil, calibrateEvery)
	}
	// A reset of the statistics: round trips measure the rest.
	f.reader = 0
	for range 100 {
		f.trip(t, b, time.Millisecond, 100)
	}
	if b.read != nil {
		t.Error("after a reset: still measured by commandstats, want round trips")
	}
}

// TestBudgetGivesWayToTheDeadline: a walk that would not finish by
// finishBy at its budget rests less, finishes in time, and says so.
func TestBudgetGivesWayToTheDeadline(t *testing.T) {
	f := &fakeTime{t: time.Unix(1000, 0)}
	began := f.t
	// 10,000 keys in 200 round trips of 1 ms: 1 s at a 20% budget,
	// but it must be done in 500 ms.
	b := newFakeBudget(f, 0.2, began.Add(500*time.Millisecond), 10_000)
	b.startServer(nil, 0, false)
	for range 100 {
		f.trip(t, b, time.Millisecond, 100) // SCAN
		f.trip(t, b, time.Millisecond, 0)   // counts
	}
	if took := f.t.Sub(began); took > 500*time.Millisecond || took < 400*time.Millisecond {
		t.Errorf("the walk took %v, want just within 500ms", took)
	}
	if got := b.pacedBy(b.busy, f.t.Sub(began)); got != PacedByInterval {
		t.Errorf("paced by %q, want %q", got, PacedByInterval)
	}
	if b.late {
		t.Error("late, though it finished in time")
	}
	// Without time even for its round trips, it is late: its steps grow.
	f = &fakeTime{t: began}
	b = newFakeBudget(f, 0.2, began.Add(100*time.Millisecond), 10_000)
	b.startServer(nil, 0, false)
	f.trip(t, b, time.Millisecond, 100)
	f.trip(t, b, time.Millisecond, 0)
	if !b.late || len(f.slept) != 0 {
		t.Errorf("late %v, rests %v: want late without a rest", b.late, f.slept)
	}
	// The same walk with time to spare keeps to its budget.
	f = &fakeTime{t: began}
	b = newFakeBudget(f, 0.2, began.Add(2*time.Second), 10_000)
	b.startServer(nil, 0, false)
	for range 100 {
		f.trip(t, b, time.Millisecond, 100)
		f.trip(t, b, time.Millisecond, 0)
	}
	if took := f.t.Sub(began); took != time.Second {
		t.Errorf("with time to spare the walk took %v, want 1s", took)
	}
	if got := b.pacedBy(b.busy, f.t.Sub(began)); got != PacedByBudget {
		t.Errorf("paced by %q, want %q", got, PacedByBudget)
	}
}

func TestCommandTime(t *testing.T) {
	text := "# Commandstats\r\n" +
		"cmdstat_scan:calls=10,usec=1500,usec_per_call=150.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_zcount:calls=2000,usec=3000,usec_per_call=1.50\r\n" +
		"cmdstat_PTTL:calls=2000,usec=500,usec_per_call=0.25\r\n" +
		"cmdstat_info:calls=3,usec=90000,usec_per_call=30000\r\n"
	if usec, ok := commandTime(text, walkCommands); !ok || usec != 5000 {
		t.Errorf("commandTime = %d, %v; want 5000 µs of scan, zcount and pttl", usec, ok)
	}
	for _, bad := range []string{"", "# Server\r\nredis_version:7.0.15\r\n", "cmdstat_scan:calls=1,usec=-5\r\n", "cmdstat_scan:calls=1,usec=x\r\n",
		"cmdstat_scan:usec=9223372036854775807\r\ncmdstat_pttl:usec=1\r\n"} {
		if usec, ok := commandTime(bad, walkCommands); ok {
			t.Errorf("commandTime(%q) = %d, true; want not known", bad, usec)
		}
	}
}

// seededCounters starts a Redis holding n counters (see seedCounters) and
// returns a client of this package and one to read Redis with.
func seededCounters(t *testing.T, ctx context.Context, n int) (*Client, *goredis.Client) {
	t.Helper()
	srv := testenv.StartRedis(t)
	rc := seedClient(t, srv.Addr, "")
	seedCounters(t, ctx, rc, n)
	return newTestClient(t, Options{URL: srv.URL}), rc
}

// seedCounters writes n counter sorted sets of three entries, two in the
// default window, with a TTL.
func seedCounters(t *testing.T, ctx context.Context, rc *goredis.Client, n int) {
	t.Helper()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	ms := float64(now.UnixMilli())
	pipe := rc.Pipeline()
	for i := range n {
		k := fmt.Sprintf("ratelimit:c:%05d", i)
		pipe.ZAdd(ctx, k, goredis.Z{Score: ms - 1000, Member: "a"}, goredis.Z{Score: ms - 500, Member: "b"}, goredis.Z{Score: ms - 120_000, Member: "c"})
		pipe.Expire(ctx, k, 10*time.Minute)
		if pipe.Len() >= 2000 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWalkBudget walks a real Redis at a budget: every counter is
// counted as an unpaced walk counts it, and the time Redis spent in the
// walk's commands, by its own INFO commandstats, is at most the budget's
// share of the walk's duration.
func TestWalkBudget(t *testing.T) {
	ctx := testContext(t)
	const n = 20_000
	c, rc := seededCounters(t, ctx, n)
	var unpacedCount int64
	pass := Pass{KeyPrefix: "ratelimit:", Window: func(string) time.Duration { return time.Minute }}
	unpaced, err := c.Walk(ctx, Pass{KeyPrefix: pass.KeyPrefix, Window: pass.Window, Budget: 1, Visit: func(cn Counter) { unpacedCount += cn.Count }})
	if err != nil {
		t.Fatalf("unpaced Walk: %v", err)
	}
	if unpaced.Stats.PacedBy != PacedByNothing || unpaced.Stats.Counters != n || unpacedCount != 2*n {
		t.Fatalf("unpaced: paced by %q, %d counters, %d in window; want unpaced, %d, %d", unpaced.Stats.PacedBy, unpaced.Stats.Counters, unpacedCount, n, 2*n)
	}
	const share = 0.15
	var count int64
	pass.Budget, pass.ExpectedKeys = share, n
	pass.Visit = func(cn Counter) { count += cn.Count }
	before := commandstatsUsec(t, ctx, rc)
	res, err := c.Walk(ctx, pass)
	if err != nil {
		t.Fatalf("Walk at a budget: %v", err)
	}
	server := time.Duration(commandstatsUsec(t, ctx, rc)-before) * time.Microsecond
	st := res.Stats
	if st.Counters != n || count != 2*n || st.ScannedKeys != n {
		t.Errorf("at a budget: %d counters, %d in window, %d scanned; want %d, %d, %d", st.Counters, count, st.ScannedKeys, n, 2*n, n)
	}
	if st.PacedBy != PacedByBudget || !st.ServerTimeKnown {
		t.Errorf("paced by %q, server time known %v; want %q, true", st.PacedBy, st.ServerTimeKnown, PacedByBudget)
	}
	// The test's own reading around the walk, the INFO calls left out.
	if got := float64(server) / float64(st.Duration); got > share*1.02 {
		t.Errorf("Redis spent %v in the walk's commands over %v: share %.3f, above the budget %.2f", server, st.Duration, got, share)
	}
	if st.ServerTime > server || st.ServerTime < server/2 {
		t.Errorf("the walk measured %v of server time, Redis says %v", st.ServerTime, server)
	}
	// Paced, the walk takes longer than unpaced: it rested.
	if st.Duration < unpaced.Stats.Duration {
		t.Errorf("at a budget the walk took %v, unpaced %v", st.Duration, unpaced.Stats.Duration)
	}
}

// TestWalkBudgetFinishesInTime: a budget that would make the walk outlast
// FinishBy gives way to it.
func TestWalkBudgetFinishesInTime(t *testing.T) {
	ctx := testContext(t)
	const n = 20_000
	c, _ := seededCounters(t, ctx, n)
	unpaced, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", Budget: 1})
	if err != nil {
		t.Fatal(err)
	}
	// At 1% the walk would take about a hundred times its server time;
	// it has four times the unpaced walk's duration, and a second.
	room := 4*unpaced.Stats.Duration + time.Second
	finishBy := time.Now().Add(room)
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", Budget: 0.01, FinishBy: finishBy, ExpectedKeys: n})
	if err != nil {
		t.Fatal(err)
	}
	st := res.Stats
	if st.Counters != n || st.PacedBy != PacedByInterval {
		t.Errorf("%d counters, paced by %q; want %d, %q", st.Counters, st.PacedBy, n, PacedByInterval)
	}
	if late := time.Since(finishBy); late > room/4 {
		t.Errorf("the walk ended %v after FinishBy (it had %v)", late, room)
	}
	if share := st.Spent().Seconds() / st.Duration.Seconds(); share <= 0.01 {
		t.Errorf("share %.4f: want above the 1%% budget it gave up", share)
	}
}

// commandstatsUsec is Redis's usec in the walk's commands, as the test
// reads it.
func commandstatsUsec(t *testing.T, ctx context.Context, rc *goredis.Client) int64 {
	t.Helper()
	text, err := rc.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var usec int64
	for _, name := range walkCommands {
		for line := range strings.Lines(text) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+name+":"); ok {
				var calls, u int64
				if _, err := fmt.Sscanf(rest, "calls=%d,usec=%d", &calls, &u); err != nil {
					t.Fatalf("commandstats %q: %v", line, err)
				}
				usec += u
			}
		}
	}
	return usec
}

// TestBudgetSpreadsTheWalk: a walk that its budget would let finish early
// goes at an even pace that ends at its spread, below its budget.
func TestBudgetSpreadsTheWalk(t *testing.T) {
	f := &fakeTime{t: time.Unix(1000, 0)}
	began := f.t
	// 10,000 keys in 200 round trips of 1 ms: 1 s at a 20% budget,
	// spread over 2 s.
	b := newFakeBudget(f, 0.2, began.Add(3*time.Second), 10_000)
	b.spread = began.Add(2 * time.Second)
	b.startServer(nil, 0, false)
	for range 100 {
		f.trip(t, b, time.Millisecond, 100)
		f.trip(t, b, time.Millisecond, 0)
	}
	if took := f.t.Sub(began); took < 1990*time.Millisecond || took > 2010*time.Millisecond {
		t.Errorf("the walk took %v, want 2s", took)
	}
	if got := b.pacedBy(b.busy, f.t.Sub(began)); got != PacedByBudget {
		t.Errorf("paced by %q, want %q", got, PacedByBudget)
	}
}
