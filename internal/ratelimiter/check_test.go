package ratelimiter

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/observerd/observerd/internal/testenv"
)

func TestCheckAllowsUpToLimitThenBlocks(t *testing.T) {
	tn := startNode(t, nil, nil)
	body := map[string]any{"key": "user-1", "limit": 3, "window_ms": 60000}
	for i := int64(1); i <= 3; i++ {
		a := tn.check(t, body)
		if a.status != http.StatusOK {
			t.Fatalf("check %d: status %d, want 200 (%s)", i, a.status, a.raw)
		}
		if got := num(t, a.body, "current_count"); got != i {
			t.Errorf("check %d: current_count %d, want %d", i, got, i)
		}
		if got := num(t, a.body, "remaining"); got != 3-i {
			t.Errorf("check %d: remaining %d, want %d", i, got, 3-i)
		}
		if a.body["allowed"] != true || num(t, a.body, "retry_after_seconds") != 0 {
			t.Errorf("check %d: %s, want allowed with no retry", i, a.raw)
		}
		if got := a.header.Get("X-RateLimit-Remaining"); got != strconv.FormatInt(3-i, 10) {
			t.Errorf("check %d: X-RateLimit-Remaining %q", i, got)
		}
		if got := a.header.Get("X-RateLimit-Reset"); got != "" {
			t.Errorf("check %d: X-RateLimit-Reset %q on an allowed check", i, got)
		}
	}

	a := tn.check(t, body)
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("check 4: status %d, want 429 (%s)", a.status, a.raw)
	}
	if a.body["allowed"] != false || num(t, a.body, "current_count") != 3 || num(t, a.body, "remaining") != 0 {
		t.Errorf("check 4: %s, want blocked at 3 with 0 remaining", a.raw)
	}
	if got := num(t, a.body, "retry_after_seconds"); got != 60 {
		t.Errorf("retry_after_seconds %d, want 60", got)
	}
	wantHeaders := map[string]string{"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"}
	for h, want := range wantHeaders {
		if got := a.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}

	// Redis layout: one member per allowed request, "{ms}:{seq}" scored by
	// ms; the TTL is ceil(window/1000)+1; the sequence never expires and
	// counts blocked checks too.
	ctx := t.Context()
	members, err := tn.rdb.ZRangeWithScores(ctx, "ratelimit:user-1", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 3 {
		t.Fatalf("sorted set holds %d members, want 3 (blocked not recorded)", len(members))
	}
	re := regexp.MustCompile(`^(\d+):(\d+)$`)
	for _, m := range members {
		parts := re.FindStringSubmatch(m.Member.(string))
		if parts == nil || parts[1] != strconv.FormatInt(int64(m.Score), 10) {
			t.Errorf("member %q score %v, want \"{score}:{seq}\"", m.Member, m.Score)
		}
	}
	if ttl := tn.rdb.TTL(ctx, "ratelimit:user-1").Val(); ttl < 60*time.Second || ttl > 61*time.Second {
		t.Errorf("counter TTL %s, want 61s", ttl)
	}
	if ttl := tn.rdb.TTL(ctx, "ratelimit:user-1:seq").Val(); ttl != -1 {
		t.Errorf("sequence TTL %v, want none (-1ns)", ttl)
	}
	if seq := tn.rdb.Get(ctx, "ratelimit:user-1:seq").Val(); seq != "4" {
		t.Errorf("sequence %q, want 4", seq)
	}
	if got := testutil.ToFloat64(tn.metrics.allowed); got != 3 {
		t.Errorf("allowed counter %v, want 3", got)
	}
	if got := testutil.ToFloat64(tn.metrics.blocked); got != 1 {
		t.Errorf("blocked counter %v, want 1", got)
	}
}

func TestCheckNodeDefaults(t *testing.T) {
	tn := startNode(t, nil, func(c *Config) {
		c.DefaultLimit = 2
		c.DefaultWindowMS = 1500
	})
	for i, wantStatus := range []int{200, 200, 429} {
		a := tn.check(t, map[string]any{"key": "d", "limit": nil})
		if a.status != wantStatus {
			t.Fatalf("check %d: status %d, want %d", i+1, a.status, wantStatus)
		}
		if got := a.header.Get("X-RateLimit-Limit"); got != "2" {
			t.Errorf("X-RateLimit-Limit %q, want the default 2", got)
		}
	}
	if ttl := tn.rdb.TTL(t.Context(), "ratelimit:d").Val(); ttl < 2*time.Second || ttl > 3*time.Second {
		t.Errorf("TTL %s, want ceil(1500/1000)+1 = 3s", ttl)
	}
}

