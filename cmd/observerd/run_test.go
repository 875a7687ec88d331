package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

func TestHelpListsEveryVariable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"observerd", "-h"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("observerd -h: %v", err)
	}
	for _, want := range []string{"OBSERVERD_LISTEN_ADDR", ":9750", "OBSERVERD_SOURCES", "ratelimiter,redis,prometheus", "OBSERVERD_REDIS_URL",
		"OBSERVERD_PROMETHEUS_URL", "OBSERVERD_POLL_INTERVAL", "OBSERVERD_TOP_KEYS", "OBSERVERD_LOG_FORMAT", "OBSERVERD_COUNTER_DRIFT_THRESHOLD"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("-h lacks %q", want)
		}
	}
}

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"observerd", "-version"}, nil, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); !strings.HasPrefix(out, "observerd, version ") || !strings.Contains(out, "go version:") || !strings.Contains(out, "platform:") {
		t.Errorf("-version = %q", stdout.String())
	}
}

func TestBadConfigNamesVariable(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "OBSERVERD_POLL_INTERVAL=often", want: "OBSERVERD_POLL_INTERVAL"},
		{give: "OBSERVERD_SOURCES=redis,kafka", want: "OBSERVERD_SOURCES"},
		{give: "OBSERVERD_REDIS_PASSWORD_FILE=/nonexistent/password", want: "OBSERVERD_REDIS_PASSWORD_FILE"},
		{give: "OBSERVERD_LISTEN_ADDR=256.0.0.1:1", want: "OBSERVERD_LISTEN_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), []string{"observerd"}, []string{tt.give}, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run with %s = %v, want an error naming %s", tt.give, err, tt.want)
			}
		})
	}
}

// TestRedisOnly boots observerd against a real Redis with a known keyspace,
// stops Redis and starts it again.
func TestRedisOnly(t *testing.T) {
	r := testenv.StartRedis(t)
	seedKeyspace(t, r.Addr)
	d := startDaemon(t,
		"OBSERVERD_SOURCES=redis",
		"OBSERVERD_REDIS_URL="+r.URL,
		"OBSERVERD_POLL_INTERVAL=200ms",
		"OBSERVERD_POLL_MAX_BACKOFF=400ms",
		"OBSERVERD_DEFAULT_LIMIT=10",
	)
	d.waitReady(t, 15*time.Second)
	s := d.snapshot(t)
	c := s.Counters
	if c.Keys != seededKeys || c.RequestsInWindow != seededRequests || c.BlockedKeys != 1 || c.OverLimitKeys != 1 || c.KeysWithoutTTL != 1 || c.OrphanSequenceKeys != 1 {
		t.Errorf("counters = %+v, want %d keys, %d requests", c, seededKeys, seededRequests)
	}
	// The top keys by count, then by name.
	wantTop := []string{"hot", "bulk-0004", "bulk-0009", "bulk-0014"}
	if len(c.Top) != 20 || c.Top[0].Count != 12 || c.Top[0].Limit != 10 || c.Top[1].Count != 5 {
		t.Errorf("top = %+v", c.Top)
	}
	for i, k := range wantTop {
		if i < len(c.Top) && c.Top[i].Key != k {
			t.Errorf("top[%d] = %s, want %s", i, c.Top[i].Key, k)
		}
	}
	if !s.Redis.Connected || s.Redis.Version == "" || s.Sources["redis"].Status != snapshot.StatusOK {
		t.Errorf("redis = %+v, source = %+v", s.Redis, s.Sources["redis"])
	}
	m := d.metrics(t)
	for name, want := range map[string]string{
		"observerd_counter_keys": fmt.Sprint(seededKeys), "observerd_counter_requests_in_window": fmt.Sprint(seededRequests), "observerd_counter_blocked_keys": "1",
		"observerd_counter_keys_without_ttl": "1", "observerd_counter_orphan_sequence_keys": "1", "observerd_redis_up": "1",
		`observerd_counter_requests{key="hot"}`: "12",
	} {
		if got := metricLine(m, name); got != want {
			t.Errorf("%s = %q, want %s", name, got, want)
		}
	}

	r.Stop()
	stale := d.waitSnapshot(t, 10*time.Second, "redis stale", func(s *snapshot.Snapshot) error {
		if st := s.Sources["redis"]; st.Status != snapshot.StatusStale || st.Error == "" {
			return fmt.Errorf("redis source %+v", st)
		}
		return nil
	})
	if stale.Counters.Keys != seededKeys || stale.Redis.Connected {
		t.Errorf("while Redis is down: counters %+v connected %v; want the last good data, disconnected", stale.Counters, stale.Redis.Connected)
	}
	m = d.metrics(t)
	if got := metricLine(m, "observerd_redis_up"); got != "0" {
		t.Errorf("observerd_redis_up = %q while Redis is down", got)
	}
	if got := metricLine(m, "observerd_counter_keys"); got != "" {
		t.Errorf("stale observerd_counter_keys still exported: %s", got)
	}

	r.Start(t)
	seedKeyspace(t, r.Addr)
	d.waitSnapshot(t, 10*time.Second, "redis back", func(s *snapshot.Snapshot) error {
		if st := s.Sources["redis"]; st.Status != snapshot.StatusOK || !s.Redis.Connected {
			return fmt.Errorf("redis source %+v", st)
		}
		return nil
	})
}

// TestSIGTERM builds the binary and checks that SIGTERM ends it with status
// 0 within 5 s.
func TestSIGTERM(t *testing.T) {
	port := testenv.FreePort(t)
	cmd := exec.Command(observerdBinary(t))
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("OBSERVERD_LISTEN_ADDR=127.0.0.1:%d", port),
		// Sources that do not answer: it must stop all the same.
		"OBSERVERD_REDIS_URL=redis://127.0.0.1:1",
		"OBSERVERD_RATELIMITER_URLS=http://127.0.0.1:1",
		"OBSERVERD_PROMETHEUS_URL=http://127.0.0.1:1",
	)
	logs := &testenv.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	testenv.WaitFor(t, 10*time.Second, "observerd listening", func() error {
		if strings.Contains(logs.String(), "observerd starting") {
			return nil
		}
		return errors.New("not started")
	})
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
		t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running 5s after SIGTERM\n%s", logs.String())
	}
}
