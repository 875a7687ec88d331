package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrWrongType is returned by ReadKey for a counter key that exists but is
// not a sorted set.
var ErrWrongType = errors.New("not a sorted set")

// maxRankReads bounds the rounds ReadKey spends reading the entries at the
// ranks it needs: a check of the rate limiter that prunes the key between
// the counts and the rank read moves every rank, and ReadKey reads again.
const maxRankReads = 3

// KeyQuery says which key ReadKey reads and how to judge it.
type KeyQuery struct {
	// Key is the key without the prefix, any bytes.
	Key string
	// KeyPrefix is the counter key prefix ("ratelimit:"); the override
	// is read at KeyPrefix+"limit:"+Key and the sequence key at
	// KeyPrefix+Key+":seq".
	KeyPrefix string
	// DefaultLimit and DefaultWindow judge a key without an override (an
	// override without window_ms takes DefaultWindow).
	DefaultLimit  int64
	DefaultWindow time.Duration
	// FutureAfter is how far after Redis's clock an entry must be scored
	// to count as in the future.
	FutureAfter time.Duration
	// Buckets is how many equal slices of the window the spread counts;
	// zero or less is none.
	Buckets int
}

// KeyReading is one counter key as ReadKey read it. Every figure is a
// count or a single entry: nothing in it grows with the key.
type KeyReading struct {
	// Now is Redis's clock (TIME) when the counts were read.
	Now time.Time
	// Exists reports whether the sorted set exists.
	Exists bool
	// Override is the key's override hash when it is readable;
	// OverrideProblem says why one that exists is not (then the defaults
	// judge the key, as the walk does).
	Override        *Override
	OverrideProblem string
	// Limit and Window judge the key: the override's, else the defaults.
	Limit  int64
	Window time.Duration
	// Total is ZCARD: every entry, pruned or not. Before counts the
	// entries scored before the window, InWindow those in it
	// [now-window, +inf), Future those scored more than FutureAfter after
	// Now (a part of InWindow).
	Total, Before, InWindow, Future int64
	// Spread counts the in-window entries of each of the Buckets slices of
	// [now-window, now+FutureAfter]; the last slice reaches to
	// now+FutureAfter, so that Spread's sum and Future make InWindow.
	Spread []Bucket
	// TTL is the key's time to live, NoTTL when it has none; zero when the
	// key does not exist.
	TTL time.Duration
	// Seq is the sequence key's value; HasSeq is false without one (or
	// with one that does not hold an integer).
	Seq    int64
	HasSeq bool
	// Oldest is the score of the oldest in-window entry; Release the score
	// of the entry whose leaving the window lets the next check pass, the
	// (InWindow-Limit+1)-th oldest in window. Both are read by rank, only
	// when InWindow >= Limit > 0; NaN otherwise.
	Oldest, Release float64
	// Commands counts the commands sent, and WidestRange the most entries
	// any one range read could return: what shows the reading is bounded.
	Commands    int
	WidestRange int64
}

// Bucket is the count of entries scored in [From, To) of one slice of the
// window, ms relative to KeyReading.Now (To inclusive for the last slice).
type Bucket struct {
	FromMs, ToMs int64
	Entries      int64
}

// ReadKey reads one counter key, read-only and in bounded time and memory
// whatever its size: TIME, the override and the sequence key in one round
// trip, then every count of the sorted set in one MULTI (ZCARD, ZCOUNTs,
// PTTL),
// then, when the key is at or over its limit, the one or two entries at the
// ranks that tell when the next check passes (ZRANGE r r, O(log N)). A key
// of another type is ErrWrongType.
func (c *Client) ReadKey(ctx context.Context, q KeyQuery) (*KeyReading, error) {
	u := c.universal()
	key := q.KeyPrefix + q.Key
	r := &KeyReading{Oldest: math.NaN(), Release: math.NaN(), Limit: q.DefaultLimit, Window: q.DefaultWindow}

	// Round 1: the clock and the override, which sets the window.
	pipe := u.Pipeline()
	tm := pipe.Time(ctx)
	ov := pipe.HGetAll(ctx, q.KeyPrefix+"limit:"+q.Key)
	seq := pipe.Get(ctx, key+":seq")
	_, _ = pipe.Exec(ctx)
	r.Commands += 3
	now, err := tm.Result()
	if err != nil {
		return nil, c.wrap("TIME", c.endpoint, err)
	}
	if c.opts.now != nil {
		now = c.opts.now()
	}
	r.Now = now
	switch fields, err := ov.Result(); {
	case isWrongType(err):
		r.OverrideProblem = "the override key is not a hash"
	case err != nil:
		return nil, c.wrap("HGETALL", c.endpoint, err)
	case len(fields) > 0:
		o, err := ParseOverride(q.Key, fields)
		if err != nil {
			r.OverrideProblem = err.Error()
			break
		}
		r.Override = &o
		r.Limit = o.Limit
		if o.Window > 0 {
			r.Window = o.Window
		}
	}
	switch n, err := seq.Int64(); {
	case err == nil:
		r.Seq, r.HasSeq = n, true
	case errors.Is(err, goredis.Nil), isWrongType(err), isNotInteger(err):
	default:
		return nil, c.wrap("GET", c.endpoint, err)
	}

	// Round 2: every count, on the key as one instant saw it.
	if err := c.readCounts(ctx, u, key, q, r); err != nil {
		return nil, err
	}
	if r.Limit <= 0 || r.InWindow < r.Limit {
		return r, nil
	}
	// Round 3: the entries at two ranks.
	return r, c.readRanks(ctx, u, key, r)
}

