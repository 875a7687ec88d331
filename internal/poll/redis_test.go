package poll

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/testenv"
)

const (
	seedBulk     = 3000
	seedOrphans  = 7
	seedDBKeys   = 2*seedBulk + 10 + 7 + seedOrphans + 2 + 5 + 2 + 1
	testLimit    = 10
	testWindow   = time.Minute
	registryZone = 3600 // seconds east of UTC of the nodes' local time
)

// counterSeed describes one counter sorted set: members inside the window
// (a few seconds old) and older ones not yet pruned, plus its TTL (zero
// for none) and whether its :seq key exists.
type counterSeed struct {
	key     string
	in, old int
	oldAge  time.Duration
	ttl     time.Duration
	seq     bool
}

// seedKeyspace writes the test keyspace with pipelined real commands.
func seedKeyspace(t testing.TB, ctx context.Context, rc *goredis.Client) {
	t.Helper()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	counters := []counterSeed{
		{key: "hot", in: 12, old: 3, ttl: 61 * time.Second, seq: true},
		{key: "atlimit", in: 10, ttl: 61 * time.Second, seq: true},
		{key: "nearly", in: 9, ttl: 61 * time.Second, seq: true},
		// Override window 30 s: 20 members are only inside the default 60 s.
		{key: "vip", in: 30, old: 20, oldAge: 45 * time.Second, ttl: 31 * time.Second, seq: true},
		{key: "strict", in: 5, ttl: 61 * time.Second, seq: true},
		{key: "ghost", in: 3, ttl: 61 * time.Second, seq: true},
		{key: "noexp", in: 4},
		{key: "noexp2", in: 1},
		{key: "stale", old: 4, ttl: 61 * time.Second, seq: true},
		{key: "broken", in: 2, ttl: 61 * time.Second},
	}
	for i := range seedBulk {
		counters = append(counters, counterSeed{key: fmt.Sprintf("bulk:%04d", i), in: 1, old: 1, ttl: 61 * time.Second, seq: true})
	}
	pipe := rc.Pipeline()
	for _, c := range counters {
		addCounter(ctx, pipe, now, c)
	}
	for i := range seedOrphans {
		pipe.Set(ctx, fmt.Sprintf("ratelimit:gone:%d:seq", i), "5", 0)
	}
	pipe.Set(ctx, "ratelimit:wrong", "a string", 0)
	pipe.HSet(ctx, "ratelimit:wronghash", "f", "v")
	pipe.HSet(ctx, "ratelimit:limit:vip", "limit", "50", "window_ms", "30000")
	pipe.HSet(ctx, "ratelimit:limit:strict", "limit", "2")
	pipe.HSet(ctx, "ratelimit:limit:ghost", "limit", "0", "window_ms", "60000")
	pipe.HSet(ctx, "ratelimit:limit:unused", "limit", "5")
	pipe.HSet(ctx, "ratelimit:limit:broken", "limit", "abc")
	pipe.HSet(ctx, "ratelimiter:nodes:node-1", "address", "127.0.0.1:8001", "registered_at", "2026-01-27T01:48:37.123456")
	pipe.Expire(ctx, "ratelimiter:nodes:node-1", 30*time.Second)
	pipe.HSet(ctx, "ratelimiter:nodes:node-2", "address", "127.0.0.1:8002", "registered_at", "2026-01-27T01:48:37+02:00")
	pipe.Expire(ctx, "ratelimiter:nodes:node-2", 30*time.Second)
	pipe.Set(ctx, "other:key", "not ours", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

func addCounter(ctx context.Context, pipe goredis.Pipeliner, now time.Time, c counterSeed) {
	key := "ratelimit:" + c.key
	ms := now.UnixMilli()
	oldAge := c.oldAge
	if oldAge == 0 {
		oldAge = 2 * time.Minute
	}
	zs := make([]goredis.Z, 0, c.in+c.old)
	for i := range c.in {
		s := ms - 1000 + int64(i)
		zs = append(zs, goredis.Z{Score: float64(s), Member: fmt.Sprintf("%d:%d", s, i)})
	}
	for i := range c.old {
		s := ms - oldAge.Milliseconds() - int64(i)
		zs = append(zs, goredis.Z{Score: float64(s), Member: fmt.Sprintf("%d:old%d", s, i)})
	}
	pipe.ZAdd(ctx, key, zs...)
	if c.ttl > 0 {
		pipe.Expire(ctx, key, c.ttl)
	}
	if c.seq {
		pipe.Set(ctx, key+":seq", c.in+c.old, 0)
	}
}

func newRedisTestClient(t testing.TB, url string, wrap func(redisclient.ScanFunc) redisclient.ScanFunc) *redisclient.Client {
	t.Helper()
	c, err := redisclient.New(redisclient.Options{
		URL:       url,
		Location:  time.FixedZone("nodes", registryZone),
		ScanCount: 200,
		BatchSize: 250,
		WrapScan:  wrap,
	})
	if err != nil {
		t.Fatalf("redis client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func pollRedis(t testing.TB, p *RedisPoller) (*snapshot.RedisSection, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sec, err := p.Poll(ctx)
	if err != nil {
		return nil, err
	}
	return sec.(*snapshot.RedisSection), nil
}

// testHints are the hints of a cluster whose nodes' defaults are testLimit
// per testWindow and whose nodes sampled keys.
func testHints(keys ...string) snapshot.HintSource {
	return snapshot.HintsFunc(func() snapshot.Hints {
		return snapshot.Hints{DefaultLimit: testLimit, DefaultWindow: testWindow, KeysOfInterest: keys}
	})
}

// newTestRedisPoller fills what cfg leaves zero with observerd's defaults.
func newTestRedisPoller(t testing.TB, cfg RedisConfig) *RedisPoller {
	t.Helper()
	d := config.Default()
	cfg.KeyPrefix = cmp.Or(cfg.KeyPrefix, d.KeyPrefix)
	cfg.NodePrefix = cmp.Or(cfg.NodePrefix, d.NodePrefix)
	cfg.TopN = cmp.Or(cfg.TopN, d.TopKeys)
	cfg.ListCap = cmp.Or(cfg.ListCap, d.ListLimit)
	cfg.NearLimit = cmp.Or(cfg.NearLimit, d.NearLimitRatio)
	if cfg.Hints == nil {
		cfg.Hints = testHints()
	}
	p, err := NewRedisPoller(cfg)
	if err != nil {
		t.Fatalf("NewRedisPoller: %v", err)
	}
	return p
}

func TestRedisPoller(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seedKeyspace(t, t.Context(), rc)

	wantCounters := snapshot.Counters{
		Keys:               seedBulk + 10,
		RequestsInWindow:   seedBulk + 12 + 10 + 9 + 30 + 5 + 3 + 4 + 1 + 2,
		BlockedKeys:        4, // hot, atlimit, strict (own limit 2), ghost (limit 0)
		OverLimitKeys:      2, // hot, strict; ghost's zero limit is not "over"
		KeysWithoutTTL:     2,
		OrphanSequenceKeys: seedOrphans,
		WrongTypeKeys:      2,
		// ghost (limit 0), strict 5/2, hot 12/10, atlimit 10/10, nearly
		// 9/10; not vip 30/50, noexp 4/10 or the bulk keys' 1/10.
		NearLimitKeys:  5,
		NearLimitRatio: 0.8,
		Top: []snapshot.TopKey{
			{Key: "vip", Count: 30, Limit: 50, Remaining: 20},
			{Key: "hot", Count: 12, Limit: 10, Remaining: 0},
			{Key: "atlimit", Count: 10, Limit: 10, Remaining: 0},
			{Key: "nearly", Count: 9, Limit: 10, Remaining: 1},
			{Key: "strict", Count: 5, Limit: 2, Remaining: 0},
		},
	}
	tests := []struct {
		name          string
		wrap          func(redisclient.ScanFunc) redisclient.ScanFunc
		listCap       int
		wantBlocks    []snapshot.Block
		wantOverLimit []snapshot.Block
		wantNoTTL     []string
		wantNear      []snapshot.NearLimitKey
	}{
		{
			name:          "plain",
			listCap:       10,
			wantBlocks:    []snapshot.Block{{Key: "hot", Count: 12, Limit: 10}, {Key: "atlimit", Count: 10, Limit: 10}, {Key: "strict", Count: 5, Limit: 2}, {Key: "ghost", Count: 3, Limit: 0}},
			wantOverLimit: []snapshot.Block{{Key: "hot", Count: 12, Limit: 10}, {Key: "strict", Count: 5, Limit: 2}},
			wantNoTTL:     []string{"noexp", "noexp2"},
			wantNear:      []snapshot.NearLimitKey{{Key: "ghost", Count: 3, Limit: 0}, {Key: "strict", Count: 5, Limit: 2}, {Key: "hot", Count: 12, Limit: 10}, {Key: "atlimit", Count: 10, Limit: 10}, {Key: "nearly", Count: 9, Limit: 10}},
		},
		{
			name:          "every SCAN page twice",
			wrap:          testenv.ReplayPages[redisclient.ScanFunc],
			listCap:       10,
			wantBlocks:    []snapshot.Block{{Key: "hot", Count: 12, Limit: 10}, {Key: "atlimit", Count: 10, Limit: 10}, {Key: "strict", Count: 5, Limit: 2}, {Key: "ghost", Count: 3, Limit: 0}},
			wantOverLimit: []snapshot.Block{{Key: "hot", Count: 12, Limit: 10}, {Key: "strict", Count: 5, Limit: 2}},
			wantNoTTL:     []string{"noexp", "noexp2"},
			wantNear:      []snapshot.NearLimitKey{{Key: "ghost", Count: 3, Limit: 0}, {Key: "strict", Count: 5, Limit: 2}, {Key: "hot", Count: 12, Limit: 10}, {Key: "atlimit", Count: 10, Limit: 10}, {Key: "nearly", Count: 9, Limit: 10}},
		},
		{
			name:          "lists capped, totals exact",
			listCap:       1,
			wantBlocks:    []snapshot.Block{{Key: "hot", Count: 12, Limit: 10}},
			wantOverLimit: []snapshot.Block{{Key: "hot", Count: 12, Limit: 10}},
			wantNoTTL:     []string{"noexp"},
			wantNear:      []snapshot.NearLimitKey{{Key: "ghost", Count: 3, Limit: 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestRedisPoller(t, RedisConfig{
				Client:  newRedisTestClient(t, srv.URL, tt.wrap),
				TopN:    5,
				ListCap: tt.listCap,
				Hints:   testHints("absent", "hot", "vip", "wrong"),
				Logger:  zaptest.NewLogger(t),
			})
			if p.Name() != source.Redis {
				t.Errorf("Name() = %q", p.Name())
			}
			sec, err := pollRedis(t, p)
			if err != nil {
				t.Fatalf("Poll: %v", err)
			}
			got := sec.Counters
			for i := range got.Top {
				checkTTL(t, got.Top[i].Key, time.Duration(got.Top[i].TTL))
				got.Top[i].TTL = 0
			}
			if got.WalkedAt == nil || time.Since(*got.WalkedAt) > time.Minute {
				t.Errorf("WalkedAt = %v, want the time of this walk", got.WalkedAt)
			}
			if got.Walk == nil || got.Walk.PacedBy != "unpaced" {
				t.Errorf("Walk = %+v, want an unpaced walk's figures", got.Walk)
			}
			got.WalkedAt, got.Walk = nil, nil
			want := wantCounters
			want.NearLimit = tt.wantNear
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Counters =\n%+v\nwant\n%+v", got, want)
			}
			if !reflect.DeepEqual(sec.Blocks, tt.wantBlocks) || sec.BlocksTotal != 4 {
				t.Errorf("Blocks = %+v (total %d), want %+v (total 4)", sec.Blocks, sec.BlocksTotal, tt.wantBlocks)
			}
			if !reflect.DeepEqual(sec.OverLimit, tt.wantOverLimit) {
				t.Errorf("OverLimit = %+v, want %+v", sec.OverLimit, tt.wantOverLimit)
			}
			if want := []snapshot.Block{{Key: "ghost", Count: 3, Limit: 0}}; !reflect.DeepEqual(sec.ZeroLimitActive, want) {
				t.Errorf("ZeroLimitActive = %+v, want %+v", sec.ZeroLimitActive, want)
			}
			if !reflect.DeepEqual(sec.WithoutTTL, tt.wantNoTTL) {
				t.Errorf("WithoutTTL = %v, want %v", sec.WithoutTTL, tt.wantNoTTL)
			}
			wantOverrides := []snapshot.Override{
				{Key: "ghost", Limit: 0, Window: snapshot.Milliseconds(60000 * time.Millisecond)},
				{Key: "strict", Limit: 2},
				{Key: "unused", Limit: 5},
				{Key: "vip", Limit: 50, Window: snapshot.Milliseconds(30000 * time.Millisecond)},
			}
			if !reflect.DeepEqual(sec.Overrides, wantOverrides) {
				t.Errorf("Overrides = %+v, want %+v", sec.Overrides, wantOverrides)
			}
			if want := map[string]int64{"vip": 30, "hot": 12, "absent": 0, "wrong": 0}; !reflect.DeepEqual(sec.KeyCounts, want) {
				t.Errorf("KeyCounts = %v, want %v", sec.KeyCounts, want)
			}
			if sec.DefaultLimit != testLimit || sec.DefaultWindow != testWindow {
				t.Errorf("defaults = %d/%v, want %d/%v", sec.DefaultLimit, sec.DefaultWindow, testLimit, testWindow)
			}
			checkInfo(t, sec.Info)
			checkRegistry(t, sec.Registry)
		})
	}
}

// checkTTL checks a top key's TTL against what was seeded.
func checkTTL(t *testing.T, key string, ttl time.Duration) {
	t.Helper()
	want := map[string]time.Duration{"vip": 31 * time.Second, "hot": 61 * time.Second, "atlimit": 61 * time.Second, "nearly": 61 * time.Second, "strict": 61 * time.Second}[key]
	if ttl > want || ttl < want-10*time.Second {
		t.Errorf("TTL of %q = %s, want just under %s", key, ttl, want)
	}
}

func checkInfo(t *testing.T, info snapshot.RedisInfo) {
	t.Helper()
	if !info.Connected || !info.Ping.Valid || info.Ping.Duration <= 0 || info.Version == "" || info.Role != "master" ||
		info.UsedMemoryBytes <= 0 || info.ConnectedClients < 1 {
		t.Errorf("Info = %+v", info)
	}
	if info.DBKeys != seedDBKeys {
		t.Errorf("Info.DBKeys = %d, want %d", info.DBKeys, seedDBKeys)
	}
}

func checkRegistry(t *testing.T, reg []snapshot.RegistryEntry) {
	t.Helper()
	want := []struct {
		id, addr string
		at       time.Time
	}{
		// Naive local time of the nodes, one hour east of UTC.
		{id: "node-1", addr: "127.0.0.1:8001", at: time.Date(2026, 1, 27, 0, 48, 37, 123456000, time.UTC)},
		{id: "node-2", addr: "127.0.0.1:8002", at: time.Date(2026, 1, 26, 23, 48, 37, 0, time.UTC)},
	}
	if len(reg) != len(want) {
		t.Fatalf("Registry = %+v, want %d entries", reg, len(want))
	}
	for i, w := range want {
		e := reg[i]
		if e.ID != w.id || e.Address != w.addr || e.RegisteredAt == nil || !e.RegisteredAt.Equal(w.at) {
			t.Errorf("Registry[%d] = %+v (at %v), want %+v", i, e, e.RegisteredAt, w)
		}
		if e.TTL <= 20*time.Second || e.TTL > 30*time.Second {
			t.Errorf("Registry[%d].TTL = %v, want just under 30s", i, e.TTL)
		}
	}
}

func TestRedisPollerDefaults(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seedKeyspace(t, t.Context(), rc)
	// Registry hashes with bad data: one names no node, one has an
	// address that is not host:port.
	rc.HSet(t.Context(), "ratelimiter:nodes:", "address", "10.0.0.9:8000")
	rc.HSet(t.Context(), "ratelimiter:nodes:odd", "address", "http://h:80")
	core, logs := observer.New(zap.InfoLevel)
	p := newTestRedisPoller(t, RedisConfig{
		Client: newRedisTestClient(t, srv.URL, nil),
		Hints:  testHints("atlimit", "hot"),
		Logger: zap.New(core),
	})
	for range 2 {
		sec, err := pollRedis(t, p)
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if want := map[string]int64{"atlimit": 10, "hot": 12}; !reflect.DeepEqual(sec.KeyCounts, want) {
			t.Errorf("KeyCounts = %v, want %v", sec.KeyCounts, want)
		}
		if want := config.Default().TopKeys; len(sec.Counters.Top) != want {
			t.Errorf("len(Top) = %d, want the default %d", len(sec.Counters.Top), want)
		}
		i := slices.IndexFunc(sec.Counters.Top, func(k snapshot.TopKey) bool { return k.Key == "noexp" })
		if i < 0 || sec.Counters.Top[i].TTL >= 0 {
			t.Errorf("Top = %+v, want noexp with ttl_ms -1", sec.Counters.Top)
		}
	}
	// The malformed override is logged once, not on every poll.
	got := logs.FilterMessage("malformed overrides skipped").AllUntimed()
	if len(got) != 1 || got[0].ContextMap()["count"] != int64(1) {
		t.Errorf("malformed override logs = %+v, want one with count 1", got)
	}
	got = logs.FilterMessage("registry entries with bad data skipped").AllUntimed()
	if len(got) != 1 || got[0].ContextMap()["count"] != int64(2) {
		t.Errorf("bad registry logs = %+v, want one with count 2", got)
	}
}

func TestRedisPollerRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	p := newTestRedisPoller(t, RedisConfig{Client: newRedisTestClient(t, srv.URL, nil)})
	sec, err := pollRedis(t, p)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if sec.Counters.Keys != 0 || len(sec.Registry) != 0 || sec.KeyCounts == nil || sec.Blocks == nil || sec.Counters.Top == nil {
		t.Errorf("empty Redis gave %+v", sec)
	}

	srv.Stop()
	_, err = pollRedis(t, p)
	if err == nil {
		t.Fatal("Poll succeeded with Redis stopped")
	}
	if want := "redis PING " + srv.Addr; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to name %q", err, want)
	}

	srv.Start(t)
	testenv.WaitFor(t, 10*time.Second, "a good poll after restart", func() error {
		_, err := pollRedis(t, p)
		return err
	})
}

func TestTopList(t *testing.T) {
	tests := []struct {
		name string
		give []int
		n    int
		want []int
	}{
		{name: "fewer than n", give: []int{3, 1, 2}, n: 5, want: []int{1, 2, 3}},
		{name: "keeps the n first", give: []int{9, 4, 7, 1, 8, 2, 6}, n: 3, want: []int{1, 2, 4}},
		{name: "duplicates", give: []int{2, 2, 1, 1, 3}, n: 3, want: []int{1, 1, 2}},
		{name: "zero", give: []int{1, 2}, n: 0, want: []int{}},
		{name: "none", n: 2, want: []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTopList(tt.n, func(a, b int) int { return a - b })
			for _, x := range tt.give {
				h.add(x)
			}
			if got := h.sorted(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sorted() = %v, want %v", got, tt.want)
			}
		})
	}
}

// ms is f milliseconds.
func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
