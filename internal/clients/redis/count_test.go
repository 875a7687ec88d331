package redis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

// TestCountsTheWindowsFirstMillisecond: the window is [now - window, +inf),
// so a member scored exactly now - window is in it and one a millisecond
// older is not, in a walk and in Counts alike. The clock is fixed, so that
// now is the millisecond the members were scored against.
func TestCountsTheWindowsFirstMillisecond(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	now := time.UnixMilli(1_767_225_600_000)
	pipe := rc.Pipeline()
	for _, key := range []string{"edge", "short"} {
		w := testWindow(key).Milliseconds()
		ms := now.UnixMilli()
		pipe.ZAdd(ctx, "ratelimit:"+key,
			goredis.Z{Score: float64(ms), Member: "now"},
			goredis.Z{Score: float64(ms - w), Member: "first"},
			goredis.Z{Score: float64(ms - w - 1), Member: "outside"})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c := newTestClient(t, Options{URL: srv.URL, now: func() time.Time { return now }})
	walked := map[string]int64{}
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", Window: testWindow, Visit: func(cn Counter) { walked[cn.Key] = cn.Count }})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if !res.Stats.Now.Equal(now) {
		t.Errorf("the walk's now = %v, want the fixed %v", res.Stats.Now, now)
	}
	counted, err := c.Counts(ctx, "ratelimit:", []string{"edge", "short"}, testWindow)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	for _, key := range []string{"edge", "short"} {
		if walked[key] != 2 || counted[key] != 2 {
			t.Errorf("%q (window %v): walk counted %d, Counts %d; want 2, now and now - window",
				key, testWindow(key), walked[key], counted[key])
		}
	}
}

// TestCounterOfKeyGoneBeforeItsTTL: ZCOUNT and PTTL are two replies, and a
// key may expire between them. Counted with members, it was there and had
// a TTL: it is a counter, never one without TTL. Counted empty, it is a
// key gone before it was counted. The replies are go-redis's own values,
// as it reads them (PTTL -2 and -1 stay -2 and -1).
func TestCounterOfKeyGoneBeforeItsTTL(t *testing.T) {
	tests := []struct {
		name         string
		count        int64
		pttl         time.Duration
		want         Counter
		wantOK       bool
		wantVanished int64
	}{
		{name: "with a TTL", count: 3, pttl: 5 * time.Second, want: Counter{Key: "k", Count: 3, TTL: 5 * time.Second}, wantOK: true},
		{name: "without a TTL", count: 3, pttl: -1, want: Counter{Key: "k", Count: 3, TTL: NoTTL}, wantOK: true},
		{name: "empty window, without a TTL", count: 0, pttl: -1, want: Counter{Key: "k", TTL: NoTTL}, wantOK: true},
		{name: "counted, then expired", count: 3, pttl: -2, want: Counter{Key: "k", Count: 3, TTL: 0}, wantOK: true},
		{name: "gone before counted", count: 0, pttl: -2, wantVanished: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			count := goredis.NewIntCmd(t.Context(), "zcount", "ratelimit:k", "0", "+inf")
			count.SetVal(tt.count)
			pttl := goredis.NewDurationCmd(t.Context(), time.Millisecond, "pttl", "ratelimit:k")
			pttl.SetVal(tt.pttl)
			wk := &walker{}
			got, ok, err := wk.counterOf(count, pttl, "k", "127.0.0.1:6379")
			if err != nil || ok != tt.wantOK || got != tt.want {
				t.Errorf("counterOf(%d, %v) = %+v, %v, %v; want %+v, %v, nil", tt.count, tt.pttl, got, ok, err, tt.want, tt.wantOK)
			}
			if wk.stats.Vanished != tt.wantVanished {
				t.Errorf("Vanished = %d, want %d", wk.stats.Vanished, tt.wantVanished)
			}
		})
	}
}

// expireAfterCount runs each of the walk's pipelines one command at a time
// and expires the keys named, from another connection, right after their
// ZCOUNT and before their PTTL: what expiry may do between the two replies.
type expireAfterCount struct {
	rc   *goredis.Client
	keys []string
}

func (expireAfterCount) DialHook(next goredis.DialHook) goredis.DialHook          { return next }
func (expireAfterCount) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (h expireAfterCount) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		var first error
		for _, cmd := range cmds {
			first = cmp.Or(first, next(ctx, []goredis.Cmder{cmd}))
			if cmd.Name() != "zcount" {
				continue
			}
			if key := fmt.Sprint(cmd.Args()[1]); slices.Contains(h.keys, key) {
				// A time in the past: Redis expires the key at once.
				if err := h.rc.PExpireAt(ctx, key, time.UnixMilli(1)).Err(); err != nil {
					return err
				}
			}
		}
		return first
	}
}

// TestWalkKeyExpiredBetweenCountAndTTL: hot expires after its ZCOUNT
// counted 8 members, old after its ZCOUNT counted none. hot is a counter
// with its 8 and a TTL of 0, not a key without TTL; old vanished.
func TestWalkKeyExpiredBetweenCountAndTTL(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	seedWalk(t, ctx, rc)
	c := newTestClient(t, Options{URL: srv.URL})
	c.single.AddHook(expireAfterCount{rc: rc, keys: []string{"ratelimit:hot", "ratelimit:old"}})
	got := map[string]Counter{}
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", Window: testWindow, Visit: func(cn Counter) { got[cn.Key] = cn }})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if n, err := rc.Exists(ctx, "ratelimit:hot", "ratelimit:old").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS hot old = %d, %v; want both expired by the walk", n, err)
	}
	if hot, ok := got["hot"]; !ok || hot.Count != 8 || hot.TTL != 0 {
		t.Errorf("hot = %+v (visited %v), want 8 members and TTL 0, not NoTTL (%v)", hot, ok, NoTTL)
	}
	if old, ok := got["old"]; ok {
		t.Errorf("old visited as %+v, want it vanished", old)
	}
	if s := res.Stats; s.Vanished != 1 || s.Counters != 3+bulkKeys || s.OrphanSequenceKeys != 2 {
		t.Errorf("stats = %+v; want 1 vanished, %d counters, 2 orphan :seq keys", s, 3+bulkKeys)
	}
}

// TestWalkSequenceKeysEndInSeq: only a key ending in :seq is a sequence
// key; :seq anywhere else is part of a counter's name.
func TestWalkSequenceKeysEndInSeq(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	counters := []string{"user:seq:1", "a:seqx", "seq:2", "b:seq:", "plain"}
	pipe := rc.Pipeline()
	for _, k := range counters {
		pipe.ZAdd(ctx, "ratelimit:"+k, goredis.Z{Score: float64(now.UnixMilli() - 100), Member: "1"})
		pipe.Set(ctx, "ratelimit:"+k+":seq", "1", 0)
	}
	pipe.Set(ctx, "ratelimit:gone:seq:3:seq", "1", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c := newTestClient(t, Options{URL: srv.URL})
	var visited []string
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", Window: testWindow, Visit: func(cn Counter) { visited = append(visited, cn.Key) }})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	slices.Sort(visited)
	slices.Sort(counters)
	if !slices.Equal(visited, counters) {
		t.Errorf("visited %q, want the counters %q", visited, counters)
	}
	if s := res.Stats; s.Counters != 5 || s.SequenceKeys != 6 || s.OrphanSequenceKeys != 1 {
		t.Errorf("stats = %+v; want 5 counters, 6 :seq keys, 1 orphan (gone:seq:3's)", s)
	}
}
