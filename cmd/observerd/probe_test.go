package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

// TestProbeListener: with OBSERVERD_PROBE_ADDR, /healthz and /readyz answer
// there as on the main port, nothing else is served there, the main port
// keeps every route, and the start is logged with the probe address.
func TestProbeListener(t *testing.T) {
	r := testenv.StartRedis(t)
	probeAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	d := startDaemon(t, "OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL="+r.URL, "OBSERVERD_PROBE_ADDR="+probeAddr)
	d.waitReady(t, 15*time.Second)
	probe := "http://" + probeAddr
	for _, path := range []string{"/healthz", "/readyz"} {
		wantCode, wantBody := d.get(t, path)
		code, body := getURL(t, probe+path)
		if code != http.StatusOK || code != wantCode || body != string(wantBody) {
			t.Errorf("GET %s on OBSERVERD_PROBE_ADDR answered %d %q, the main port %d %q", path, code, body, wantCode, wantBody)
		}
	}
	for _, path := range []string{"/snapshot", "/metrics", "/", "/events", "/history"} {
		if code, _ := getURL(t, probe+path); code != http.StatusNotFound {
			t.Errorf("GET %s on OBSERVERD_PROBE_ADDR answered %d, want 404", path, code)
		}
	}
	for _, path := range []string{"/snapshot", "/metrics", "/"} {
		if code, _ := d.get(t, path); code != http.StatusOK {
			t.Errorf("GET %s on OBSERVERD_LISTEN_ADDR answered %d, want 200", path, code)
		}
	}
	if !strings.Contains(d.logs.String(), `"probe":"`+probeAddr+`"`) {
		t.Errorf("the start is not logged with the probe address %s:\n%s", probeAddr, tail(d.logs.String(), 2000))
	}
}

// TestProbeListenerOffByDefault: without OBSERVERD_PROBE_ADDR there is one
// listener, as before, and the start names no probe address.
func TestProbeListenerOffByDefault(t *testing.T) {
	r := testenv.StartRedis(t)
	d := startDaemon(t, "OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL="+r.URL)
	d.waitReady(t, 15*time.Second)
	if code, _ := d.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz answered %d", code)
	}
	logs := d.logs.String()
	if !strings.Contains(logs, "observerd starting") || strings.Contains(logs, `"probe":`) {
		t.Errorf("the start names a probe listener, or is not logged:\n%s", tail(logs, 2000))
	}
}

// TestProbeListenerTaken: a probe address that cannot be bound stops
// observerd at start, naming the variable.
func TestProbeListenerTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var out bytes.Buffer
	env := []string{"OBSERVERD_LISTEN_ADDR=127.0.0.1:0", "OBSERVERD_SOURCES=redis", "OBSERVERD_PROBE_ADDR=" + taken.Addr().String()}
	err = run(context.Background(), []string{"observerd"}, env, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "OBSERVERD_PROBE_ADDR") {
		t.Errorf("run with OBSERVERD_PROBE_ADDR=%s, which is taken, = %v, want an error naming OBSERVERD_PROBE_ADDR", taken.Addr(), err)
	}
}
