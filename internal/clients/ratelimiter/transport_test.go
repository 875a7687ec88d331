package ratelimiter

import (
	"errors"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/observerd/observerd/internal/httpclient"
	"github.com/observerd/observerd/internal/testenv"
)

// healthyAnswer is a /health answer of a healthy node.
const healthyAnswer = `{"status": "healthy", "node_id": "node-1"}`

func TestHugeHeaders(t *testing.T) {
	const oneMiB = 1 << 20
	tests := []struct {
		name    string
		opts    Options
		wantMax int64
	}{
		{name: "default bound", wantMax: httpclient.DefaultMaxHeaderBytes},
		{name: "own bound", opts: Options{MaxHeaderBytes: 8 << 10}, wantMax: 8 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, serve(t, testenv.HugeHeaders(t, oneMiB, healthyAnswer)), tt.opts)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := c.Health(t.Context())
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "response headers exceeded "+strconv.Itoa(int(tt.wantMax))) {
				t.Fatalf("Health() with 1 MiB of headers: error = %v, want one saying the headers exceeded %d bytes", err, tt.wantMax)
			}
			if !strings.HasPrefix(err.Error(), "GET ") || !strings.Contains(err.Error(), PathHealth) {
				t.Errorf("error %q does not name the request", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > oneMiB/2 {
				t.Errorf("Health() allocated %d bytes for a refused answer, want well below the 1 MiB of headers", got)
			}
		})
	}
}

func TestHeadersWithinBound(t *testing.T) {
	c := newClient(t, serve(t, testenv.HugeHeaders(t, 16<<10, healthyAnswer)), Options{})
	if h, err := c.Health(t.Context()); err != nil || !h.Healthy() {
		t.Errorf("Health() with 16 KiB of headers = %+v, %v; want healthy", h, err)
	}
}

func TestNewRefusesNegativeHeaderBound(t *testing.T) {
	if _, err := New("http://node:8000", Options{MaxHeaderBytes: -1}); err == nil {
		t.Error("New with MaxHeaderBytes -1 succeeded")
	}
}

// TestTLSUnknownAuthority: an https node whose certificate the client
// does not trust is a clear transport error, not an HTTPError.
func TestTLSUnknownAuthority(t *testing.T) {
	srv := httptest.NewTLSServer(reply(200, `{"status": "healthy", "node_id": "n"}`))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, Options{})
	_, err := c.Health(t.Context())
	var he *HTTPError
	if err == nil || errors.As(err, &he) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Health() of an untrusted node: %v, want a certificate error", err)
	}
}
