package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// daemon is one observerd started by runWith in this process.
type daemon struct {
	URL    string
	cancel context.CancelFunc
	done   chan error
	logs   *testenv.Buffer
}

// startDaemon runs observerd on 127.0.0.1:0 with env added to a minimal
// environment, and stops it when the test ends.
func startDaemon(t *testing.T, env ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, options{}, env...)
}

// startDaemonWith is startDaemon with opts (its onListen is the test's).
func startDaemonWith(t *testing.T, opts options, env ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{cancel: cancel, done: make(chan error, 1), logs: &testenv.Buffer{}}
	addrs := make(chan net.Addr, 1)
	environ := append([]string{"OBSERVERD_LISTEN_ADDR=127.0.0.1:0", "OBSERVERD_LOG_LEVEL=debug"}, env...)
	go func() {
		opts.onListen = func(a net.Addr) { addrs <- a }
		d.done <- runWith(ctx, []string{"observerd"}, environ, io.Discard, d.logs, opts)
	}()
	select {
	case a := <-addrs:
		d.URL = "http://" + a.String()
	case err := <-d.done:
		cancel()
		t.Fatalf("observerd ended at start: %v\n%s", err, d.logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("observerd did not listen within 10s")
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("observerd stop: %v", err)
		}
		if t.Failed() {
			t.Logf("observerd logs:\n%s", tail(d.logs.String(), 8000))
		}
	})
	return d
}

// stop cancels run and waits for it, at most 5 s.
func (d *daemon) stop() error {
	d.cancel()
	select {
	case err := <-d.done:
		d.done <- err // so that a second stop sees it too
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("run did not return within 5s of cancel")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// get fetches path and returns the status and body.
func (d *daemon) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	return d.getAccepting(t, path, "")
}

// getAccepting is get with an Accept header (none when empty).
func (d *daemon) getAccepting(t *testing.T, path, accept string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, body
}

// snapshot fetches and decodes /snapshot.
func (d *daemon) snapshot(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	code, body := d.get(t, "/snapshot")
	if code != http.StatusOK {
		t.Fatalf("/snapshot answered %d: %s", code, body)
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("decode /snapshot: %v\n%s", err, body)
	}
	return &s
}

// metrics fetches /metrics as text.
func (d *daemon) metrics(t *testing.T) string {
	t.Helper()
	code, body := d.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics answered %d", code)
	}
	return string(body)
}

// waitReady waits for /readyz to answer 200.
func (d *daemon) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, "observerd /readyz", func() error {
		code, body := d.get(t, "/readyz")
		if code != http.StatusOK {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

// waitSnapshot waits until cond accepts a snapshot and returns it.
func (d *daemon) waitSnapshot(t *testing.T, timeout time.Duration, what string, cond func(*snapshot.Snapshot) error) *snapshot.Snapshot {
	t.Helper()
	var last *snapshot.Snapshot
	testenv.WaitFor(t, timeout, what, func() error {
		code, body := d.get(t, "/snapshot")
		if code != http.StatusOK {
			return fmt.Errorf("/snapshot answered %d", code)
		}
		var s snapshot.Snapshot
		if err := json.Unmarshal(body, &s); err != nil {
			return err
		}
		last = &s
		return cond(&s)
	})
	return last
}

// metricLine returns the value text of the first exposition line starting
// with prefix, or "" when there is none.
func metricLine(exposition, prefix string) string {
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	return ""
}

// ms is f milliseconds.
func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
