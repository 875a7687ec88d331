package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// shardInstanceID is the OBSERVERD_INSTANCE_ID of the observerd under test;
// a snapshot that names who walked the keyspace must name it.
const shardInstanceID = "cluster-e2e"

// shardCounter is one counter sorted set of the keyspace seedShards writes,
// with members at three ages.
type shardCounter struct {
	key    string
	now    int // members at the seeding time: inside every window
	recent int // members 45 s old: inside the default 60 s window, outside a 30 s override
	old    int // members 120 s old: outside every window
	noTTL  bool
	seq    bool // with its ratelimit:<key>:seq key
	// An override ratelimit:limit:<key> when limit > 0.
	limit, windowMs int64
}

// shardCounters is the keyspace, judged by the default limit 10 per 60 s:
//
//   - hot: 12 in its window, blocked and over its limit;
//   - edge: 10, at its limit: blocked, not over;
//   - cold: 3 in its window and 4 older, without TTL;
//   - vip: 2 under an override of 5 per 60 s;
//   - burst: 4 now and 6 from 45 s ago under an override of 3 per 30 s:
//     only the 4 count, blocked and over its limit (by the default window
//     it would have 10);
//   - quiet: one member from 45 s ago under an override of 2 per 30 s:
//     a counter with nothing in its window;
//   - user-00 to user-29: 1, 2 or 3 each, 60 in all.
//
// Together with the two orphan sequence keys of seedShards: 36 counters,
// 91 requests in their windows, 3 blocked, 2 over their limit, 1 without
// TTL, 2 orphan sequence keys.
func shardCounters() []shardCounter {
	cs := []shardCounter{
		{key: "hot", now: 12, seq: true},
		{key: "edge", now: 10},
		{key: "cold", now: 3, old: 4, noTTL: true, seq: true},
		{key: "vip", now: 2, limit: 5, windowMs: 60_000},
		{key: "burst", now: 4, recent: 6, seq: true, limit: 3, windowMs: 30_000},
		{key: "quiet", recent: 1, limit: 2, windowMs: 30_000},
	}
	for i := range 30 {
		cs = append(cs, shardCounter{key: fmt.Sprintf("user-%02d", i), now: 1 + i%3})
	}
	return cs
}

// shardRegistryEntry is one ratelimiter:nodes:<id> hash as the reference
// node writes it: its address and its start time in naive local time
// (Python's isoformat, "None" for no time).
type shardRegistryEntry struct {
	id, address, registeredAt string
	want                      *time.Time // registered_at as observerd reads it in UTC
}

func shardRegistry() []shardRegistryEntry {
	at := func(t time.Time) *time.Time { return &t }
	return []shardRegistryEntry{
		{"node-a", "10.0.0.1:8000", "2026-01-27T01:48:37.123456", at(time.Date(2026, 1, 27, 1, 48, 37, 123456000, time.UTC))},
		{"node-b", "10.0.0.2:8000", "2026-01-27T01:48:40", at(time.Date(2026, 1, 27, 1, 48, 40, 0, time.UTC))},
		{"node-c", "10.0.0.3:8000", "None", nil},
	}
}

// shardRegistryTTL is the registry entries' TTL, as a node's heartbeat
// renews it.
const shardRegistryTTL = 30 * time.Second

