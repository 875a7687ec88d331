package explain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/clients/ratelimiter"
	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// fakeNode is a node's API answering from memory.
type fakeNode struct {
	counters []ratelimiter.Counter
	limits   *ratelimiter.Limits
	err      error
}

func (n fakeNode) Counters(context.Context) ([]ratelimiter.Counter, error) { return n.counters, n.err }
func (n fakeNode) Limits(context.Context) (*ratelimiter.Limits, error) {
	if n.limits == nil {
		return nil, errors.New("no limits")
	}
	return n.limits, n.err
}

// fakeHistory remembers events by published key name.
type fakeHistory struct {
	events map[string][]snapshot.KeyEvent
	since  time.Time
}

func (h fakeHistory) KeyEvents(key string) ([]snapshot.KeyEvent, time.Time) {
	return h.events[key], h.since
}

// countingReader counts what its Reader sent.
type countingReader struct {
	Reader
	last *redisclient.KeyReading
}

func (c *countingReader) ReadKey(ctx context.Context, q redisclient.KeyQuery) (*redisclient.KeyReading, error) {
	r, err := c.Reader.ReadKey(ctx, q)
	c.last = r
	return r, err
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestExplain(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	ms := now.UnixMilli()
	add := func(key string, offsets ...int64) {
		for i, o := range offsets {
			if err := rc.ZAdd(ctx, "ratelimit:"+key, goredis.Z{Score: float64(ms + o), Member: fmt.Sprintf("%d:%d", ms+o, i)}).Err(); err != nil {
				t.Fatalf("seed %s: %v", key, err)
			}
		}
	}
	add("open", -30_000, -1_000)
	rc.Expire(ctx, "ratelimit:open", 61*time.Second)
	rc.Set(ctx, "ratelimit:open:seq", "2", 0)
	add("blocked", -50_000, -40_000, -30_000, -20_000)
	rc.HSet(ctx, "ratelimit:limit:blocked", "limit", "2")
	rc.HSet(ctx, "ratelimit:limit:nothing", "limit", "0")
	bin := "bin\xff\xfekey"
	add(bin, -10)

	client, err := redisclient.New(redisclient.Options{URL: srv.URL})
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	reader := &countingReader{Reader: client}
	since := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	blockedAt := since.Add(10 * time.Minute)
	e := New(Config{
		Redis: reader, KeyPrefix: "ratelimit:", DefaultLimit: 99, DefaultWindow: time.Minute, FutureAfter: time.Second,
		Nodes: func() []Node {
			return []Node{
				{Name: "node-1", API: fakeNode{counters: []ratelimiter.Counter{{Key: "open", Count: 3, Limit: 10}}, limits: &ratelimiter.Limits{DefaultLimit: 10, DefaultWindow: time.Minute}}},
				{Name: "node-2", API: fakeNode{err: errors.New("refused")}},
			}
		},
		History: fakeHistory{since: since, events: map[string][]snapshot.KeyEvent{
			"blocked":        {{At: blockedAt, Until: blockedAt.Add(time.Minute), State: snapshot.KeyBlocked}},
			`bin\xff\xfekey`: {{At: blockedAt, Until: blockedAt, State: snapshot.KeyViolation, Detail: "hot_key"}},
		}},
	})

	t.Run("open", func(t *testing.T) {
		x, err := e.Explain(ctx, "open")
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		if !x.Exists || x.Count != 2 || x.Limit != 10 || x.LimitSource != SourceDefault || x.DefaultsFrom != "api" ||
			x.WindowMs != 60_000 || x.Remaining != 8 || !x.AllowedNext || x.RetryAfterMs != nil ||
			x.AllowedTotal == nil || *x.AllowedTotal != 2 || x.TTLFitsWindow == nil || !*x.TTLFitsWindow {
			t.Errorf("open = %+v", x)
		}
		if len(x.Nodes) != 2 || x.Nodes[0].Drift == nil || *x.Nodes[0].Drift != 1 || x.Nodes[1].Error == "" || x.Nodes[1].Count != nil {
			t.Errorf("nodes = %+v, want node-1 with drift 1 and node-2 failed", x.Nodes)
		}
		if x.HistorySince == nil || !x.HistorySince.Equal(since) || len(x.History) != 0 {
			t.Errorf("history %v since %v, want none since %v", x.History, x.HistorySince, since)
		}
	})
	t.Run("blocked", func(t *testing.T) {
		x, err := e.Explain(ctx, "blocked")
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		// 4 in window, limit 2: the third oldest (-30 s) must leave, 30 s
		// from now; the service counts from the oldest, 10 s.
		if x.AllowedNext || x.LimitSource != SourceOverride || x.Limit != 2 || x.RetryAfterMs == nil ||
			*x.RetryAfterMs < 29_000 || *x.RetryAfterMs > 30_000 || x.ServiceRetryAfterSeconds == nil || *x.ServiceRetryAfterSeconds != 10 {
			t.Errorf("blocked = %+v", x)
		}
		if x.Nodes[0].Note != NotShownByNode {
			t.Errorf("node-1 note = %q, want %q", x.Nodes[0].Note, NotShownByNode)
		}
		if len(x.History) != 1 || x.History[0].State != snapshot.KeyBlocked {
			t.Errorf("history = %+v, want its blocked stretch", x.History)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		x, err := e.Explain(ctx, "nothing")
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		if x.Exists || x.Limit != 0 || x.LimitSource != SourceOverride || x.AllowedNext || x.RetryAfterMs != nil ||
			x.TTLMs != nil || x.AllowedTotal != nil || !strings.Contains(strings.Join(x.Notes, "\n"), "does not exist") {
			t.Errorf("nothing = %+v", x)
		}
		b, err := json.Marshal(x)
		if err != nil || !strings.Contains(string(b), `"retry_after_ms":null`) || !strings.Contains(string(b), `"ttl_ms":null`) {
			t.Errorf("JSON %s (%v), want null retry and TTL", b, err)
		}
	})
	t.Run("not UTF-8", func(t *testing.T) {
		x, err := e.Explain(ctx, bin)
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		if x.Key != `bin\xff\xfekey` || x.Count != 1 || len(x.History) != 1 {
			t.Errorf("key %q count %d history %v", x.Key, x.Count, x.History)
		}
		back, err := KeyFromName(x.Key)
		if err != nil || back != bin {
			t.Errorf("KeyFromName(%q) = %q, %v; want the key's bytes", x.Key, back, err)
		}
	})
	t.Run("huge name", func(t *testing.T) {
		huge := strings.Repeat("k", 3000)
		add(huge, -5)
		x, err := e.Explain(ctx, huge)
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		if len(x.Key) > 256 || x.KeyBytes != 3000 || x.Count != 1 {
			t.Errorf("key of %d bytes (key_bytes %d), count %d; want it cut to 256", len(x.Key), x.KeyBytes, x.Count)
		}
		if _, err := KeyFromName(x.Key); !errors.Is(err, ErrBadKey) {
			t.Errorf("KeyFromName(cut) = %v, want ErrBadKey", err)
		}
		if _, err := e.Explain(ctx, strings.Repeat("k", MaxKeyBytes+1)); !errors.Is(err, ErrBadKey) {
			t.Errorf("Explain(too long) = %v, want ErrBadKey", err)
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		rc.Set(ctx, "ratelimit:str", "x", 0)
		if _, err := e.Explain(ctx, "str"); !errors.Is(err, ErrWrongType) {
			t.Errorf("Explain(str) = %v, want ErrWrongType", err)
		}
	})
	t.Run("defaults from config", func(t *testing.T) {
		e := New(Config{Redis: client, KeyPrefix: "ratelimit:", DefaultLimit: 99, DefaultWindow: 2 * time.Minute})
		x, err := e.Explain(ctx, "open")
		if err != nil {
			t.Fatalf("Explain: %v", err)
		}
		if x.Limit != 99 || x.WindowMs != 120_000 || x.DefaultsFrom != "config" || x.HistoryError == "" || len(x.Nodes) != 0 {
			t.Errorf("x = %+v, want the configured defaults and no history", x)
		}
	})
}

// TestExplainMillionEntries: a key of 10^6 entries, 10^6 - 5 of them over
// a limit of 5, is explained from counts and two single-entry range reads,
// in bounded time and a small answer.
func TestExplainMillionEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a million entries")
	}
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	const n = 1_000_000
	// One Lua loop seeds the entries in Redis: a million ZADDs over the
	// network would take most of a minute. Entries are spread over the
	// last 50 s, one every 50 µs.
	seed := goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local batch = {}
for i = 1, n do
  local score = now - 50000 + math.floor(i / 20)
  batch[#batch + 1] = score
  batch[#batch + 1] = score .. ':' .. i
  if #batch >= 2000 or i == n then
    redis.call('ZADD', KEYS[1], unpack(batch))
    batch = {}
  end
end
return now`)
	seededAt, err := seed.Run(ctx, rc, []string{"ratelimit:big"}, n).Int64()
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	rc.HSet(ctx, "ratelimit:limit:big", "limit", "5")
	client, err := redisclient.New(redisclient.Options{URL: srv.URL})
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	reader := &countingReader{Reader: client}
	e := New(Config{Redis: reader, KeyPrefix: "ratelimit:", DefaultLimit: 10, DefaultWindow: time.Minute})
	// Bounded: what it allocates, not how long it takes on this machine.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	began := time.Now()
	x, err := e.Explain(ctx, "big")
	took := time.Since(began)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a key of %d entries explained in %v, %d bytes allocated", n, took, allocated)
	if allocated > 2<<20 {
		t.Errorf("Explain allocated %d bytes for a key of %d entries, want well under 2 MiB: it must not read the entries", allocated, n)
	}
	if x.Count != n || x.EntriesTotal != n || x.AllowedNext {
		t.Errorf("count %d of %d, allowed %v; want %d blocked", x.Count, x.EntriesTotal, x.AllowedNext, n)
	}
	// The entry that must leave is the (n-5+1)-th, scored
	// seededAt-50000+floor((n-4)/20).
	wantAt := seededAt - 50_000 + (n-4)/20 + 60_000
	if x.RetryAt == nil || x.RetryAt.UnixMilli() != wantAt {
		t.Errorf("retry_at = %v, want %v", x.RetryAt, time.UnixMilli(wantAt).UTC())
	}
	if r := reader.last; r.WidestRange != 1 || r.Commands > 30 {
		t.Errorf("sent %d commands, widest range %d; want a fixed few and single entries", r.Commands, r.WidestRange)
	}
	b, _ := json.Marshal(x)
	if len(b) > 4096 {
		t.Errorf("answer is %d bytes, want a few KiB whatever the key's size", len(b))
	}
}
