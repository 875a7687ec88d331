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
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// pipelinesInFlight is how many batches of counts a walk keeps in flight
// on one server while SCAN reads the next page on another connection. Two
// keep Redis busy without queueing the rate limiter's own commands behind
// a long line of the walk's; with SCAN that is three of PoolSize
// connections. A paced walk is slow by choice and gentle as well: it scans
// and counts pacedStep keys at a time and has one request at the server at
// a time (its goroutines read, classify and tally in the meantime), so
// that a check of the rate limiter never waits behind more than a tenth of
// a millisecond of the walk.
const (
	pipelinesInFlight = 2
	pacedStep         = 100
)

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
// counter. One SCAN reads the node registry, the overrides, the counters
// and the :seq keys together whenever the two prefixes share a beginning
// (the defaults share "ratelimit"); otherwise each prefix is scanned in
// turn.
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
	// than this are read per second. Zero or less is no pacing.
	MaxKeysPerSecond float64
}

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
// below it: the dispatcher classifies pages while the pipelines in flight
// record their counts.
type walker struct {
	c         *Client
	p         Pass
	pace      *rate.Limiter       // keys a second; nil: unpaced
	turns     *semaphore.Weighted // the walk's requests at the server at once
	scanCount int64
	batch     int

	mu    sync.Mutex
	stats WalkStats
	// seen holds a hash of every distinct counter candidate, not the key
	// itself. A collision (about n²/2⁶³ for n keys) would drop one key.
	seen     *keySet
	seqBases []uint64 // hash of the sorted set each :seq key belongs to
	// registry and overrides are the few keys read at the end of each
	// server's scan, by server; distinct holds their names.
	registry  map[*goredis.Client][]string
	overrides map[*goredis.Client][]string
	distinct  map[string]struct{}
}

// batch is one pipeline's worth of counter candidates.
type batch struct {
	keys   []string
	hashes []uint64
	slots  []int  // where each hash is in seen, while seen.grown is
	grown  uint64 // seen.grown when the slots were taken
}

// Walk scans the keyspace once on every server, de-duplicating what SCAN
// repeats, and counts each counter's members in its window with pipelined
// ZCOUNT and PTTL, Options.BatchSize keys per round trip and a few round
// trips in flight while SCAN goes on. "now" is the server's own clock
// (TIME), advanced by the local monotonic clock during the walk. The
// registry and override hashes found on the way are read at the end. A key
// of another type is counted in WrongTypeKeys and a key that expired before
// it was counted in Vanished; neither is fatal.
func (c *Client) Walk(ctx context.Context, p Pass) (*WalkResult, error) {
	servers, err := c.servers(ctx)
	if err != nil {
		return nil, err
	}
	wk := &walker{
		c: c, p: p, scanCount: c.scanCount, batch: c.batch,
		// An unpaced walk has a turn for every request it can have at
		// the server, SCAN and the pipelines, and never waits for one.
		turns:     semaphore.NewWeighted(1 + pipelinesInFlight),
		seen:      newKeySet(int(c.lastWalkKeys.Load())),
		registry:  map[*goredis.Client][]string{},
		overrides: map[*goredis.Client][]string{},
		distinct:  map[string]struct{}{},
	}
	if p.MaxKeysPerSecond > 0 {
		wk.scanCount, wk.batch = min(c.scanCount, pacedStep), min(c.batch, pacedStep)
		wk.turns = semaphore.NewWeighted(1)
		wk.pace = newPace(p.MaxKeysPerSecond, int(wk.scanCount))
	}
	res := &WalkResult{seed: c.seed, prefix: p.KeyPrefix, counted: wk.seen}
	for i, s := range servers {
		clk, err := c.clock(ctx, s)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			wk.stats.Now = clk.now()
		}
		if err := wk.walkServer(ctx, s, clk); err != nil {
			return nil, err
		}
		if err := wk.readSmallKeys(ctx, s, clk.now(), res); err != nil {
			return nil, err
		}
	}
	wk.countOrphanSequenceKeys()
	c.lastWalkKeys.Store(int64(wk.seen.n))
	res.Stats = wk.stats
	res.Stats.OverrideKeys = int64(res.Overrides.Malformed + len(res.Overrides.Overrides))
	slices.SortFunc(res.Registry, func(a, b RegistryEntry) int { return strings.Compare(a.ID, b.ID) })
	res.Overrides.sort()
	slices.SortFunc(res.RegistrySkipped.Sample, func(a, b Malformed) int { return strings.Compare(a.Key, b.Key) })
	return res, nil
}

