package server

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// Each BenchmarkSnapshot<size> serves one snapshot size two ways: as
// "baseline", a bare handler that writes the same bytes and sets its
// headers the plain way, and as "observerd", through NewHandler with its
// routing, counting and every header /snapshot promises. The sizes are
// those of the JSON document; the gzip cases send its compressed form.
// scripts/benchratio.awk prints observerd's cost as a ratio of the
// baseline's.

func BenchmarkSnapshot2KB(b *testing.B)       { benchSnapshot(b, 2, 4, false) }
func BenchmarkSnapshot16KBGzip(b *testing.B)  { benchSnapshot(b, 50, 208, true) }
func BenchmarkSnapshot200KB(b *testing.B)     { benchSnapshot(b, 200, 3830, false) }
func BenchmarkSnapshot200KBGzip(b *testing.B) { benchSnapshot(b, 200, 3830, true) }

// benchSnapshot runs the baseline and observerd on a snapshot with top
// keys and blocks, asking for gzip when gz is set.
func benchSnapshot(b *testing.B, top, blocks int, gz bool) {
	store := benchStore(b, top, blocks)
	p := store.Load()
	body := p.JSON
	req := httptest.NewRequest(http.MethodGet, "/snapshot", nil)
	if gz {
		body = p.Gzip
		req.Header.Set("Accept-Encoding", "gzip")
	}
	b.Logf("JSON %d bytes, gzip %d bytes, sent %d bytes", len(p.JSON), len(p.Gzip), len(body))

	baseline := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if gz {
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	observerd, err := NewHandler(Config{Store: store, Registry: prometheus.NewRegistry(), Enabled: []string{source.Redis}, Logger: zap.NewNop(), MaxRequests: config.Default().WebMaxRequests})
	if err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name string
		h    http.Handler
	}{{"baseline", baseline}, {"observerd", observerd}} {
		b.Run(bm.name, func(b *testing.B) {
			w := &benchWriter{header: http.Header{}}
			bm.h.ServeHTTP(w, req)
			if w.code != http.StatusOK || !bytes.Equal(w.body, body) || w.header.Get("Content-Length") != strconv.Itoa(len(body)) {
				b.Fatalf("status %d, %d bytes, Content-Length %q; want 200 and %d bytes", w.code, len(w.body), w.header.Get("Content-Length"), len(body))
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				w.reset()
				bm.h.ServeHTTP(w, req)
			}
		})
	}
}

// benchWriter is a reusable ResponseWriter: it copies the body into a
// buffer, as a server copies it toward the socket, without the allocation
// of an httptest.ResponseRecorder per request dwarfing what is measured.
type benchWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

// reset readies w for the next request, as a server gives each request
// an empty header map.
func (w *benchWriter) reset() {
	clear(w.header)
	w.code = 0
	w.body = w.body[:0]
}

// benchStore publishes a snapshot with 3 nodes and the given numbers of
// top keys and blocks. Keys are scattered so that gzip finds only the
// repetition a real document has.
func benchStore(b *testing.B, top, blocks int) *snapshot.Store {
	b.Helper()
	s := snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}, DefaultLimit: 100, DefaultWindow: time.Minute, NodeForgetAfter: time.Minute})
	sec := &snapshot.RedisSection{Info: snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(ms(0.3))}}
	for i := range 3 {
		sec.Registry = append(sec.Registry, snapshot.RegistryEntry{ID: fmt.Sprintf("node-%d", i), Address: fmt.Sprintf("10.0.0.%d:8000", i), TTL: 20 * time.Second})
	}
	for i := range top {
		sec.Counters.Top = append(sec.Counters.Top, snapshot.TopKey{Key: benchKey(i), Count: int64(100 - i%7), Limit: 100, TTL: snapshot.Milliseconds(time.Duration(60000-i*13) * time.Millisecond)})
	}
	for i := range blocks {
		sec.Blocks = append(sec.Blocks, snapshot.Block{Key: benchKey(i), Count: int64(100 + i%37), Limit: 100})
	}
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: sec})
	return s
}

// benchKey is the i-th key, spread over the key space by a multiplicative
// hash.
func benchKey(i int) string { return fmt.Sprintf("user-%08x", uint32(i)*2654435761) }
