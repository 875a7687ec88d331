package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Figures of the keyspace seedKeyspace writes.
const (
	bulkKeys       = 3000
	seededKeys     = 3 + bulkKeys
	seededRequests = 17 + bulkKeys/5*(1+2+3+4+5)
)

// seedKeyspace writes a known keyspace with the default limit 10: "hot" 12
// requests in its window (blocked and over its limit), "cold" 3 in its
// window and 2 older, without TTL, "vip" 2 under an override of 5 per
// minute, one orphan sequence key, and bulkKeys keys "bulk-N" with 1 to 5
// requests each.
func seedKeyspace(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	now := time.Now().UnixMilli()
	pipe := rdb.Pipeline()
	add := func(key string, n int, at int64) {
		for i := range n {
			pipe.ZAdd(ctx, "ratelimit:"+key, redis.Z{Score: float64(at - int64(i)), Member: fmt.Sprintf("%d:%d", at-int64(i), i)})
		}
		pipe.Incr(ctx, "ratelimit:"+key+":seq")
	}
	add("hot", 12, now)
	pipe.Expire(ctx, "ratelimit:hot", 61*time.Second)
	add("cold", 3, now)
	add("cold", 2, now-120_000)
	add("vip", 2, now)
	pipe.Expire(ctx, "ratelimit:vip", 61*time.Second)
	pipe.HSet(ctx, "ratelimit:limit:vip", "limit", "5", "window_ms", "60000")
	pipe.Set(ctx, "ratelimit:gone:seq", "7", 0)
	for i := range bulkKeys {
		key := fmt.Sprintf("bulk-%04d", i)
		add(key, 1+i%5, now)
		pipe.Expire(ctx, "ratelimit:"+key, 61*time.Second)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed keyspace: %v", err)
	}
}