// walkServer runs one server's scan: one goroutine reads SCAN pages, one
// classifies them and sends full batches to at most pipelinesInFlight
// pipelines at a time.
func (wk *walker) walkServer(ctx context.Context, s *goredis.Client, clk clock) error {
	g, gctx := errgroup.WithContext(ctx)
	pages := make(chan []string, pipelinesInFlight)
	g.Go(func() error {
		defer close(pages)
		for _, prefix := range scanPrefixes(wk.p.KeyPrefix, wk.p.NodePrefix) {
			err := wk.c.scanServer(gctx, s, prefix, wk.scanCount, wk.turns, func(keys []string) error {
				wk.mu.Lock()
				wk.stats.ScanCalls++
				wk.mu.Unlock()
				if err := wk.waitPace(gctx, len(keys)); err != nil {
					return wk.c.wrap("SCAN", s.Options().Addr, err)
				}
				select {
				case pages <- keys:
					return nil
				case <-gctx.Done():
					return wk.c.wrap("SCAN", s.Options().Addr, gctx.Err())
				}
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	g.Go(func() error { return wk.dispatch(gctx, g, s, clk, pages) })
	return g.Wait()
}

// dispatch classifies every page and counts full batches on their own
// goroutines, at most pipelinesInFlight at once.
func (wk *walker) dispatch(ctx context.Context, g *errgroup.Group, s *goredis.Client, clk clock, pages <-chan []string) error {
	slots := make(chan struct{}, pipelinesInFlight)
	send := func(b *batch) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil // the group's error says why
		}
		g.Go(func() error {
			defer func() { <-slots }()
			return wk.count(ctx, s, clk, b)
		})
		return nil
	}
	cur := &batch{}
	for keys := range pages {
		var full []*batch
		full, cur = wk.classify(s, keys, cur)
		for _, b := range full {
			if err := send(b); err != nil {
				return err
			}
		}
	}
	if len(cur.keys) > 0 && ctx.Err() == nil {
		return send(cur)
	}
	return nil
}

// classify sorts one page's keys: counter candidates not seen before are
// added to cur, and each batch that fills up is returned in full with the
// batch to go on with; registry and override keys are kept for the end,
// :seq keys are matched with their sorted sets at the end.
func (wk *walker) classify(s *goredis.Client, keys []string, cur *batch) (full []*batch, rest *batch) {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	limitPrefix := wk.p.KeyPrefix + "limit:"
	for _, k := range keys {
		if wk.p.NodePrefix != "" && strings.HasPrefix(k, wk.p.NodePrefix) {
			wk.keepSmall(wk.registry, s, k)
		}
		switch {
		case !strings.HasPrefix(k, wk.p.KeyPrefix):
		case strings.HasPrefix(k, limitPrefix):
			wk.keepSmall(wk.overrides, s, k)
		case strings.HasSuffix(k, ":seq"):
			wk.stats.SequenceKeys++
			wk.seqBases = append(wk.seqBases, maphash.String(wk.c.seed, strings.TrimSuffix(k, ":seq")))
		default:
			h := maphash.String(wk.c.seed, k)
			slot, added := wk.seen.add(h)
			if !added {
				wk.stats.Duplicates++
				continue
			}
			if len(cur.keys) == 0 {
				cur.grown = wk.seen.grown
			}
			if cur.grown != wk.seen.grown {
				// The set moved its slots: the earlier ones are stale.
				cur.slots, cur.grown = nil, wk.seen.grown
			}
			cur.keys = append(cur.keys, k)
			cur.hashes = append(cur.hashes, h)
			cur.slots = append(cur.slots, slot)
			if len(cur.keys) >= wk.batch {
				full = append(full, cur)
				cur = &batch{}
			}
		}
	}
	return full, cur
}

// keepSmall records a registry or override key once.
func (wk *walker) keepSmall(into map[*goredis.Client][]string, s *goredis.Client, k string) {
	if _, dup := wk.distinct[k]; dup {
		wk.stats.Duplicates++
		return
	}
	wk.distinct[k] = struct{}{}
	into[s] = append(into[s], k)
}

// count counts one batch in one round trip and visits its counters.
func (wk *walker) count(ctx context.Context, s *goredis.Client, clk clock, b *batch) error {
	nowMs := clk.now().UnixMilli()
	pipe := s.Pipeline()
	counts := make([]*goredis.IntCmd, len(b.keys))
	ttls := make([]*goredis.DurationCmd, len(b.keys))
	n := len(wk.p.KeyPrefix)
	for i, k := range b.keys {
		counts[i] = pipe.ZCount(ctx, k, windowStart(nowMs, wk.p.Window, k[n:]), "+inf")
		ttls[i] = pipe.PTTL(ctx, k)
	}
	if err := wk.turns.Acquire(ctx, 1); err != nil {
		return wk.c.wrap("ZCOUNT", s.Options().Addr, err)
	}
	// Exec's error is the first failed command's; each command's reply is
	// read on its own below.
	_, _ = pipe.Exec(ctx)
	wk.turns.Release(1)
	addr := s.Options().Addr
	wk.mu.Lock()
	defer wk.mu.Unlock()
	for i, k := range b.keys {
		cn, ok, err := wk.counterOf(counts[i], ttls[i], k[n:])
		if err != nil {
			return wk.c.wrap(err.op, addr, err.err)
		}
		if !ok {
			continue
		}
		wk.markFound(b, i)
		wk.stats.Counters++
		if wk.p.Visit != nil {
			wk.p.Visit(cn)
		}
	}
	return nil
}

// markFound flags key i of b as counted, at its slot when the set has not
// moved it since.
func (wk *walker) markFound(b *batch, i int) {
	if b.grown == wk.seen.grown && len(b.slots) == len(b.keys) {
		wk.seen.markFoundAt(b.slots[i])
		return
	}
	wk.seen.markFound(b.hashes[i])
}

// cmdError names the command of a failed reply.
type cmdError struct {
	op  string
	err error
}

// counterOf turns one key's replies into a counter; ok is false for a key
// of another type or one that vanished before it was counted.
func (wk *walker) counterOf(count *goredis.IntCmd, pttl *goredis.DurationCmd, key string) (Counter, bool, *cmdError) {
	n, err := count.Result()
	if isWrongType(err) {
		wk.stats.WrongTypeKeys++
		return Counter{}, false, nil
	}
	if err != nil {
		return Counter{}, false, &cmdError{"ZCOUNT", err}
	}
	d, err := pttl.Result()
	if err != nil {
		return Counter{}, false, &cmdError{"PTTL", err}
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

// readSmallKeys reads the registry and override hashes one server's scan
// found; now is the server's clock.
func (wk *walker) readSmallKeys(ctx context.Context, s *goredis.Client, now time.Time, res *WalkResult) error {
	reg, err := wk.c.readRegistry(ctx, s, wk.p.NodePrefix, wk.registry[s], now, &res.RegistrySkipped)
	if err != nil {
		return err
	}
	res.Registry = append(res.Registry, reg...)
	return wk.c.readOverrides(ctx, s, wk.p.KeyPrefix+"limit:", wk.overrides[s], &res.Overrides)
}

// scanPrefixes returns the SCAN MATCH prefixes of a pass: the beginning the
// two prefixes share, or each in turn when they share none.
func scanPrefixes(keyPrefix, nodePrefix string) []string {
	if nodePrefix == "" {
		return []string{keyPrefix}
	}
	n := 0
	for n < len(keyPrefix) && n < len(nodePrefix) && keyPrefix[n] == nodePrefix[n] {
		n++
	}
	if n == 0 {
		return []string{keyPrefix, nodePrefix}
	}
	return []string{keyPrefix[:n]}
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

// windowStart is ZCOUNT's inclusive lower bound now - window, the
// contract's window [now - window_ms, +inf).
func windowStart(nowMs int64, window func(string) time.Duration, key string) string {
	if window == nil {
		return "-inf"
	}
	w := window(key)
	if w <= 0 {
		return "-inf"
	}
	return strconv.FormatInt(nowMs-w.Milliseconds(), 10)
}

// clock is a server's clock read once with TIME and advanced by the local
// monotonic clock, so that a long walk needs no TIME per batch.
type clock struct {
	base  time.Time
	local time.Time
}

func (k clock) now() time.Time { return k.base.Add(time.Since(k.local)) }

func (c *Client) clock(ctx context.Context, s goredis.Cmdable) (clock, error) {
	t, err := s.Time(ctx).Result()
	if err != nil {
		return clock{}, c.wrap("TIME", c.addrOf(s), err)
	}
	return clock{base: t, local: time.Now()}, nil
}

func (c *Client) addrOf(s goredis.Cmdable) string {
	if n, ok := s.(*goredis.Client); ok {
		return n.Options().Addr
	}
	return c.endpoint
}
