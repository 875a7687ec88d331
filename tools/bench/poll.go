package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
// zero RedisConfig: every poll walks the whole keyspace.
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

// minimalLoop is the leanest correct-ish poll a user would write: one SCAN
// MATCH ratelimit:* COUNT 1000 loop, and per page one pipelined ZCOUNT
// key now-60000 +inf and PTTL of each counter key, serial, without
// de-duplication. It returns the counters it counted.
func minimalLoop(ctx context.Context, rc *goredis.Client) (int, error) {
	min := strconv.FormatInt(time.Now().UnixMilli()-defaultWindow.Milliseconds(), 10)
	var cursor uint64
	n := 0
	for {
		keys, next, err := rc.Scan(ctx, cursor, keyPrefix+"*", 1000).Result()
		if err != nil {
			return n, err
		}
		pipe := rc.Pipeline()
		for _, k := range keys {
			if strings.HasSuffix(k, ":seq") || strings.HasPrefix(k, keyPrefix+"limit:") {
				continue
			}
			pipe.ZCount(ctx, k, min, "+inf")
			pipe.PTTL(ctx, k)
			n++
		}
		if pipe.Len() > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return n, err
			}
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// pollResult is part a at one keyspace size.
type pollResult struct {
	poll, loop []time.Duration
	// pollServer and loopServer are Redis's own time spent on each run's
	// commands (INFO commandstats).
	pollServer, loopServer []time.Duration
	pollKeys               int64
	loopKeys               int
	section                *snapshot.RedisSection
}

// serverTime is the time Redis has spent running commands since its
// statistics were reset, INFO's own calls left out.
func serverTime(ctx context.Context, rc *goredis.Client) (time.Duration, error) {
	info, err := rc.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO commandstats: %w", err)
	}
	var usec int64
	for line := range strings.SplitSeq(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		for field := range strings.SplitSeq(stats, ",") {
			if v, ok := strings.CutPrefix(field, "usec="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("INFO commandstats: %s: %w", name, err)
				}
				usec += n
			}
		}
	}
	return time.Duration(usec) * time.Microsecond, nil
}

// timed runs f and returns its wall time and Redis's time spent on it.
func timed(ctx context.Context, rc *goredis.Client, f func() error) (wall, server time.Duration, err error) {
	before, err := serverTime(ctx, rc)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := f(); err != nil {
		return 0, 0, err
	}
	wall = time.Since(start)
	after, err := serverTime(ctx, rc)
	return wall, after - before, err
}

// measurePoll times runs polls and runs loops, alternating, after one
// untimed warm-up of each; at a million keys and more a PING of each
// client stands in for the warm-up, which would cost as much as a run.
func measurePoll(ctx context.Context, r *benchRedis, p *poller, runs, size int) (pollResult, error) {
	var res pollResult
	if err := warmUp(ctx, r, p, size >= 1_000_000); err != nil {
		return res, err
	}
	for range runs {
		wall, server, err := timed(ctx, r.rc, func() error {
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
		wall, server, err = timed(ctx, r.rc, func() error {
			n, err := minimalLoop(ctx, r.rc)
			if err != nil {
				return fmt.Errorf("minimal loop: %w", err)
			}
			res.loopKeys = n
			return nil
		})
		if err != nil {
			return res, err
		}
		res.loop, res.loopServer = append(res.loop, wall), append(res.loopServer, server)
	}
	return res, nil
}

// warmUp opens both clients' connections, and runs one poll and one loop
// unless pingOnly.
func warmUp(ctx context.Context, r *benchRedis, p *poller, pingOnly bool) error {
	if pingOnly {
		if _, err := p.client.Ping(ctx); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		return r.rc.Ping(ctx).Err()
	}
	if _, err := p.poll(ctx); err != nil {
		return fmt.Errorf("warm-up poll: %w", err)
	}
	if _, err := minimalLoop(ctx, r.rc); err != nil {
		return fmt.Errorf("warm-up loop: %w", err)
	}
	return nil
}
