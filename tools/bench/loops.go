package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

// loopScanCount is the COUNT hint of the plain loops' SCAN calls.
const loopScanCount = 1000

// plainLoop is part a's rival: the poll a user would write with go-redis
// alone, tuned for speed and nothing else. It SCANs MATCH ratelimit:*
// COUNT 1000 and counts the counters in pipelines of batch keys, each key
// one ZCOUNT key now-60000 +inf and one PTTL, without de-duplication.
// With inFlight zero it scans the whole keyspace first and then sends one
// pipeline at a time; otherwise it scans on one connection while
// inFlight pipelines are counted on others.
type plainLoop struct {
	batch    int
	inFlight int
}

// plainLoops are the loops part a tries at every size; the fastest is the
// baseline. Batch sizes and pipelines in flight are the ones that came
// out fastest on a 2-core machine beside Redis, and their neighbours.
var plainLoops = []plainLoop{
	{batch: 500},
	{batch: 500, inFlight: 2},
	{batch: 500, inFlight: 4},
	{batch: 1000, inFlight: 2},
}

func (l plainLoop) String() string {
	if l.inFlight == 0 {
		return fmt.Sprintf("scan, then batches of %d", l.batch)
	}
	return fmt.Sprintf("scan beside %d batches of %d in flight", l.inFlight, l.batch)
}

// run counts every counter SCAN returns and answers how many it counted:
// a key SCAN returned twice is counted twice.
func (l plainLoop) run(ctx context.Context, rc *goredis.Client) (int, error) {
	from := strconv.FormatInt(time.Now().UnixMilli()-defaultWindow.Milliseconds(), 10)
	if l.inFlight == 0 {
		var keys []string
		err := scanCounterKeys(ctx, rc, func(page []string) error {
			keys = append(keys, page...)
			return nil
		})
		if err != nil {
			return 0, err
		}
		n := 0
		for start := 0; start < len(keys); start += l.batch {
			c, err := countBatch(ctx, rc, from, keys[start:start+min(l.batch, len(keys)-start)])
			if err != nil {
				return n, err
			}
			n += c
		}
		return n, nil
	}
	return l.runOverlapped(ctx, rc, from)
}

// runOverlapped scans on one connection while inFlight others count the
// batches the scan fills, counted from the window's start from.
func (l plainLoop) runOverlapped(ctx context.Context, rc *goredis.Client, from string) (int, error) {
	var n atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []string, 16)
	send := func(b []string) error {
		select {
		case batches <- b:
			return nil
		case <-gctx.Done():
			return gctx.Err()
		}
	}
	g.Go(func() error {
		defer close(batches)
		var cur []string
		err := scanCounterKeys(gctx, rc, func(page []string) error {
			for _, k := range page {
				if cur = append(cur, k); len(cur) == l.batch {
					if err := send(cur); err != nil {
						return err
					}
					cur = make([]string, 0, l.batch)
				}
			}
			return nil
		})
		if err == nil && len(cur) > 0 {
			err = send(cur)
		}
		return err
	})
	for range l.inFlight {
		g.Go(func() error {
			for b := range batches {
				c, err := countBatch(gctx, rc, from, b)
				if err != nil {
					return err
				}
				n.Add(int64(c))
			}
			return nil
		})
	}
	err := g.Wait()
	return int(n.Load()), err
}

// scanCounterKeys calls page with the counter keys of every SCAN page:
// the keys under the prefix but the overrides and the :seq keys.
func scanCounterKeys(ctx context.Context, rc *goredis.Client, page func([]string) error) error {
	var cursor uint64
	for {
		keys, next, err := rc.Scan(ctx, cursor, keyPrefix+"*", loopScanCount).Result()
		if err != nil {
			return fmt.Errorf("SCAN: %w", err)
		}
		counters := keys[:0]
		for _, k := range keys {
			if !strings.HasSuffix(k, ":seq") && !strings.HasPrefix(k, keyPrefix+"limit:") {
				counters = append(counters, k)
			}
		}
		if err := page(counters); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// countBatch counts keys in one pipeline and answers how many were
// counted: every one, or an error.
func countBatch(ctx context.Context, rc *goredis.Client, from string, keys []string) (int, error) {
	pipe := rc.Pipeline()
	counts := make([]*goredis.IntCmd, len(keys))
	for i, k := range keys {
		counts[i] = pipe.ZCount(ctx, k, from, "+inf")
		pipe.PTTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("pipeline of %d keys: %w", len(keys), err)
	}
	for _, c := range counts {
		if c.Err() != nil {
			return 0, c.Err()
		}
	}
	return len(keys), nil
}
