package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/explain"
	"github.com/observerd/observerd/internal/statuspage"
)

// postCheck sends one real /check of key with limit to node and returns
// its status.
func postCheck(t *testing.T, nodeURL, key string, limit int) int {
	t.Helper()
	return postCheckWindow(t, nodeURL, key, limit, 0)
}

// postCheckWindow sends one real /check of key with limit and window (0:
// the node's default) to node and returns its status.
func postCheckWindow(t *testing.T, nodeURL, key string, limit, windowMs int) int {
	t.Helper()
	check := map[string]any{"key": key, "limit": limit}
	if windowMs > 0 {
		check["window_ms"] = windowMs
	}
	body, _ := json.Marshal(check)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, nodeURL+"/check", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("check %q: %v", key, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// runExplainJSON runs `observerd explain KEY --json` and decodes it.
func runExplainJSON(t *testing.T, env []string, key string, flags ...string) *explain.Explanation {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"observerd", "explain", key, "--json"}, flags...), env, &stdout, &stderr)
	if err != nil {
		t.Fatalf("explain %q: %v\n%s", key, err, stderr.String())
	}
	var x explain.Explanation
	if err := json.Unmarshal(stdout.Bytes(), &x); err != nil {
		t.Fatalf("explain %q --json: %v\n%s", key, err, stdout.String())
	}
	return &x
}

// TestExplainCluster compares `observerd explain --json` and GET
// /keys/{key} of a running observerd with Redis read directly, on a real
// cluster of reference nodes.
func TestExplainCluster(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 2})
	ctx := t.Context()
	node := c.nodes[0].URL()
	for range 3 {
		postCheck(t, node, "user:open", 10)
	}
	c.rdb.HSet(ctx, "ratelimit:limit:user:over", "limit", "5", "window_ms", "30000")
	for i := range 4 {
		if code := postCheck(t, node, "user:blocked", 3); (i < 3) != (code == http.StatusOK) {
			t.Fatalf("check %d of user:blocked answered %d", i, code)
		}
	}
	for range 2 {
		postCheck(t, node, "user:over", 10)
	}
	now, _ := c.rdb.Time(ctx).Result()
	c.rdb.ZAdd(ctx, "ratelimit:user:ahead", goredis.Z{Score: float64(now.UnixMilli() + 3_600_000), Member: "ahead:1"},
		goredis.Z{Score: float64(now.UnixMilli() - 10), Member: "now:2"})
	bin := "bin\xff:key"
	postCheck(t, node, bin, 10)

	d := startDaemon(t, c.observerdEnv()...)
	d.waitReady(t, 20*time.Second)
	env := c.observerdEnv()

	// The limit /check enforced on user:blocked was the request's, 3; the
	// node default is 10, so explain (which knows no request) judges it
	// by the default unless an override says 3.
	c.rdb.HSet(ctx, "ratelimit:limit:user:blocked", "limit", "3")
	for _, key := range []string{"user:open", "user:over", "user:blocked", "user:ahead", "user:missing", bin} {
		t.Run(key, func(t *testing.T) {
			x := runExplainJSON(t, env, key, "--observerd", d.URL)
			compareWithRedis(t, c.rdb, key, x)
			if x.HistoryError != "" || x.HistorySince == nil {
				t.Errorf("history_error %q, since %v: want the daemon's history", x.HistoryError, x.HistorySince)
			}
			code, body := d.get(t, statuspage.KeyPath(x.Key))
			if code != http.StatusOK {
				t.Fatalf("GET /keys/%s: %d %s", x.Key, code, body)
			}
			var y explain.Explanation
			if err := json.Unmarshal(body, &y); err != nil {
				t.Fatal(err)
			}
			compareWithRedis(t, c.rdb, key, &y)
			if len(y.Nodes) != 2 {
				t.Errorf("daemon asked nodes %+v, want both", y.Nodes)
			}
		})
	}
	t.Run("blocked", func(t *testing.T) {
		x := runExplainJSON(t, env, "user:blocked", "--observerd", d.URL)
		if x.AllowedNext || x.RetryAt == nil || x.RetryAfterMs == nil || *x.RetryAfterMs > 60_000 {
			t.Errorf("user:blocked: allowed %v, retry %v in %v", x.AllowedNext, x.RetryAt, x.RetryAfterMs)
		}
		oldest, err := c.rdb.ZRangeWithScores(ctx, "ratelimit:user:blocked", 0, 0).Result()
		if err != nil || len(oldest) != 1 || x.RetryAt.UnixMilli() != int64(oldest[0].Score)+60_000 {
			t.Errorf("retry_at %v, want the oldest entry %v + 60 s", x.RetryAt, oldest)
		}
		// The page a browser gets, with every figure of a blocked key.
		code, page := d.getAccepting(t, statuspage.KeyPath("user:blocked"), "text/html,*/*;q=0.8")
		if code != http.StatusOK || !strings.Contains(string(page), "allowed from") || !strings.Contains(string(page), "fits the window") {
			t.Errorf("GET /keys/user:blocked as a browser: %d\n%s", code, page)
		}
	})
	t.Run("no daemon", func(t *testing.T) {
		x := runExplainJSON(t, env, "user:open", "--observerd", "http://127.0.0.1:1")
		if !strings.Contains(x.HistoryError, "no observerd answering at http://127.0.0.1:1") {
			t.Errorf("history_error %q", x.HistoryError)
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		c.rdb.Set(ctx, "ratelimit:str", "x", 0)
		var out, errOut bytes.Buffer
		err := run(ctx, []string{"observerd", "explain", "str"}, env, &out, &errOut)
		if code, _ := exitStatus(err); code != 1 || !strings.Contains(fmt.Sprint(err), "not a sorted set") {
			t.Errorf("explain str: %v (exit %d)", err, code)
		}
	})
	t.Run("summary", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := run(ctx, []string{"observerd", "explain", "user:blocked", "--observerd", d.URL}, env, &out, &errOut); err != nil {
			t.Fatalf("explain: %v", err)
		}
		for _, want := range []string{"count 3 / limit 3 (override)", "next check: blocked; allowed from", "spread over the window", "allowed ever (:seq) "} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, out.String())
			}
		}
	})
}

