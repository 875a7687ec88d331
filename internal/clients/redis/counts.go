package redis

import (
	"context"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Counts returns the in-window count of each key (without prefix) with
// pipelined ZCOUNT, as a walk counts them. A key that does not exist, or is
// not a sorted set, counts 0. It is how an observer that does not walk the
// keyspace still compares the nodes' counts with Redis's.
func (c *Client) Counts(ctx context.Context, prefix string, keys []string, window func(key string) time.Duration) (map[string]int64, error) {
	out := make(map[string]int64, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	u := c.universal()
	clk, err := c.clock(ctx, u, c.endpoint)
	if err != nil {
		return nil, err
	}
	for batch := range slices.Chunk(keys, c.opts.BatchSize) {
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