func TestCheckRejectsBadBodies(t *testing.T) {
	tn := startNode(t, nil, nil)
	tests := []struct {
		name string
		give string
	}{
		{name: "not json", give: "key=a"},
		{name: "array", give: `[{"key":"a"}]`},
		{name: "null", give: `null`},
		{name: "missing key", give: `{"limit": 3}`},
		{name: "key not a string", give: `{"key": 5}`},
		{name: "limit not an integer", give: `{"key": "a", "limit": "x"}`},
		{name: "window fractional", give: `{"key": "a", "window_ms": 1.5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tn.check(t, tt.give)
			if a.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422 (%s)", a.status, a.raw)
			}
			if _, ok := a.body["detail"]; !ok {
				t.Errorf("body %s has no detail", a.raw)
			}
		})
	}
	if keys := tn.rdb.Keys(t.Context(), "ratelimit:*").Val(); len(keys) != 0 {
		t.Errorf("redis holds %q after rejected checks, want no counter", keys)
	}
}

func TestCheckUnknownFieldsIgnored(t *testing.T) {
	tn := startNode(t, nil, nil)
	a := tn.check(t, `{"key": "u", "limit": 1, "extra": {"x": 1}}`)
	if a.status != http.StatusOK {
		t.Fatalf("status %d, want 200 (%s)", a.status, a.raw)
	}
}

func TestSlidingWindow(t *testing.T) {
	tn := startNode(t, nil, nil)

	t.Run("clock moves past the window", func(t *testing.T) {
		body := map[string]any{"key": "slide", "limit": 2, "window_ms": 10000}
		for _, want := range []int{200, 200, 429} {
			if a := tn.check(t, body); a.status != want {
				t.Fatalf("status %d, want %d", a.status, want)
			}
		}
		tn.SetClockOffset(5 * time.Second)
		if a := tn.check(t, body); a.status != http.StatusTooManyRequests {
			t.Fatalf("half a window later: status %d, want 429", a.status)
		}
		if a := tn.check(t, body); num(t, a.body, "retry_after_seconds") > 5 {
			t.Errorf("half a window later: retry_after %s, want at most 5", a.raw)
		}
		tn.SetClockOffset(10*time.Second + 100*time.Millisecond)
		a := tn.check(t, body)
		if a.status != http.StatusOK || num(t, a.body, "current_count") != 1 {
			t.Fatalf("a window later: %d %s, want allowed with count 1 (old members pruned)", a.status, a.raw)
		}
		tn.SetClockOffset(0)
	})

	t.Run("real time", func(t *testing.T) {
		body := map[string]any{"key": "slide-rt", "limit": 1, "window_ms": 150}
		if a := tn.check(t, body); a.status != http.StatusOK {
			t.Fatalf("first: status %d", a.status)
		}
		if a := tn.check(t, body); a.status != http.StatusTooManyRequests {
			t.Fatalf("second: status %d, want 429", a.status)
		}
		testenv.WaitFor(t, 5*time.Second, "the window to slide", func() error {
			if a := tn.check(t, body); a.status != http.StatusOK {
				return errStatus(a.status)
			}
			return nil
		})
	})
}

type errStatus int

func (e errStatus) Error() string { return "status " + strconv.Itoa(int(e)) }

func TestCheckZeroLimitBlocksWithoutRecord(t *testing.T) {
	tn := startNode(t, nil, nil)
	a := tn.check(t, map[string]any{"key": "zero", "limit": 0, "window_ms": 2500})
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", a.status)
	}
	if got := num(t, a.body, "retry_after_seconds"); got != 3 {
		t.Errorf("retry_after %d, want ceil(2500/1000) = 3 with no member", got)
	}
	if n := tn.rdb.Exists(t.Context(), "ratelimit:zero").Val(); n != 0 {
		t.Errorf("counter exists after a blocked check")
	}
}
