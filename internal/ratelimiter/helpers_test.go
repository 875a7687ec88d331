package ratelimiter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/testenv"
)

// testNode is a node serving on a loopback listener against a test Redis.
type testNode struct {
	*Node
	url    string
	port   int
	rdb    *redis.Client
	client *http.Client
	stop   func() error
}

// startNode runs a node with the default configuration changed by mutate,
// on a fresh redis-server unless r is given.
func startNode(t *testing.T, r *testenv.Redis, mutate func(*Config)) *testNode {
	t.Helper()
	if r == nil {
		r = testenv.StartRedis(t)
	}
	cfg, err := ParseConfig(nil)
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	cfg.RedisURL = r.URL
	cfg.NodeHost = "127.0.0.1"
	cfg.NodePort = 0
	if mutate != nil {
		mutate(&cfg)
	}
	rdb, err := NewRedisClient(cfg)
	if err != nil {
		t.Fatalf("redis client: %v", err)
	}
	node, err := New(cfg, rdb, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, ln) }()

	tn := &testNode{
		Node:   node,
		url:    "http://" + ln.Addr().String(),
		port:   ln.Addr().(*net.TCPAddr).Port,
		rdb:    rdb,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}},
	}
	stopped := false
	var runErr error
	tn.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
			tn.client.CloseIdleConnections()
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := tn.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
		_ = rdb.Close()
	})
	return tn
}

// answer is one HTTP answer with its body decoded loosely.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (tn *testNode) do(t *testing.T, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, tn.url+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := tn.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("read %s %s: %v", method, path, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return a
}

// check posts one /check.
func (tn *testNode) check(t *testing.T, body any) answer {
	t.Helper()
	return tn.do(t, http.MethodPost, "/check", body)
}

// num reads a JSON number field as int64.
func num(t *testing.T, m map[string]any, name string) int64 {
	t.Helper()
	v, ok := m[name].(float64)
	if !ok {
		t.Fatalf("field %q = %#v, want a number (in %v)", name, m[name], m)
	}
	return int64(v)
}

// list reads a JSON array of objects.
func list(t *testing.T, m map[string]any, name string) []map[string]any {
	t.Helper()
	raw, ok := m[name].([]any)
	if !ok {
		t.Fatalf("field %q = %#v, want an array", name, m[name])
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i], ok = v.(map[string]any)
		if !ok {
			t.Fatalf("%s[%d] = %#v, want an object", name, i, v)
		}
	}
	return out
}

// byKey indexes entries by their "key" field.
func byKey(entries []map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any, len(entries))
	for _, e := range entries {
		k, _ := e["key"].(string)
		out[k] = e
	}
	return out
}
