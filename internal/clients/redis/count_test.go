package redis

import (
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
