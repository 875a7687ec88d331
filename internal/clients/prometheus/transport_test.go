package prometheus

import (
	"encoding/base64"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/observerd/observerd/internal/httpclient"
	"github.com/observerd/observerd/internal/testenv"
)

func base64Basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func TestHugeHeaders(t *testing.T) {
	const oneMiB = 1 << 20
	tests := []struct {
		name    string
		opts    Options
		wantMax int
	}{
		{name: "default bound", wantMax: httpclient.DefaultMaxHeaderBytes},
		{name: "own bound", opts: Options{MaxHeaderBytes: 8 << 10}, wantMax: 8 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := serve(t, testenv.HugeHeaders(t, oneMiB, okAnswer), tt.opts)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := c.Query(t.Context(), "up")
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "response headers exceeded "+strconv.Itoa(tt.wantMax)) {
				t.Fatalf("Query with 1 MiB of headers: error = %v, want one saying the headers exceeded %d bytes", err, tt.wantMax)
			}
			if !strings.Contains(err.Error(), c.Endpoint()) {
				t.Errorf("error %q does not name the endpoint", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > oneMiB/2 {
				t.Errorf("Query allocated %d bytes for a refused answer, want well below the 1 MiB of headers", got)
			}
		})
	}
}

func TestHeadersWithinBound(t *testing.T) {
	c, _ := serve(t, testenv.HugeHeaders(t, 16<<10, okAnswer), Options{})
	if _, err := c.Query(t.Context(), "up"); err != nil {
		t.Errorf("Query with 16 KiB of headers: %v", err)
	}
}
