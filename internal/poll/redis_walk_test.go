package poll

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// seedRecent writes key with n members inside the last second and old
// members 30 s back: inside the 60 s default window, outside a 1 s one.
func seedRecent(t *testing.T, rc *goredis.Client, key string, n, old int) {
	t.Helper()
	ctx := t.Context()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	ms := now.UnixMilli()
	var zs []goredis.Z
	for i := range n {
		zs = append(zs, goredis.Z{Score: float64(ms - 100 - int64(i)), Member: fmt.Sprintf("new%d", i)})
	}
	for i := range old {
		zs = append(zs, goredis.Z{Score: float64(ms - 30_000 - int64(i)), Member: fmt.Sprintf("old%d", i)})
	}
	if err := rc.ZAdd(ctx, "ratelimit:"+key, zs...).Err(); err != nil {
		t.Fatalf("ZADD: %v", err)
	}
	if err := rc.Expire(ctx, "ratelimit:"+key, time.Hour).Err(); err != nil {
		t.Fatalf("EXPIRE: %v", err)
	}
}

func topOf(sec *snapshot.RedisSection) string {
	var parts []string
	for _, k := range sec.Counters.Top {
		parts = append(parts, fmt.Sprintf("%s=%d/%d", k.Key, k.Count, k.Limit))
	}
	return strings.Join(parts, " ")
}