// readCounts reads round 2 into r. The sorted set's commands go in one
// MULTI so that they see the key at one instant (one key is one slot, so
// this works on a cluster too).
func (c *Client) readCounts(ctx context.Context, u goredis.UniversalClient, key string, q KeyQuery, r *KeyReading) error {
	nowMs := r.Now.UnixMilli()
	winMs := r.Window.Milliseconds()
	start := nowMs - winMs
	futureAt := nowMs + q.FutureAfter.Milliseconds()
	pipe := u.TxPipeline()
	card := pipe.ZCard(ctx, key)
	before := pipe.ZCount(ctx, key, "-inf", "("+itoa(start))
	in := pipe.ZCount(ctx, key, itoa(start), "+inf")
	future := pipe.ZCount(ctx, key, "("+itoa(futureAt), "+inf")
	ttl := pipe.PTTL(ctx, key)
	r.Commands += 5
	spread := make([]*goredis.IntCmd, max(q.Buckets, 0))
	for i := range spread {
		lo := start + int64(i)*winMs/int64(q.Buckets)
		hi := start + int64(i+1)*winMs/int64(q.Buckets)
		maxArg := "(" + itoa(hi)
		toMs := hi - nowMs
		if i == len(spread)-1 {
			maxArg, toMs = itoa(futureAt), futureAt-nowMs
		}
		spread[i] = pipe.ZCount(ctx, key, itoa(lo), maxArg)
		r.Spread = append(r.Spread, Bucket{FromMs: lo - nowMs, ToMs: toMs})
	}
	r.Commands += len(spread)
	_, _ = pipe.Exec(ctx)

	if err := card.Err(); err != nil {
		if isWrongType(err) {
			return fmt.Errorf("redis key %q: %w", key, ErrWrongType)
		}
		return c.wrap("ZCARD", c.endpoint, err)
	}
	for _, cmd := range []*goredis.IntCmd{card, before, in, future} {
		if err := cmd.Err(); err != nil {
			return c.wrap("ZCOUNT", c.endpoint, err)
		}
	}
	r.Total, r.Before, r.InWindow, r.Future = card.Val(), before.Val(), in.Val(), future.Val()
	for i, cmd := range spread {
		n, err := cmd.Result()
		if err != nil {
			return c.wrap("ZCOUNT", c.endpoint, err)
		}
		r.Spread[i].Entries = n
	}
	d, err := ttl.Result()
	if err != nil {
		return c.wrap("PTTL", c.endpoint, err)
	}
	r.TTL, r.Exists = ttlOf(d)
	r.Exists = r.Exists && r.Total > 0
	return nil
}

// readRanks reads the oldest in-window entry and the one whose leaving
// lets the next check pass, by rank: ZRANGE key r r, O(log N) however
// large the key. The ranks count from the entries before the window; a
// check that pruned the key since moves them, so the count before the
// window is read again in the same MULTI and the read repeated when it
// moved.
func (c *Client) readRanks(ctx context.Context, u goredis.UniversalClient, key string, r *KeyReading) error {
	before := r.Before
	for range maxRankReads {
		pipe := u.TxPipeline()
		again := pipe.ZCount(ctx, key, "-inf", "("+itoa(r.Now.UnixMilli()-r.Window.Milliseconds()))
		oldest := pipe.ZRangeWithScores(ctx, key, before, before)
		release := pipe.ZRangeWithScores(ctx, key, before+r.InWindow-r.Limit, before+r.InWindow-r.Limit)
		_, _ = pipe.Exec(ctx)
		r.Commands += 3
		r.WidestRange = max(r.WidestRange, 1)
		n, err := again.Result()
		if err != nil {
			return c.wrap("ZCOUNT", c.endpoint, err)
		}
		if n != before {
			before = n
			continue
		}
		o, err := oldest.Result()
		if err != nil {
			return c.wrap("ZRANGE", c.endpoint, err)
		}
		rel, err := release.Result()
		if err != nil {
			return c.wrap("ZRANGE", c.endpoint, err)
		}
		if len(o) == 1 {
			r.Oldest = o[0].Score
		}
		if len(rel) == 1 {
			r.Release = rel[0].Score
		}
		return nil
	}
	// The key keeps being pruned under the reads: the rate limiter is
	// busy on it. The counts stand; when it passes is left unknown.
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
