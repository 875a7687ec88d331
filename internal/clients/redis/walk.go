package redis

import (
	"context"
	"hash/maphash"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
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

// Walk says what to walk and what to do with each counter.
type Walk struct {
	// Prefix is the counter key prefix ("ratelimit:"). Keys under
	// {Prefix}limit: are overrides and keys ending in :seq are sequence
	// keys; every other key under Prefix is a counter candidate.
	Prefix string
	// Window returns the window to count a key (without prefix) over; a
	// window of zero or less, or a nil Window, counts every member.
	Window func(key string) time.Duration
	// Visit is called once for every counter, in no particular order.
	Visit func(Counter)
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
	// Now is the first server's clock when the walk began.
	Now time.Time
}

// Flags of a key's hash in the walk's set of seen keys.
const (
	seenKey   uint8 = 1 << iota // returned by SCAN
	zsetFound                   // counted as a sorted set
)

// walker is the state of one walk over every server.
type walker struct {
	c     *Client
	w     Walk
	stats WalkStats
	// seen holds a 64-bit hash of every distinct key, not the key itself,
	// so memory stays proportional to the keyspace at worst even with
	// long key names. A collision (about n²/2⁶⁵ for n keys) would drop one
	// key from the totals.
	seen     map[uint64]uint8
	seqBases []uint64 // hash of the sorted set each :seq key belongs to
	pending  []string
	hashes   []uint64
}

// WalkCounters scans every key under w.Prefix on every server once,
// de-duplicating what SCAN repeats, and counts each counter's members in
// its window with pipelined ZCOUNT and PTTL, Options.BatchSize keys per
// round trip. "now" is the server's own clock (TIME), advanced by the local
// monotonic clock during the walk. A key of another type is counted in
// WrongTypeKeys and a key that expired before it was counted in Vanished;
// neither is fatal.
func (c *Client) WalkCounters(ctx context.Context, w Walk) (WalkStats, error) {
	servers, err := c.servers(ctx)
	if err != nil {
		return WalkStats{}, err
	}
	wk := &walker{c: c, w: w, seen: make(map[uint64]uint8)}
	for i, s := range servers {
		clk, err := c.clock(ctx, s)
		if err != nil {
			return WalkStats{}, err
		}
		if i == 0 {
			wk.stats.Now = clk.now()
		}
		err = c.scanServer(ctx, s, w.Prefix, func(keys []string) error {
			for _, k := range keys {
				if err := wk.add(ctx, s, clk, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			err = wk.flush(ctx, s, clk)
		}
		if err != nil {
			return WalkStats{}, err
		}
	}
	// A :seq key is judged only now: its sorted set may be on another
	// server or later in the scan.
	for _, h := range wk.seqBases {
		if wk.seen[h]&zsetFound == 0 {
			wk.stats.OrphanSequenceKeys++
		}
	}
	return wk.stats, nil
}

func (wk *walker) add(ctx context.Context, s *goredis.Client, clk clock, key string) error {
	if !strings.HasPrefix(key, wk.w.Prefix) {
		return nil
	}
	h := maphash.String(wk.c.seed, key)
	if wk.seen[h]&seenKey != 0 {
		wk.stats.Duplicates++
		return nil
	}
	wk.seen[h] |= seenKey
	switch {
	case strings.HasPrefix(key[len(wk.w.Prefix):], "limit:"):
		wk.stats.OverrideKeys++
	case strings.HasSuffix(key, ":seq"):
		wk.stats.SequenceKeys++
		wk.seqBases = append(wk.seqBases, maphash.String(wk.c.seed, strings.TrimSuffix(key, ":seq")))
	default:
		wk.pending = append(wk.pending, key)
		wk.hashes = append(wk.hashes, h)
		if len(wk.pending) >= wk.c.batch {
			return wk.flush(ctx, s, clk)
		}
	}
	return nil
}

// flush counts the pending keys in one round trip.
func (wk *walker) flush(ctx context.Context, s *goredis.Client, clk clock) error {
	if len(wk.pending) == 0 {
		return nil
	}
	nowMs := clk.now().UnixMilli()
	pipe := s.Pipeline()
	counts := make([]*goredis.IntCmd, len(wk.pending))
	ttls := make([]*goredis.DurationCmd, len(wk.pending))
	for i, k := range wk.pending {
		counts[i] = pipe.ZCount(ctx, k, windowStart(nowMs, wk.w.Window, k[len(wk.w.Prefix):]), "+inf")
		ttls[i] = pipe.PTTL(ctx, k)
	}
	// Exec's error is the first failed command's; each command is judged
	// on its own below.
	_, _ = pipe.Exec(ctx)
	addr := s.Options().Addr
	for i, k := range wk.pending {
		n, err := counts[i].Result()
		if isWrongType(err) {
			wk.stats.WrongTypeKeys++
			continue
		}
		if err != nil {
			return wk.c.wrap("ZCOUNT", addr, err)
		}
		d, err := ttls[i].Result()
		if err != nil {
			return wk.c.wrap("PTTL", addr, err)
		}
		ttl, exists := ttlOf(d)
		if !exists {
			if n == 0 {
				wk.stats.Vanished++
				continue
			}
			// It expired between ZCOUNT and PTTL: it was there when counted.
			ttl = 0
		}
		wk.seen[wk.hashes[i]] |= zsetFound
		wk.stats.Counters++
		if wk.w.Visit != nil {
			wk.w.Visit(Counter{Key: k[len(wk.w.Prefix):], Count: n, TTL: ttl})
		}
	}
	wk.pending, wk.hashes = wk.pending[:0], wk.hashes[:0]
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

// Counts returns the in-window count of each key (without prefix) with
// pipelined ZCOUNT, like WalkCounters. A key that does not exist, or is not
// a sorted set, counts 0.
func (c *Client) Counts(ctx context.Context, prefix string, keys []string, window func(key string) time.Duration) (map[string]int64, error) {
	out := make(map[string]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	u := c.universal()
	clk, err := c.clock(ctx, u)
	if err != nil {
		return nil, err
	}
	for _, batch := range chunks(keys, c.batch) {
		nowMs := clk.now().UnixMilli()
		pipe := u.Pipeline()
		cmds := make([]*goredis.IntCmd, len(batch))
		for i, k := range batch {
			cmds[i] = pipe.ZCount(ctx, prefix+k, windowStart(nowMs, window, k), "+inf")
		}
		_, _ = pipe.Exec(ctx)
		for i, k := range batch {
			n, err := cmds[i].Result()
			if err != nil && !isWrongType(err) {
				return nil, c.wrap("ZCOUNT", c.endpoint, err)
			}
			out[k] = n
		}
	}
	return out, nil
}
