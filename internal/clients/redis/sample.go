package redis

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ServerTime is the first server's clock as one TIME showed it: the server
// read Time at some moment between Sent and Received, local times.
type ServerTime struct {
	Time, Sent, Received time.Time
}

// Time reads the first server's clock with TIME.
func (c *Client) Time(ctx context.Context) (ServerTime, error) {
	u := c.universal()
	sent := time.Now()
	t, err := u.Time(ctx).Result()
	if err != nil {
		return ServerTime{}, c.wrap("TIME", c.endpoint, err)
	}
	return ServerTime{Time: t, Sent: sent, Received: time.Now()}, nil
}

// Sample is one key read by SampleKeys.
type Sample struct {
	// Key is without the prefix.
	Key string
	// Seq is the value of the key's sequence key, -1 without one (or one
	// that does not hold an integer).
	Seq int64
	// Future counts the entries scored more than the given margin after
	// the server's clock; Ahead is how far after it the newest entry is
	// scored (zero or less when none is in the future, or the key is
	// gone). Both are read only for the keys asked with their entries.
	Future int64
	Ahead  time.Duration
}

// SampleKeys reads, for each key (without prefix), its sequence key, and
// for the first withEntries keys also its entries scored more than
// futureAfter after the server's clock: one command a key, three for those,
// pipelined a batch at a time. It returns the samples in the order of keys
// and the server's clock when it began. A key of another type samples as
// one without entries.
func (c *Client) SampleKeys(ctx context.Context, prefix string, keys []string, withEntries int, futureAfter time.Duration) ([]Sample, time.Time, error) {
	if len(keys) == 0 {
		return nil, time.Time{}, nil
	}
	u := c.universal()
	clk, err := c.clock(ctx, u, c.endpoint)
	if err != nil {
		return nil, time.Time{}, err
	}
	began := clk.now()
	out := make([]Sample, 0, len(keys))
	for start := 0; start < len(keys); start += c.opts.BatchSize {
		batch := keys[start:min(len(keys), start+c.opts.BatchSize)]
		nowMs := clk.now().UnixMilli()
		pipe := u.Pipeline()
		seqs := make([]*goredis.StringCmd, len(batch))
		future := make([]*goredis.IntCmd, len(batch))
		newest := make([]*goredis.ZSliceCmd, len(batch))
		for i, k := range batch {
			seqs[i] = pipe.Get(ctx, prefix+k+":seq")
			if start+i < withEntries {
				future[i] = pipe.ZCount(ctx, prefix+k, "("+strconv.FormatInt(nowMs+futureAfter.Milliseconds(), 10), "+inf")
				newest[i] = pipe.ZRangeWithScores(ctx, prefix+k, -1, -1)
			}
		}
		_, _ = pipe.Exec(ctx)
		for i, k := range batch {
			s := Sample{Key: k, Seq: -1}
			switch n, err := seqs[i].Int64(); {
			case err == nil:
				s.Seq = n
			case errors.Is(err, goredis.Nil), isWrongType(err), isNotInteger(err):
			default:
				return nil, time.Time{}, c.wrap("GET", c.endpoint, err)
			}
			if future[i] != nil {
				if s.Future, err = future[i].Result(); err != nil && !isWrongType(err) {
					return nil, time.Time{}, c.wrap("ZCOUNT", c.endpoint, err)
				}
				zs, err := newest[i].Result()
				if err != nil && !isWrongType(err) {
					return nil, time.Time{}, c.wrap("ZRANGE", c.endpoint, err)
				}
				if len(zs) == 1 {
					s.Ahead = aheadOf(zs[0].Score, nowMs)
				}
			}
			out = append(out, s)
		}
	}
	return out, began, nil
}

// aheadOf is how far score (ms) is after nowMs, bounded so that an
// infinite or huge score stays a valid duration.
func aheadOf(score float64, nowMs int64) time.Duration {
	const bound = float64(100 * 365 * 24 * time.Hour / time.Millisecond)
	d := score - float64(nowMs)
	if math.IsNaN(d) {
		return 0
	}
	return time.Duration(max(-bound, min(bound, d)) * float64(time.Millisecond))
}

// isNotInteger reports a value that is not an integer, as strconv says it
// when go-redis parses a reply.
func isNotInteger(err error) bool {
	_, ok := errors.AsType[*strconv.NumError](err)
	return ok
}