// TestRedisClusterSnapshot runs observerd with only the Redis source against
// a three-master Redis Cluster whose keys are spread over every shard, and
// wants the snapshot's figures to be those of the whole keyspace.
func TestRedisClusterSnapshot(t *testing.T) {
	rc := testenv.StartRedisCluster(t, 3)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: rc.Addrs, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = cc.Close() })
	keys := seedShards(t, cc)
	checkSpread(t, cc, keys)

	d := startDaemon(t,
		"OBSERVERD_SOURCES=redis",
		// With cluster addresses only the URL's scheme and credentials count.
		"OBSERVERD_REDIS_URL=redis://"+rc.Addrs[0],
		"OBSERVERD_REDIS_CLUSTER_ADDRS="+strings.Join(rc.Addrs, ","),
		"OBSERVERD_POLL_INTERVAL=200ms",
		"OBSERVERD_POLL_MAX_BACKOFF=400ms",
		// No node API: these defaults judge every key without an override.
		"OBSERVERD_DEFAULT_LIMIT=10",
		"OBSERVERD_DEFAULT_WINDOW=60s",
		"OBSERVERD_TOP_KEYS=8",
		"OBSERVERD_INSTANCE_ID="+shardInstanceID,
	)
	d.waitReady(t, 20*time.Second)
	s, counters := waitWalked(t, d)

	c := s.Counters
	if c.Keys != 36 || c.RequestsInWindow != 91 || c.BlockedKeys != 3 || c.OverLimitKeys != 2 ||
		c.KeysWithoutTTL != 1 || c.OrphanSequenceKeys != 2 || c.WrongTypeKeys != 0 {
		t.Errorf("counters = %+v\nwant 36 keys, 91 requests in window, 3 blocked, 2 over limit, 1 without TTL, 2 orphan :seq keys", c)
	}
	checkShardTop(t, c.Top)
	wantBlocks := []snapshot.Block{{Key: "hot", Count: 12, Limit: 10}, {Key: "edge", Count: 10, Limit: 10}, {Key: "burst", Count: 4, Limit: 3}}
	if fmt.Sprint(s.Blocks) != fmt.Sprint(wantBlocks) || s.BlocksTotal != 3 {
		t.Errorf("blocks = %+v (total %d), want %+v", s.Blocks, s.BlocksTotal, wantBlocks)
	}
	wantLimits := snapshot.Limits{
		DefaultLimit: 10, DefaultWindow: snapshot.Milliseconds(time.Minute), DefaultsFrom: "config",
		Overrides: []snapshot.Override{
			{Key: "burst", Limit: 3, Window: snapshot.Milliseconds(30 * time.Second)},
			{Key: "quiet", Limit: 2, Window: snapshot.Milliseconds(30 * time.Second)},
			{Key: "vip", Limit: 5, Window: snapshot.Milliseconds(time.Minute)},
		},
	}
	if fmt.Sprint(s.Limits) != fmt.Sprint(wantLimits) {
		t.Errorf("limits = %+v, want %+v", s.Limits, wantLimits)
	}
	checkShardNodes(t, s.Nodes)
	// DBKeys sums every master; keys observerd keeps for itself may come
	// on top of the seeded ones.
	if r := s.Redis; !r.Connected || r.Role != "master" || r.DBKeys < int64(len(keys)) {
		t.Errorf("redis = %+v, want connected to masters holding at least the %d seeded keys", r, len(keys))
	}
	if raw, ok := counters["walked_by"]; ok {
		var by string
		if err := json.Unmarshal(raw, &by); err != nil || by != shardInstanceID {
			t.Errorf("counters.walked_by = %s, want %q", raw, shardInstanceID)
		}
		t.Logf("counters.walked_by = %s", raw)
	}
}

// seedShards writes the keyspace of shardCounters, two orphan sequence
// keys and the registry of shardRegistry through the cluster client, so
// that every key lands on the master of its own slot. It returns every key
// written.
func seedShards(t *testing.T, cc *goredis.ClusterClient) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	now := time.Now().UnixMilli()
	pipe := cc.Pipeline()
	for _, sc := range shardCounters() {
		k := "ratelimit:" + sc.key
		keys = append(keys, k)
		for age, n := range map[int64]int{0: sc.now, 45_000: sc.recent, 120_000: sc.old} {
			for i := range n {
				at := now - age - int64(i)
				pipe.ZAdd(ctx, k, goredis.Z{Score: float64(at), Member: fmt.Sprintf("%d:%d", at, i)})
			}
		}
		if !sc.noTTL {
			pipe.Expire(ctx, k, 61*time.Second)
		}
		if sc.seq {
			pipe.Incr(ctx, k+":seq")
			keys = append(keys, k+":seq")
		}
		if sc.limit > 0 {
			pipe.HSet(ctx, "ratelimit:limit:"+sc.key, "limit", sc.limit, "window_ms", sc.windowMs)
			keys = append(keys, "ratelimit:limit:"+sc.key)
		}
	}
	for _, k := range []string{"ratelimit:gone:seq", "ratelimit:left:seq"} {
		pipe.Set(ctx, k, "7", 0)
		keys = append(keys, k)
	}
	for _, e := range shardRegistry() {
		k := "ratelimiter:nodes:" + e.id
		pipe.HSet(ctx, k, "address", e.address, "registered_at", e.registeredAt)
		pipe.PExpire(ctx, k, shardRegistryTTL)
		keys = append(keys, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed the cluster: %v", err)
	}
	return keys
}

