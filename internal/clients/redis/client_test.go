package redis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

// newTestClient builds a Client for the test server and closes it at the end.
func newTestClient(t *testing.T, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// seedClient is a plain go-redis client used to write test data with real
// commands.
func seedClient(t *testing.T, addr, password string) *goredis.Client {
	t.Helper()
	rc := goredis.NewClient(&goredis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	return rc
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPasswordNeverInErrors(t *testing.T) {
	const (
		password = "c0rrect-H0rse-battery"
		wrong    = "wr0ng-Staple-guess"
	)
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	if err := seedClient(t, srv.Addr, "").ConfigSet(ctx, "requirepass", password).Err(); err != nil {
		t.Fatalf("CONFIG SET requirepass: %v", err)
	}

	bad := newTestClient(t, Options{URL: "redis://:" + wrong + "@" + srv.Addr})
	calls := map[string]func() error{
		"Ping": func() error { _, err := bad.Ping(ctx); return err },
		"Info": func() error { _, err := bad.Info(ctx); return err },
		"Walk": func() error { _, err := bad.Walk(ctx, Pass{KeyPrefix: "ratelimit:"}); return err },
		"Counts": func() error {
			_, err := bad.Counts(ctx, "ratelimit:", []string{"a"}, nil)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if err == nil {
				t.Fatal("succeeded with a wrong password")
			}
			for _, secret := range []string{password, wrong} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a password", err)
				}
			}
			if !strings.Contains(err.Error(), srv.Addr) {
				t.Errorf("error %q does not name the server %s", err, srv.Addr)
			}
		})
	}

	// The password option overrides the one in the URL.
	good := newTestClient(t, Options{URL: "redis://:" + wrong + "@" + srv.Addr, Password: password})
	if _, err := good.Ping(ctx); err != nil {
		t.Fatalf("Ping with Options.Password: %v", err)
	}
	if strings.Contains(good.Endpoint(), password) || strings.Contains(good.Endpoint(), wrong) {
		t.Errorf("Endpoint() = %q contains a password", good.Endpoint())
	}
}

func TestScrubbedErrorKeepsChain(t *testing.T) {
	c := &Client{password: "topsecret"}
	base := errors.New("server said topsecret")
	err := c.wrap("PING", "host:1", base)
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error %q contains the password", err)
	}
	if !errors.Is(err, base) {
		t.Error("errors.Is lost the wrapped error")
	}
	if want := "redis PING host:1: server said xxxxx"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestPingAndInfo(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	pipe := rc.Pipeline()
	for _, k := range []string{"a", "b", "c"} {
		pipe.Set(ctx, k, "1", 0)
	}
	pipe.Select(ctx, 2)
	pipe.Set(ctx, "d", "1", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}

	c := newTestClient(t, Options{URL: srv.URL})
	rtt, err := c.Ping(ctx)
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if rtt <= 0 {
		t.Errorf("Ping = %v, want > 0", rtt)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Version == "" || info.Role != "master" || info.UsedMemory <= 0 || info.ConnectedClients < 1 || info.Servers != 1 {
		t.Errorf("Info = %+v", info)
	}
	if info.DBKeys != 4 {
		t.Errorf("Info.DBKeys = %d, want 4 (3 in db0, 1 in db2)", info.DBKeys)
	}
}

func TestStoppedServer(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	c := newTestClient(t, Options{URL: srv.URL, DialTimeout: time.Second})
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	srv.Stop()
	_, err := c.Ping(ctx)
	if err == nil {
		t.Fatal("Ping succeeded against a stopped server")
	}
	if want := "redis PING " + srv.Addr; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to contain %q", err, want)
	}
	srv.Start(t)
	testenv.WaitFor(t, 10*time.Second, "ping after restart", func() error {
		_, err := c.Ping(ctx)
		return err
	})
}

