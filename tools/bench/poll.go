package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/poll"
	"github.com/observerd/observerd/internal/snapshot"
)

// defaultWindow and defaultLimit are the cluster defaults the bench judges
// keys by, observerd's own defaults.
const (
	defaultLimit  = 100
	defaultWindow = time.Minute
)

// poller is observerd's Redis poller over its own client, configured the
// way observerd configures it by default but for coordination, off in the
// zero RedisConfig, and pacing: no walk budget and no keys-per-second
// pace, so every poll walks the whole keyspace unpaced.
type poller struct {
	client *redisclient.Client
	p      *poll.RedisPoller
}

func newPoller(url string) (*poller, error) {
	client, err := redisclient.New(redisclient.Options{URL: url})
	if err != nil {
		return nil, err
	}
	p, err := poll.NewRedisPoller(poll.RedisConfig{
		Client:     client,
		KeyPrefix:  keyPrefix,
		NodePrefix: nodePrefix,
		TopN:       20,
		ListCap:    100,
		NearLimit:  config.Default().NearLimitRatio,
		Hints: snapshot.HintsFunc(func() snapshot.Hints {
			return snapshot.Hints{DefaultLimit: defaultLimit, DefaultWindow: defaultWindow}
		}),
	})
	if err != nil {
		client.Close()
		return nil, err
	}
	return &poller{client: client, p: p}, nil
}

// poll runs one full poll and returns its section.
func (p *poller) poll(ctx context.Context) (*snapshot.RedisSection, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	sec, err := p.p.Poll(ctx)
	if err != nil {
		return nil, err
	}
	rs, ok := sec.(*snapshot.RedisSection)
	if !ok {
		return nil, fmt.Errorf("poll answered a %T", sec)
	}
	return rs, nil
}

func (p *poller) close() { p.client.Close() }

// pollResult is part a at one keyspace size: observerd's poll, its first
// poll after a start and every plain loop, each timed once a round.
type pollResult struct {
	poll, cold []time.Duration
	// pollServer and coldServer are Redis's own time spent on each poll
	// and first poll (INFO commandstats).
	pollServer, coldServer []time.Duration
	pollKeys, coldKeys     int64
	loops                  []loopResult
	section                *snapshot.RedisSection
}

// loopResult is one plain loop's runs.
type loopResult struct {
	loop         plainLoop
	wall, server []time.Duration
	// counted is the counters of each run, which must all be the size.
	counted []int
}

// best is the loop of the lowest median wall time.
func (r pollResult) best() loopResult {
	return slices.MinFunc(r.loops, func(a, b loopResult) int { return cmp.Compare(median(a.wall), median(b.wall)) })
}

// serverTime is the time Redis has spent running commands since its
// statistics were reset, INFO's own calls left out.
func serverTime(ctx context.Context, r *benchRedis) (time.Duration, error) {
	stats, err := r.commandStats(ctx)
	if err != nil {
		return 0, fmt.Errorf("INFO commandstats: %w", err)
	}
	return time.Duration(stats.total()-stats["info"].usec) * time.Microsecond, nil
}

// timed runs f and returns its wall time and Redis's time spent on it.
func timed(ctx context.Context, r *benchRedis, f func() error) (wall, server time.Duration, err error) {
	before, err := serverTime(ctx, r)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := f(); err != nil {
		return 0, 0, err
	}
	wall = time.Since(start)
	after, err := serverTime(ctx, r)
	return wall, after - before, err
}

// measurePoll runs rounds of: one poll, every plain loop, and the first
// poll of a poller built anew, so that a drift of the machine falls on
// all of them alike. One untimed poll warms p first, and below a million
// keys one run of each loop warms the loops' connections.
func measurePoll(ctx context.Context, r *benchRedis, p *poller, runs, size int) (pollResult, error) {
	res := pollResult{loops: make([]loopResult, len(plainLoops))}
	for i, l := range plainLoops {
		res.loops[i].loop = l
	}
	if _, err := p.poll(ctx); err != nil {
		return res, fmt.Errorf("warm-up poll: %w", err)
	}
	if size < 1_000_000 {
		for _, l := range plainLoops {
			if _, err := l.run(ctx, r.rc); err != nil {
				return res, fmt.Errorf("warm-up loop %s: %w", l, err)
			}
		}
	}
	for range runs {
		wall, server, err := timed(ctx, r, func() error {
			sec, err := p.poll(ctx)
			if err != nil {
				return fmt.Errorf("poll: %w", err)
			}
			res.section, res.pollKeys = sec, sec.Counters.Keys
			return nil
		})
		if err != nil {
			return res, err
		}
		res.poll, res.pollServer = append(res.poll, wall), append(res.pollServer, server)
		for i := range res.loops {
			lr := &res.loops[i]
			wall, server, err := timed(ctx, r, func() error {
				n, err := lr.loop.run(ctx, r.rc)
				if err != nil {
					return fmt.Errorf("loop %s: %w", lr.loop, err)
				}
				lr.counted = append(lr.counted, n)
				return nil
			})
			if err != nil {
				return res, err
			}
			lr.wall, lr.server = append(lr.wall, wall), append(lr.server, server)
		}
		wall, server, err = timed(ctx, r, func() error {
			res.coldKeys, err = firstPoll(ctx, r.url)
			return err
		})
		if err != nil {
			return res, err
		}
		res.cold, res.coldServer = append(res.cold, wall), append(res.coldServer, server)
	}
	return res, nil
}

// firstPoll builds a client and a poller and runs their first poll:
// connections to dial, no walk before it to size its key set by or to
// know the overrides from, no top to keep. It answers the counters the
// poll counted.
func firstPoll(ctx context.Context, url string) (int64, error) {
	p, err := newPoller(url)
	if err != nil {
		return 0, err
	}
	defer p.close()
	sec, err := p.poll(ctx)
	if err != nil {
		return 0, fmt.Errorf("first poll: %w", err)
	}
	return sec.Counters.Keys, nil
}