// checkSpread fails the test unless the keys sit on at least two masters
// and at least one :seq key sits on another master than its sorted set, so
// that the walk must join what it finds on different shards.
func checkSpread(t *testing.T, cc *goredis.ClusterClient, keys []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	master := func(key string) string {
		m, err := cc.MasterForKey(ctx, key)
		if err != nil {
			t.Fatalf("master of %s: %v", key, err)
		}
		// The key must be where the slot map says it is.
		if n, err := m.Exists(ctx, key).Result(); err != nil || n != 1 {
			t.Fatalf("%s not on its master %s: %d, %v", key, m.Options().Addr, n, err)
		}
		return m.Options().Addr
	}
	perMaster := map[string]int{}
	for _, k := range keys {
		perMaster[master(k)]++
	}
	if len(perMaster) < 2 {
		t.Fatalf("every seeded key on one master: %v", perMaster)
	}
	split := 0
	for _, sc := range shardCounters() {
		k := "ratelimit:" + sc.key
		if sc.seq && master(k) != master(k+":seq") {
			split++
		}
	}
	if split == 0 {
		t.Fatal("every :seq key on the master of its sorted set: rename the keys so that one is not")
	}
	t.Logf("seeded keys per master: %v; %d :seq keys away from their sorted set", perMaster, split)
}

// waitWalked waits until the Redis source is ok and its walk has counted
// counters, and returns that snapshot and its raw counters object.
func waitWalked(t *testing.T, d *daemon) (*snapshot.Snapshot, map[string]json.RawMessage) {
	t.Helper()
	var s snapshot.Snapshot
	var raw struct {
		Counters map[string]json.RawMessage `json:"counters"`
	}
	testenv.WaitFor(t, 20*time.Second, "a walk of the cluster", func() error {
		code, body := d.get(t, "/snapshot")
		if code != http.StatusOK {
			return fmt.Errorf("/snapshot answered %d", code)
		}
		s = snapshot.Snapshot{}
		if err := json.Unmarshal(body, &s); err != nil {
			return err
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return err
		}
		if st := s.Sources["redis"]; st.Status != snapshot.StatusOK || s.Counters.Keys == 0 {
			return fmt.Errorf("redis source %+v, %d counters", st, s.Counters.Keys)
		}
		return nil
	})
	return &s, raw.Counters
}

// checkShardTop wants the 8 hottest keys by count, then by name, each
// judged by its own limit.
func checkShardTop(t *testing.T, top []snapshot.TopKey) {
	t.Helper()
	want := []struct {
		key          string
		count, limit int64
	}{
		{"hot", 12, 10}, {"edge", 10, 10}, {"burst", 4, 3}, {"cold", 3, 10},
		{"user-02", 3, 10}, {"user-05", 3, 10}, {"user-08", 3, 10}, {"user-11", 3, 10},
	}
	if len(top) != len(want) {
		t.Errorf("top = %+v, want %d keys", top, len(want))
		return
	}
	for i, w := range want {
		k := top[i]
		if k.Key != w.key || k.Count != w.count || k.Limit != w.limit || k.Remaining != max(0, w.limit-w.count) {
			t.Errorf("top[%d] = %+v, want %s with %d of %d", i, k, w.key, w.count, w.limit)
		}
		// cold has no TTL, written -1; every other key expires in 61 s.
		if noTTL := k.Key == "cold"; noTTL != (k.TTL < 0) || (!noTTL && time.Duration(k.TTL) > 61*time.Second) {
			t.Errorf("top[%d] %s: ttl %s", i, k.Key, time.Duration(k.TTL))
		}
	}
}

// checkShardNodes wants every registry entry as a registered node, none
// reachable since the node API is not polled.
func checkShardNodes(t *testing.T, nodes []snapshot.Node) {
	t.Helper()
	want := shardRegistry()
	if len(nodes) != len(want) {
		t.Errorf("nodes = %+v, want %d", nodes, len(want))
		return
	}
	for i, w := range want {
		n := nodes[i]
		if n.ID != w.id || n.Address != w.address || !n.Registered || n.Reachable {
			t.Errorf("node %d = %+v, want %s at %s, registered, not reachable", i, n, w.id, w.address)
		}
		if (n.RegisteredAt == nil) != (w.want == nil) || (w.want != nil && !n.RegisteredAt.Equal(*w.want)) {
			t.Errorf("node %s registered_at = %v, want %v (from %q)", w.id, n.RegisteredAt, w.want, w.registeredAt)
		}
		if ttl := n.RegistryTTL; !ttl.Valid || ttl.Duration <= 0 || ttl.Duration > shardRegistryTTL {
			t.Errorf("node %s registry ttl = %+v, want within %s", w.id, ttl, shardRegistryTTL)
		}
	}
}
