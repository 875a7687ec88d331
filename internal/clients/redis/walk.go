package redis

import (
	"context"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// pipelinesInFlight is how many batches of counts an unpaced walk keeps in
// flight on one server while SCAN reads the next page on another
// connection: enough that Redis never waits for the client's reading of
// replies. An unpaced walk is one that asked to go as fast as Redis
// answers; the default, a budgeted walk, sends one request at a time.
const pipelinesInFlight = 4

// batchesQueued is how many batches of counts the scan of an unpaced walk
// may be ahead of them: it reads its next page without waiting for a
// pipeline to come back, in memory of a few thousand key names.
const batchesQueued = 16

// PacedStep is the SCAN COUNT and batch size of a paced walk, by a budget
// (observerd's default) or by a key rate: it scans and counts this many
// keys at a time,
// one request at the server at a time, so that a check of the rate
// limiter never waits behind more than a tenth of a millisecond or so of
// the walk.
const PacedStep = 100

// maxLateStep is the largest SCAN COUNT of a budgeted walk that runs late:
// one that would not finish by Pass.FinishBy even without resting doubles
// its steps, up to this and a batch of Options.BatchSize, and past that
// keeps pipelinesInFlight batches in flight as an unpaced walk does.
const maxLateStep = 1000

// maxKeySetHint bounds how large a first walk sizes its set of keys from
// INFO's count, which includes keys of every kind: past it, the set grows
// as keys come.
const maxKeySetHint = 1 << 20

// maxServerUsec bounds a walk's server time taken from INFO commandstats,
// a day: past it the figure is not believed.
const maxServerUsec = int64(24 * time.Hour / time.Microsecond)

// Counter is one counter sorted set as the walk found it.
type Counter struct {
	// Key is the key without the prefix, as the nodes' API shows it.
	Key string
	// Count is the number of members inside the key's window
	// [now - window, +inf).
	Count int64
	// TTL is the time left before the key expires, NoTTL if never.
	TTL time.Duration
}

// Pass says what one walk over the keyspace reads and what to do with each
// counter.
type Pass struct {
	// KeyPrefix is the counter key prefix ("ratelimit:"). Keys under
	// {KeyPrefix}limit: are overrides and keys ending in :seq are sequence
	// keys; every other key under KeyPrefix is a counter candidate.
	KeyPrefix string
	// NodePrefix is the node registry prefix ("ratelimiter:nodes:"); empty
	// reads no registry.
	NodePrefix string
	// Window returns the window to count a key (without prefix) over; a
	// window of zero or less, or a nil Window, counts every member. The
	// overrides are only known at the end of the pass, so Window answers
	// from what the caller knew before it; WalkResult.Counted tells which
	// keys a changed override may have had counted over the wrong window.
	Window func(key string) time.Duration
	// Visit is called once for every counter, in no particular order,
	// never concurrently.
	Visit func(Counter)
	// MaxKeysPerSecond paces the walk: SCAN waits so that no more keys
	// than this are read per second. Zero or less: Budget paces it.
	MaxKeysPerSecond float64
	// Budget, above 0 and below 1, is the share of Redis's time the walk
	// may take while it runs, measured by its own round trips (see
	// budget); 0, 1 or more: unpaced, unless MaxKeysPerSecond is set.
	Budget float64
	// FinishBy is when a walk paced by Budget should be over: it rests
	// less than the budget asks when it would not be done by then. Zero:
	// the budget alone paces it.
	FinishBy time.Time
	// SpreadUntil, before FinishBy, spreads a walk paced by Budget: it
	// goes no faster than an even pace over ExpectedKeys that ends then.
	// Zero: as fast as the budget lets it.
	SpreadUntil time.Time
	// ExpectedKeys is how many keys the walk expects SCAN to return (INFO's
	// count of keys), for FinishBy and to size the walk's set of keys
	// before the first walk; the last walk's count is used when larger.
	ExpectedKeys int64
}

// Budgeted reports whether share, as Pass.Budget, paces a walk: it is
// above 0 and below 1.
func Budgeted(share float64) bool { return share > 0 && share < 1 }

// WalkStats are the walk's totals.
type WalkStats struct {
	Counters           int64 // counters passed to Visit
	SequenceKeys       int64
	OrphanSequenceKeys int64 // :seq keys whose sorted set was not seen
	OverrideKeys       int64
	WrongTypeKeys      int64 // counter candidates that are not sorted sets
	Vanished           int64 // counter candidates gone before they were counted
	Duplicates         int64 // keys SCAN returned more than once
	ScanCalls          int64 // SCAN round trips, every server and prefix
	// Now is the first server's clock when the walk began.
	Now time.Time
	// BatchLatency is the median round trip of its batches of counts,
	// zero when it sent none.
	BatchLatency time.Duration
	// ScannedKeys are the keys SCAN returned, every kind and repeats
	// included.
	ScannedKeys int64
	// Duration is how long the walk took, and Busy the sum of its round
	// trips (SCAN and counts), which overlap in an unpaced walk.
	Duration, Busy time.Duration
	// PacedBy says what set the walk's pace: PacedByNothing,
	// PacedByKeyRate, PacedByBudget or PacedByInterval.
	PacedBy string
	// ServerTime is the time the walked servers spent in SCAN, ZCOUNT and
	// PTTL while they were walked, by INFO commandstats (other clients'
	// calls of those commands included); ServerTimeKnown is false where
	// INFO commandstats could not be read.
	ServerTime      time.Duration
	ServerTimeKnown bool
}

// Spent is the server time the walk took: ServerTime where INFO
// commandstats measured it, else the sum of its round trips, which is
// more.
func (s WalkStats) Spent() time.Duration {
	if s.ServerTimeKnown {
		return s.ServerTime
	}
	return s.Busy
}

// WalkResult is what one pass read: the totals, the node registry sorted by
// ID and the overrides sorted by key.
type WalkResult struct {
	Stats    WalkStats
	Registry []RegistryEntry
	// RegistrySkipped are the registry hashes left out as bad data: their
	// key names no usable node id.
	RegistrySkipped Skipped
	Overrides       Overrides
	counted         *keySet
	seed            maphash.Seed
	prefix          string
}

// Counted reports whether the pass counted key (without prefix) as a
// sorted set, and so passed it to Visit.
func (r *WalkResult) Counted(key string) bool {
	return r.counted.isFound(maphash.String(r.seed, r.prefix+key))
}

// walker is the state of one pass over every server. mu guards everything
// below it: the scan classifies pages while the pipelines in flight record
// their counts.
type walker struct {
	c         *Client
	p         Pass
	pace      *rate.Limiter // keys a second; nil: not paced by a key rate
	budget    *budget       // nil: not paced by a budget
	serial    bool          // one request at the server at a time
	scanCount int64
	batch     int

	mu    sync.Mutex
	stats WalkStats
	// seen holds a hash of every distinct counter candidate, not the key
	// itself. A collision (about n²/2⁶³ for n keys) would drop one key.
	seen     *keySet
	seqBases []uint64 // hash of the sorted set each :seq key belongs to
	// registry and overrides are the few keys of the server being walked,
	// read at the end of its scan; distinct holds the names of all of them.
	registry, overrides []string
	distinct            map[string]struct{}
	// latencies are the round trips of its batches.
	latencies []time.Duration
}

// Walk scans the keyspace once on every server and counts every counter's
// members in its window, as docs/design.md ("The walk itself") describes.
// A key of another type is counted in WrongTypeKeys and a key that expired
// before it was counted in Vanished; neither is fatal.
func (c *Client) Walk(ctx context.Context, p Pass) (*WalkResult, error) {
	began := time.Now()
	servers, err := c.servers(ctx)
	if err != nil {
		return nil, err
	}
	wk := c.newWalker(p)
	res := &WalkResult{seed: c.seed, prefix: p.KeyPrefix, counted: wk.seen}
	for i, s := range servers {
		clk, err := c.clock(ctx, s, s.Options().Addr)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			wk.stats.Now = clk.now()
		}
		if err := wk.walkMeasured(ctx, s, clk); err != nil {
			return nil, err
		}
		// The few registry and override keys the scan found are read at
		// its end.
		reg, err := c.readRegistry(ctx, s, p.NodePrefix, wk.registry, clk.now(), &res.RegistrySkipped)
		if err != nil {
			return nil, err
		}
		res.Registry = append(res.Registry, reg...)
		if err := c.readOverrides(ctx, s, p.KeyPrefix+"limit:", wk.overrides, &res.Overrides); err != nil {
			return nil, err
		}
		wk.registry, wk.overrides = nil, nil
	}
	wk.countOrphanSequenceKeys()
	c.lastWalkKeys.Store(int64(wk.seen.n))
	c.lastScanned.Store(wk.stats.ScannedKeys)
	wk.finishStats(time.Since(began))
	res.Stats = wk.stats
	res.Stats.OverrideKeys = int64(res.Overrides.Malformed + len(res.Overrides.Overrides))
	slices.SortFunc(res.Registry, func(a, b RegistryEntry) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(res.Overrides.Overrides, func(a, b Override) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(res.Overrides.MalformedSample, func(a, b Malformed) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(res.RegistrySkipped.Sample, func(a, b Malformed) int { return strings.Compare(a.Key, b.Key) })
	return res, nil
}

// newWalker is the state of a pass p, paced as p says: unpaced, by a key
// rate or by a budget.
func (c *Client) newWalker(p Pass) *walker {
	expected := max(p.ExpectedKeys, c.lastScanned.Load())
	// serial is read and changed only by the goroutine that scans.
	wk := &walker{
		c: c, p: p, scanCount: int64(c.opts.ScanCount), batch: c.opts.BatchSize,
		seen:     newKeySet(int(max(c.lastWalkKeys.Load(), min(expected, maxKeySetHint)))),
		distinct: map[string]struct{}{},
	}
	wk.stats.PacedBy, wk.stats.ServerTimeKnown = PacedByNothing, true
	if p.MaxKeysPerSecond > 0 || Budgeted(p.Budget) {
		wk.serial = true
		wk.scanCount, wk.batch = min(wk.scanCount, PacedStep), min(wk.batch, PacedStep)
		if p.MaxKeysPerSecond > 0 {
			wk.pace, wk.stats.PacedBy = newPace(p.MaxKeysPerSecond, int(wk.scanCount)), PacedByKeyRate
		} else {
			wk.budget = newBudget(p.Budget, p.FinishBy, p.SpreadUntil, expected, wk.scanCount)
		}
	}
	return wk
}

// walkMeasured walks server s and adds the time s spent in the walk's
// commands to the stats, by INFO commandstats before and after.
func (wk *walker) walkMeasured(ctx context.Context, s *goredis.Client, clk clock) error {
	read := func(ctx context.Context) (int64, bool) { return wk.c.walkCommandTime(ctx, s) }
	before, known := read(ctx)
	if wk.budget != nil {
		wk.budget.startServer(read, before, known)
	}
	if err := wk.walkServer(ctx, s, clk); err != nil {
		return err
	}
	after, stillKnown := read(ctx)
	// A reset of the statistics (CONFIG RESETSTAT) meanwhile makes the
	// figure unknown, not negative.
	spent := after - before
	if wk.stats.ServerTimeKnown = wk.stats.ServerTimeKnown && known && stillKnown && spent >= 0 && spent < maxServerUsec; wk.stats.ServerTimeKnown {
		wk.stats.ServerTime += time.Duration(spent) * time.Microsecond
	}
	return nil
}

// finishStats completes the stats of a walk that took d.
func (wk *walker) finishStats(d time.Duration) {
	if !wk.stats.ServerTimeKnown {
		wk.stats.ServerTime = 0
	}
	wk.stats.Duration = d
	if wk.budget != nil {
		wk.stats.PacedBy = wk.budget.pacedBy(wk.stats.Spent(), d)
	}
	if n := len(wk.latencies); n > 0 {
		slices.Sort(wk.latencies)
		wk.stats.BatchLatency = wk.latencies[n/2]
	}
}

// walkServer scans one server and counts its counters a batch at a time:
// an unpaced walk on pipelinesInFlight goroutines while it scans on, a
// paced one before it scans on. A failed count ends the scan through
// the group's context, and its error is the one returned.
func (wk *walker) walkServer(ctx context.Context, s *goredis.Client, clk clock) error {
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan []string, batchesQueued)
	for range pipelinesInFlight {
		g.Go(func() error {
			for keys := range queue {
				if _, err := wk.count(gctx, s, clk, keys); err != nil {
					return err
				}
			}
			return nil
		})
	}
	send := func(keys []string) error {
		if !wk.serial {
			select {
			case queue <- keys:
				return nil
			case <-gctx.Done():
				return wk.c.wrap("ZCOUNT", s.Options().Addr, gctx.Err())
			}
		}
		rtt, err := wk.count(gctx, s, clk, keys)
		if err != nil {
			return err
		}
		if err := wk.rest(gctx, rtt, 0); err != nil {
			return wk.c.wrap("ZCOUNT", s.Options().Addr, err)
		}
		return nil
	}
	var cur []string
	err := wk.scan(gctx, s, func(keys []string) error {
		var full [][]string
		full, cur = wk.classify(keys, cur)
		for _, b := range full {
			if err := send(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && len(cur) > 0 {
		err = send(cur)
	}
	close(queue)
	if werr := g.Wait(); werr != nil {
		return werr
	}
	return err
}

// classify sorts one page's keys: counter candidates not seen before are
// added to cur, and each batch that fills up is returned in full with the
// batch to go on with; registry and override keys are kept for the end,
// :seq keys are matched with their sorted sets at the end.
func (wk *walker) classify(keys, cur []string) (full [][]string, rest []string) {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	limitPrefix := wk.p.KeyPrefix + "limit:"
	for _, k := range keys {
		if wk.p.NodePrefix != "" && strings.HasPrefix(k, wk.p.NodePrefix) {
			wk.keepSmall(&wk.registry, k)
		}
		switch {
		case !strings.HasPrefix(k, wk.p.KeyPrefix):
		case strings.HasPrefix(k, limitPrefix):
			wk.keepSmall(&wk.overrides, k)
		case strings.HasSuffix(k, ":seq"):
			wk.stats.SequenceKeys++
			wk.seqBases = append(wk.seqBases, maphash.String(wk.c.seed, strings.TrimSuffix(k, ":seq")))
		case !wk.seen.add(maphash.String(wk.c.seed, k)):
			wk.stats.Duplicates++
		default:
			cur = append(cur, k)
			if len(cur) >= wk.batch {
				full, cur = append(full, cur), nil
			}
		}
	}
	return full, cur
}

// keepSmall records a registry or override key once.
func (wk *walker) keepSmall(into *[]string, k string) {
	if _, dup := wk.distinct[k]; dup {
		wk.stats.Duplicates++
		return
	}
	wk.distinct[k] = struct{}{}
	*into = append(*into, k)
}

// rest waits as the walk's pace asks after a round trip of rtt that read
// scanned keys from SCAN (zero for a batch of counts).
func (wk *walker) rest(ctx context.Context, rtt time.Duration, scanned int) error {
	switch {
	case wk.pace != nil:
		return wk.waitPace(ctx, scanned)
	case wk.budget != nil:
		if err := wk.budget.roundTrip(ctx, rtt, scanned); err != nil {
			return err
		}
		// Behind even without rests: larger steps cost Redis and the
		// network less per key, and at the largest the counts go on
		// beside the scan, as in an unpaced walk.
		switch {
		case !wk.budget.late:
		case wk.scanCount < maxLateStep:
			wk.scanCount = min(2*wk.scanCount, maxLateStep)
			wk.batch = min(2*wk.batch, wk.c.opts.BatchSize)
			wk.budget.step = wk.scanCount
		default:
			wk.serial = false
		}
	}
	return nil
}

// count counts one batch in one round trip and visits its counters; it
// returns the round trip.
func (wk *walker) count(ctx context.Context, s *goredis.Client, clk clock, keys []string) (time.Duration, error) {
	nowMs := clk.now().UnixMilli()
	pipe := s.Pipeline()
	counts := make([]*goredis.IntCmd, len(keys))
	ttls := make([]*goredis.DurationCmd, len(keys))
	n := len(wk.p.KeyPrefix)
	for i, k := range keys {
		counts[i] = pipe.ZCount(ctx, k, windowStart(nowMs, wk.p.Window, k[n:]), "+inf")
		ttls[i] = pipe.PTTL(ctx, k)
	}
	// Exec's error is the first failed command's; each command's reply is
	// read on its own below.
	sent := time.Now()
	_, _ = pipe.Exec(ctx)
	rtt := time.Since(sent)
	wk.mu.Lock()
	defer wk.mu.Unlock()
	wk.latencies = append(wk.latencies, rtt)
	wk.stats.Busy += rtt
	for i, k := range keys {
		cn, ok, err := wk.counterOf(counts[i], ttls[i], k[n:], s.Options().Addr)
		if err != nil {
			return rtt, err
		}
		if !ok {
			continue
		}
		wk.seen.markFound(maphash.String(wk.c.seed, k))
		wk.stats.Counters++
		if wk.p.Visit != nil {
			wk.p.Visit(cn)
		}
	}
	return rtt, nil
}

// counterOf turns one key's replies into a counter; ok is false for a key
// of another type or one that vanished before it was counted.
func (wk *walker) counterOf(count *goredis.IntCmd, pttl *goredis.DurationCmd, key, addr string) (Counter, bool, error) {
	n, err := count.Result()
	if isWrongType(err) {
		wk.stats.WrongTypeKeys++
		return Counter{}, false, nil
	}
	if err != nil {
		return Counter{}, false, wk.c.wrap("ZCOUNT", addr, err)
	}
	d, err := pttl.Result()
	if err != nil {
		return Counter{}, false, wk.c.wrap("PTTL", addr, err)
	}
	ttl, exists := ttlOf(d)
	if !exists {
		if n == 0 {
			wk.stats.Vanished++
			return Counter{}, false, nil
		}
		// It expired between ZCOUNT and PTTL: it was there when counted.
		ttl = 0
	}
	return Counter{Key: key, Count: n, TTL: ttl}, true, nil
}

// countOrphanSequenceKeys counts the :seq keys whose sorted set was not
// counted. It runs only once every server is scanned: the sorted set may be
// on another server or later in the scan. A :seq key SCAN returned twice
// counts once.
func (wk *walker) countOrphanSequenceKeys() {
	slices.Sort(wk.seqBases)
	distinct := slices.Compact(wk.seqBases)
	dups := int64(len(wk.seqBases) - len(distinct))
	wk.stats.Duplicates += dups
	wk.stats.SequenceKeys -= dups
	for _, h := range distinct {
		if !wk.seen.isFound(h) {
			wk.stats.OrphanSequenceKeys++
		}
	}
}

// windowStart is ZCOUNT's inclusive lower bound now - window, the
// contract's window [now - window_ms, +inf).
func windowStart(nowMs int64, window func(string) time.Duration, key string) string {
	if window != nil {
		if w := window(key); w > 0 {
			return strconv.FormatInt(nowMs-w.Milliseconds(), 10)
		}
	}
	return "-inf"
}

// clock is a server's clock read once with TIME and advanced by the local
// monotonic clock, so that a long walk needs no TIME per batch.
type clock struct {
	base  time.Time
	local time.Time
	fixed func() time.Time // Options.now, in tests
}

func (k clock) now() time.Time {
	if k.fixed != nil {
		return k.fixed()
	}
	return k.base.Add(time.Since(k.local))
}

func (c *Client) clock(ctx context.Context, s goredis.Cmdable, addr string) (clock, error) {
	if c.opts.now != nil {
		return clock{fixed: c.opts.now}, nil
	}
	t, err := s.Time(ctx).Result()
	if err != nil {
		return clock{}, c.wrap("TIME", addr, err)
	}
	return clock{base: t, local: time.Now()}, nil
}