// compareWithRedis checks x against Redis read now.
func compareWithRedis(t *testing.T, rdb *goredis.Client, key string, x *explain.Explanation) {
	t.Helper()
	ctx := t.Context()
	limit, window, source := int64(10), int64(60_000), explain.SourceDefault
	if h := rdb.HGetAll(ctx, "ratelimit:limit:"+key).Val(); len(h) > 0 {
		limit, _ = strconv.ParseInt(h["limit"], 10, 64)
		source = explain.SourceOverride
		if w, ok := h["window_ms"]; ok {
			window, _ = strconv.ParseInt(w, 10, 64)
		}
	}
	now, _ := rdb.Time(ctx).Result()
	count := rdb.ZCount(ctx, "ratelimit:"+key, strconv.FormatInt(now.UnixMilli()-window, 10), "+inf").Val()
	exists := rdb.Exists(ctx, "ratelimit:"+key).Val() == 1
	pttl := rdb.PTTL(ctx, "ratelimit:"+key).Val()
	seq, seqErr := rdb.Get(ctx, "ratelimit:"+key+":seq").Int64()
	if x.Exists != exists || x.Count != count || x.Limit != limit || x.LimitSource != source || x.WindowMs != window ||
		x.Remaining != max(0, limit-count) || x.AllowedNext != (count < limit) || x.DefaultsFrom != "api" {
		t.Errorf("%q: explained %+v; Redis: exists %v, count %d, limit %d (%s), window %d", key, x, exists, count, limit, source, window)
	}
	switch {
	case !exists:
		if x.TTLMs != nil {
			t.Errorf("%q: ttl_ms %d, want null for a missing key", key, *x.TTLMs)
		}
	case pttl < 0:
		if x.TTLMs == nil || *x.TTLMs != -1 {
			t.Errorf("%q: ttl_ms %v, want -1", key, x.TTLMs)
		}
	default:
		if x.TTLMs == nil || *x.TTLMs < pttl.Milliseconds() || *x.TTLMs > pttl.Milliseconds()+5_000 {
			t.Errorf("%q: ttl_ms %v, Redis %v", key, x.TTLMs, pttl)
		}
	}
	if (seqErr == nil) != (x.AllowedTotal != nil) || (seqErr == nil && *x.AllowedTotal != seq) {
		t.Errorf("%q: allowed_total %v, :seq %d (%v)", key, x.AllowedTotal, seq, seqErr)
	}
	if key == "user:ahead" && x.FutureEntries != 1 {
		t.Errorf("%q: future_entries %d, want 1", key, x.FutureEntries)
	}
}
