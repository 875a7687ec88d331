package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/observerd/observerd/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestHelpListsVariables(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"-h"}, nil, &out, &errOut); err != nil {
		t.Fatalf("run -h: %v", err)
	}
	for _, v := range []string{"RATELIMITER_REDIS_URL", "RATELIMITER_NODE_PORT", "RATELIMITER_CHAOS_FAIL_ENDPOINTS"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("-h lacks %s:\n%s", v, out.String())
		}
	}
}

func TestBadConfigFails(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"RATELIMITER_NODE_PORT=abc"}, want: "RATELIMITER_NODE_PORT"},
		{give: []string{"RATELIMITER_REDIS_URL=http://x"}, want: "RATELIMITER_REDIS_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), nil, tt.give, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestServesAndRegistersUntilCancelled(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	environ := []string{
		"RATELIMITER_REDIS_URL=" + r.URL,
		"RATELIMITER_NODE_ID=cmd-node",
		"RATELIMITER_NODE_HOST=127.0.0.1",
		"RATELIMITER_NODE_PORT=0",
		"RATELIMITER_LISTEN_HOST=127.0.0.1",
	}
	var out, errOut testenv.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, environ, &out, &errOut) }()

	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	// Port 0 registers the port actually opened, so the registry says
	// where the node listens.
	var addr string
	testenv.WaitFor(t, 10*time.Second, "the node to register", func() error {
		addr = rdb.HGet(ctx, "ratelimiter:nodes:cmd-node", "address").Val()
		if addr == "" {
			return errors.New("not registered")
		}
		return nil
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/health status %d", resp.StatusCode)
	}
	client.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(errOut.String(), `"node stopped"`) {
		t.Errorf("log lacks the stop message:\n%s", errOut.String())
	}
}