func TestRegistry(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	pipe := rc.Pipeline()
	pipe.HSet(ctx, "ratelimiter:nodes:node-1", "address", "10.0.0.1:8000", "registered_at", "2026-01-27T01:48:37.123456")
	pipe.Expire(ctx, "ratelimiter:nodes:node-1", 30*time.Second)
	pipe.HSet(ctx, "ratelimiter:nodes:node-2", "address", "10.0.0.2:8000", "registered_at", "2026-01-27T01:48:37+02:00")
	pipe.Expire(ctx, "ratelimiter:nodes:node-2", 20*time.Second)
	pipe.HSet(ctx, "ratelimiter:nodes:node-3", "address", "10.0.0.3:8000", "registered_at", "None")
	pipe.Set(ctx, "ratelimiter:nodes:broken", "not a hash", 0)
	pipe.HSet(ctx, "ratelimiter:other", "address", "x")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}

	cet := time.FixedZone("CET", 3600)
	c := newTestClient(t, Options{URL: srv.URL, Location: cet, ScanCount: 2})
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", NodePrefix: "ratelimiter:nodes:"})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	got := res.Registry
	want := []struct {
		id, addr, raw string
		at            time.Time
		maxTTL        time.Duration
	}{
		{id: "node-1", addr: "10.0.0.1:8000", raw: "2026-01-27T01:48:37.123456", at: time.Date(2026, 1, 27, 0, 48, 37, 123456000, time.UTC), maxTTL: 30 * time.Second},
		{id: "node-2", addr: "10.0.0.2:8000", raw: "2026-01-27T01:48:37+02:00", at: time.Date(2026, 1, 26, 23, 48, 37, 0, time.UTC), maxTTL: 20 * time.Second},
		{id: "node-3", addr: "10.0.0.3:8000", raw: "None", maxTTL: NoTTL},
	}
	if len(got) != len(want) {
		t.Fatalf("Registry = %+v, want %d entries", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Address != w.addr || g.RegisteredAtRaw != w.raw {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
		switch {
		case w.at.IsZero() && g.RegisteredAt != nil:
			t.Errorf("%s RegisteredAt = %v, want nil", w.id, g.RegisteredAt)
		case !w.at.IsZero() && (g.RegisteredAt == nil || !g.RegisteredAt.Equal(w.at)):
			t.Errorf("%s RegisteredAt = %v, want %v", w.id, g.RegisteredAt, w.at)
		}
		if w.maxTTL == NoTTL {
			if g.TTL != NoTTL {
				t.Errorf("%s TTL = %v, want NoTTL", w.id, g.TTL)
			}
		} else if g.TTL <= w.maxTTL-5*time.Second || g.TTL > w.maxTTL {
			t.Errorf("%s TTL = %v, want just under %v", w.id, g.TTL, w.maxTTL)
		}
	}
}

func TestOverrides(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	pipe := rc.Pipeline()
	pipe.HSet(ctx, "ratelimit:limit:b", "limit", "5", "window_ms", "1000")
	pipe.HSet(ctx, "ratelimit:limit:a", "limit", "0")
	pipe.HSet(ctx, "ratelimit:limit:c", "limit", " 7 ", "window_ms", "")
	pipe.HSet(ctx, "ratelimit:limit:bad-limit", "limit", "many")
	pipe.HSet(ctx, "ratelimit:limit:no-limit", "window_ms", "1000")
	pipe.HSet(ctx, "ratelimit:limit:neg-window", "limit", "1", "window_ms", "-5")
	pipe.HSet(ctx, "ratelimit:limit:float", "limit", "1.5")
	pipe.HSet(ctx, "ratelimit:limit:zero-window", "limit", "1", "window_ms", "0")
	pipe.HSet(ctx, "ratelimit:limit:neg-limit", "limit", "-1")
	pipe.HSet(ctx, "ratelimit:limit:huge-limit", "limit", "9007199254740993")
	pipe.Set(ctx, "ratelimit:limit:string", "5", 0)
	pipe.ZAdd(ctx, "ratelimit:not-an-override", goredis.Z{Score: 1, Member: "1:1"})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}

	c := newTestClient(t, Options{URL: srv.URL, BatchSize: 3})
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:"})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	got := res.Overrides
	want := []Override{
		{Key: "a", Limit: 0},
		{Key: "b", Limit: 5, Window: time.Second},
		{Key: "c", Limit: 7},
	}
	if len(got.Overrides) != len(want) {
		t.Fatalf("Overrides = %+v, want %+v", got.Overrides, want)
	}
	for i := range want {
		if got.Overrides[i] != want[i] {
			t.Errorf("override %d = %+v, want %+v", i, got.Overrides[i], want[i])
		}
	}
	if got.Malformed != 8 {
		t.Errorf("Malformed = %d, want 8", got.Malformed)
	}
	var keys []string
	for _, m := range got.MalformedSample {
		keys = append(keys, m.Key+": "+m.Reason)
	}
	wantKeys := []string{
		`bad-limit: limit "many": want an integer from 0 to 2^53`,
		`float: limit "1.5": want an integer from 0 to 2^53`,
		`huge-limit: limit "9007199254740993": want an integer from 0 to 2^53`,
		`neg-limit: limit "-1": want an integer from 0 to 2^53`,
		`neg-window: window_ms "-5": want a positive integer of milliseconds`,
		"no-limit: no limit field",
		"string: not a hash",
		`zero-window: window_ms "0": want a positive integer of milliseconds`,
	}
	if strings.Join(keys, "\n") != strings.Join(wantKeys, "\n") {
		t.Errorf("MalformedSample =\n%s\nwant\n%s", strings.Join(keys, "\n"), strings.Join(wantKeys, "\n"))
	}
}