// TestRedisPollOverridesChangeBetweenPolls: a walk counts keys by the
// overrides of the last walk; the ones that changed since must not leave a
// key counted over the wrong window or judged by the wrong limit.
func TestRedisPollOverridesChangeBetweenPolls(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	ctx := t.Context()
	seedRecent(t, rc, "a", 2, 6) // 8 in 60 s, 2 in 1 s
	seedRecent(t, rc, "b", 3, 4) // 7 in 60 s, 3 in 1 s
	seedRecent(t, rc, "c", 1, 1) // 2 in 60 s, 1 in 1 s
	for i := range 500 {
		seedRecent(t, rc, fmt.Sprintf("bulk%03d", i), 0, 1)
	}
	if err := rc.HSet(ctx, "ratelimit:limit:a", "limit", "1", "window_ms", "1000").Err(); err != nil {
		t.Fatal(err)
	}
	p := newTestRedisPoller(t, RedisConfig{Client: newRedisTestClient(t, srv.URL, nil), TopN: 3, Logger: zaptest.NewLogger(t)})
	steps := []struct {
		name    string
		change  func() error
		want    string
		inWin   int64
		blocked int64
	}{
		{name: "first poll", want: "b=7/10 a=2/1 c=2/10", inWin: 2 + 7 + 2 + 500, blocked: 1},
		{name: "a's override gone, b's new, c's limit", change: func() error {
			pipe := rc.Pipeline()
			pipe.Del(ctx, "ratelimit:limit:a")
			pipe.HSet(ctx, "ratelimit:limit:b", "limit", "2", "window_ms", "1000")
			pipe.HSet(ctx, "ratelimit:limit:c", "limit", "2")
			_, err := pipe.Exec(ctx)
			return err
		}, want: "a=8/10 b=3/2 c=2/2", inWin: 8 + 3 + 2 + 500, blocked: 2},
		{name: "unchanged", want: "a=8/10 b=3/2 c=2/2", inWin: 8 + 3 + 2 + 500, blocked: 2},
	}
	for _, st := range steps {
		if st.change != nil {
			if err := st.change(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		sec, err := pollRedis(t, p)
		if err != nil {
			t.Fatalf("%s: Poll: %v", st.name, err)
		}
		if got := topOf(sec); got != st.want || sec.Counters.RequestsInWindow != st.inWin || sec.Counters.BlockedKeys != st.blocked {
			t.Errorf("%s: top %q, %d in window, %d blocked; want %q, %d, %d",
				st.name, got, sec.Counters.RequestsInWindow, sec.Counters.BlockedKeys, st.want, st.inWin, st.blocked)
		}
	}
}

func TestRedisPollersShareOneWalk(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seedKeyspace(t, t.Context(), rc)
	const ttl = 600 * time.Millisecond
	observers := make([]*RedisPoller, 3)
	for i := range observers {
		observers[i] = newTestRedisPoller(t, RedisConfig{
			Client: newRedisTestClient(t, srv.URL, nil), Hints: testHints("hot", "vip", "absent"),
			InstanceID: fmt.Sprintf("obs-%d", i+1), Coordinate: true, LeaseTTL: ttl, Logger: zaptest.NewLogger(t),
		})
	}
	if err := rc.ConfigResetStat(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	first, err := pollRedis(t, observers[0])
	if err != nil {
		t.Fatalf("walker's poll: %v", err)
	}
	oneWalk := srv.CommandCalls(t, "scan")
	for _, o := range observers[1:] {
		sec, err := pollRedis(t, o)
		if err != nil {
			t.Fatalf("reader's poll: %v", err)
		}
		if sec.Counters.WalkedBy != "obs-1" || topOf(sec) != topOf(first) || sec.Counters.Keys != first.Counters.Keys ||
			sec.Counters.RequestsInWindow != first.Counters.RequestsInWindow || len(sec.Registry) != len(first.Registry) {
			t.Errorf("reader's counters %+v, want the walker's %+v", sec.Counters, first.Counters)
		}
		if sec.KeyCounts["hot"] != first.KeyCounts["hot"] || sec.KeyCounts["vip"] != 30 {
			t.Errorf("reader's own counts %v, walker's %v", sec.KeyCounts, first.KeyCounts)
		}
		if age := first.Counters.WalkedAt.Sub(*sec.Counters.WalkedAt); age > time.Second || age < -time.Second {
			t.Errorf("reader says walked at %v, walker %v", sec.Counters.WalkedAt, first.Counters.WalkedAt)
		}
	}
	if got := srv.CommandCalls(t, "scan"); got != oneWalk {
		t.Errorf("three observers ran %d SCAN, one walk is %d", got, oneWalk)
	}

	// A clean stop hands the lease over at once.
	if err := observers[0].Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if sec, err := pollRedis(t, observers[1]); err != nil || sec.Counters.WalkedBy != "obs-2" {
		t.Fatalf("after the walker's stop: err %v, walked by %q, want obs-2", err, sec.Counters.WalkedBy)
	}
	// obs-2 dies without a word: obs-3 walks once the lease expires.
	testenv.WaitFor(t, 5*ttl, "obs-3 to take the lease", func() error {
		sec, err := pollRedis(t, observers[2])
		if err != nil {
			return err
		}
		if sec.Counters.WalkedBy != "obs-3" {
			return fmt.Errorf("walked by %q", sec.Counters.WalkedBy)
		}
		return nil
	})
}

func TestRedisPollerWithoutSharedWalkYet(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	if err := rc.Set(t.Context(), "observerd:{ratelimit:}:walk:lease", "obs-elsewhere", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	p := newTestRedisPoller(t, RedisConfig{Client: newRedisTestClient(t, srv.URL, nil), InstanceID: "obs-1", Coordinate: true, LeaseTTL: time.Minute})
	_, err := pollRedis(t, p)
	if err == nil || !strings.Contains(err.Error(), `observer "obs-elsewhere" holds the walk lease`) {
		t.Errorf("Poll err = %v, want one naming the lease's holder", err)
	}
	// A share of another version: this observer walks alone.
	if err := rc.Set(t.Context(), "observerd:{ratelimit:}:walk:result", `{"version":99,"walked_by":"obs-elsewhere"}`, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	sec, err := pollRedis(t, p)
	if err != nil || sec.Counters.WalkedBy != "obs-1" {
		t.Errorf("with a share of version 99: err %v, sec %+v; want this observer's own walk", err, sec)
	}
}

// TestRedisPollerWalksAReplica: with a walk client, the keyspace is read
// from it while PING, INFO, the lease and the shared walk stay on the
// primary, which a replica could not take.
func TestRedisPollerWalksAReplica(t *testing.T) {
	primary, replica := testenv.StartRedis(t), testenv.StartRedis(t)
	prc := goredis.NewClient(&goredis.Options{Addr: primary.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { prc.Close() })
	rrc := goredis.NewClient(&goredis.Options{Addr: replica.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rrc.Close() })
	seedRecent(t, prc, "a", 3, 2)
	// The first sync would wait 5 s for more replicas otherwise.
	if err := prc.ConfigSet(t.Context(), "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(primary.Addr, ":")
	if err := rrc.SlaveOf(t.Context(), host, port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	testenv.WaitFor(t, 10*time.Second, "the replica to hold the primary's keys", func() error {
		if n, err := rrc.Exists(t.Context(), "ratelimit:a").Result(); err != nil || n != 1 {
			return fmt.Errorf("EXISTS ratelimit:a = %d, %v", n, err)
		}
		return nil
	})
	// A key only the replica has proves which one was walked.
	if err := rrc.ConfigSet(t.Context(), "replica-read-only", "no").Err(); err != nil {
		t.Fatal(err)
	}
	seedRecent(t, rrc, "only-on-replica", 1, 0)
	p := newTestRedisPoller(t, RedisConfig{
		Client: newRedisTestClient(t, primary.URL, nil), WalkClient: newRedisTestClient(t, replica.URL, nil),
		InstanceID: "obs-1", Coordinate: true, LeaseTTL: time.Minute,
	})
	sec, err := pollRedis(t, p)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if sec.Counters.Keys != 2 || sec.Counters.RequestsInWindow != 6 {
		t.Errorf("counters %+v, want the replica's 2 keys and 6 requests", sec.Counters)
	}
	if sec.Info.Role != "master" {
		t.Errorf("INFO role %q, want the primary's", sec.Info.Role)
	}
	if n, err := prc.Exists(t.Context(), "observerd:{ratelimit:}:walk:lease", "observerd:{ratelimit:}:walk:result").Result(); err != nil || n != 2 {
		t.Errorf("lease and shared walk on the primary: %d of 2, %v", n, err)
	}
}

// TestWalkKeepsItsLease: a walk longer than the lease's TTL renews it, so
// that no other observer starts a second walk meanwhile.
func TestWalkKeepsItsLease(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seedKeyspace(t, t.Context(), rc)
	const ttl = 300 * time.Millisecond
	observer := func(id string, pace float64) *RedisPoller {
		return newTestRedisPoller(t, RedisConfig{
			Client: newRedisTestClient(t, srv.URL, nil), InstanceID: id, Coordinate: true, LeaseTTL: ttl, MaxKeysPerSecond: pace,
		})
	}
	// About 4500 keys at 5000 a second: a walk of three TTLs.
	walker, other := observer("obs-1", 5000), observer("obs-2", 0)
	done := make(chan error, 1)
	go func() {
		_, err := pollRedis(t, walker)
		done <- err
	}()
	checks := 0
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the walker's poll: %v", err)
			}
			if checks < 3 {
				t.Fatalf("the walk ended after %d checks: too short to outlive its lease", checks)
			}
			sec, err := pollRedis(t, other)
			if err != nil || sec.Counters.WalkedBy != "obs-1" {
				t.Fatalf("after the walk: err %v, walked by %q, want obs-1's walk", err, sec.Counters.WalkedBy)
			}
			return
		case <-time.After(ttl / 2):
		}
		sec, err := pollRedis(t, other)
		if err == nil && sec.Counters.WalkedBy == "obs-1" {
			// obs-1's walk ended since the wait: obs-2 read it.
			continue
		}
		if err == nil || !strings.Contains(err.Error(), `observer "obs-1" holds the walk lease`) {
			t.Fatalf("during obs-1's walk, obs-2's poll: %v; want obs-1 still holding the lease", err)
		}
		checks++
	}
}

// TestRedisPollOverrideWithoutWindow: an override without window_ms has
// the default window, so members older than it are not counted and the
// key is judged by its own limit over the default window, on the first
// poll (the override not known yet) and on the next.
func TestRedisPollOverrideWithoutWindow(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	ctx := t.Context()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	pipe := rc.Pipeline()
	// 3 members in the default minute, 4 two minutes old.
	addCounter(ctx, pipe, now, counterSeed{key: "nowin", in: 3, old: 4, ttl: time.Hour})
	pipe.HSet(ctx, "ratelimit:limit:nowin", "limit", "5")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	p := newTestRedisPoller(t, RedisConfig{Client: newRedisTestClient(t, srv.URL, nil), Hints: testHints("nowin"), Logger: zaptest.NewLogger(t)})
	for _, poll := range []string{"first poll", "second poll"} {
		sec, err := pollRedis(t, p)
		if err != nil {
			t.Fatalf("%s: Poll: %v", poll, err)
		}
		c := sec.Counters
		if got := topOf(sec); got != "nowin=3/5" || c.RequestsInWindow != 3 || sec.KeyCounts["nowin"] != 3 || c.BlockedKeys != 0 || c.OverLimitKeys != 0 {
			t.Errorf("%s: top %q, %d in window, key count %d, %d blocked, %d over limit; want nowin=3/5, 3, 3, 0, 0",
				poll, got, c.RequestsInWindow, sec.KeyCounts["nowin"], c.BlockedKeys, c.OverLimitKeys)
		}
	}
}

// TestRedisWalkFigures: a walk says how it went, and the sidecars that
// read the walk lease holder's result say the same.
func TestRedisWalkFigures(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seedKeyspace(t, t.Context(), rc)
	observer := func(id string, budget, pace float64) *RedisPoller {
		return newTestRedisPoller(t, RedisConfig{
			Client: newRedisTestClient(t, srv.URL, nil), InstanceID: id, Coordinate: true, LeaseTTL: time.Minute,
			WalkBudget: budget, MaxKeysPerSecond: pace,
		})
	}
	walker, reader := observer("obs-1", 0.15, 0), observer("obs-2", 1, 0)
	sec, err := pollRedis(t, walker)
	if err != nil {
		t.Fatal(err)
	}
	w := sec.Counters.Walk
	if w == nil {
		t.Fatal("no counters.walk")
	}
	if w.PacedBy != redisclient.PacedByBudget || w.Budget != 0.15 || w.ShareMeasuredBy != snapshot.ShareByCommandstats {
		t.Errorf("walk %+v: want paced by its 0.15 budget, measured by commandstats", *w)
	}
	if !w.Duration.Valid || w.Duration.Duration <= 0 || !w.KeysPerSecond.Valid() || w.KeysPerSecond <= 0 {
		t.Errorf("walk %+v: want a duration and a pace", *w)
	}
	if !w.RedisShare.Valid() || w.RedisShare <= 0 || w.RedisShare > 0.15*1.02 {
		t.Errorf("walk share %v: want above 0 and within the 0.15 budget", w.RedisShare)
	}
	got, err := pollRedis(t, reader)
	if err != nil {
		t.Fatal(err)
	}
	// The duration goes through JSON in fractional milliseconds.
	if rw := got.Counters.Walk; rw != nil {
		rw.Duration.Duration = rw.Duration.Round(time.Microsecond)
	}
	w.Duration.Duration = w.Duration.Round(time.Microsecond)
	if got.Counters.WalkedBy != "obs-1" || got.Counters.Walk == nil || *got.Counters.Walk != *w {
		t.Errorf("the reader's walk %+v by %q, want obs-1's %+v", got.Counters.Walk, got.Counters.WalkedBy, *w)
	}
	// Unpaced, and paced by a key rate, which has no budget.
	for _, tc := range []struct {
		p          *RedisPoller
		pacedBy    string
		budgetNull bool
	}{
		{observer("obs-3", 1, 0), redisclient.PacedByNothing, false},
		{observer("obs-4", 0.15, 1e6), redisclient.PacedByKeyRate, true},
	} {
		tc.p.cfg.Coordinate = false
		sec, err := pollRedis(t, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		w := sec.Counters.Walk
		if w.PacedBy != tc.pacedBy || w.Budget.Valid() == tc.budgetNull {
			t.Errorf("%s: walk %+v, want paced by %s, budget null %v", tc.p.cfg.InstanceID, *w, tc.pacedBy, tc.budgetNull)
		}
	}
}

// TestFirstWalkWalksOnce: an observer that knows no override yet reads
// them before its first walk, rather than counting their keys by the
// default window and walking the keyspace again.
func TestFirstWalkWalksOnce(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seedKeyspace(t, t.Context(), rc)
	if err := rc.ConfigResetStat(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	p := newTestRedisPoller(t, RedisConfig{Client: newRedisTestClient(t, srv.URL, nil)})
	sec, err := pollRedis(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.CommandCalls(t, "zcount"); n > sec.Counters.Keys+int64(len(sec.Sampled))*2+10 {
		t.Errorf("%d ZCOUNT calls for %d counters: the first walk walked again", n, sec.Counters.Keys)
	}
	if len(sec.Overrides) == 0 {
		t.Fatal("the seeded keyspace has no override")
	}
}

// TestWalkTimes: a budgeted walk aims within three quarters of the
// interval, or of the deadline when sooner, and is spread over that time
// only in the daemon and over a keyspace large enough to gain from it.
func TestWalkTimes(t *testing.T) {
	began := time.Unix(1000, 0)
	for _, tc := range []struct {
		name                string
		interval, deadline  time.Duration // 0: none
		expected            int64
		wantFinish, wantTil time.Duration // 0: zero time
	}{
		{"daemon", 5 * time.Second, 10 * time.Second, 150_000, 3750 * time.Millisecond, 3750 * time.Millisecond},
		{"small keyspace", 5 * time.Second, 10 * time.Second, 9_999, 3750 * time.Millisecond, 0},
		{"deadline before the interval", 5 * time.Second, 2 * time.Second, 150_000, 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"one-shot check", 0, 10 * time.Second, 150_000, 7500 * time.Millisecond, 0},
		{"neither", 0, 0, 150_000, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, began.Add(tc.deadline))
				defer cancel()
			}
			p := &RedisPoller{cfg: RedisConfig{Interval: tc.interval}}
			finish, spread := p.walkTimes(ctx, began, tc.expected)
			at := func(d time.Duration) time.Time {
				if d == 0 {
					return time.Time{}
				}
				return began.Add(d)
			}
			if !finish.Equal(at(tc.wantFinish)) || !spread.Equal(at(tc.wantTil)) {
				t.Errorf("finish by %v, spread until %v; want %v, %v", finish, spread, at(tc.wantFinish), at(tc.wantTil))
			}
		})
	}
}
