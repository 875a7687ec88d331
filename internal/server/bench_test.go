package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// benchStore publishes a snapshot with 20 top keys, 100 blocks and 3
// nodes, the size of a busy cluster's document.
func benchStore(b *testing.B) *snapshot.Store {
	b.Helper()
	s := snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}, DefaultLimit: 100, DefaultWindow: time.Minute, NodeForgetAfter: time.Minute})
	sec := &snapshot.RedisSection{Info: snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(ms(0.3))}}
	for i := range 3 {
		sec.Registry = append(sec.Registry, snapshot.RegistryEntry{ID: fmt.Sprintf("node-%d", i), Address: fmt.Sprintf("10.0.0.%d:8000", i), TTL: 20 * time.Second})
	}
	for i := range 20 {
		sec.Counters.Top = append(sec.Counters.Top, snapshot.TopKey{Key: fmt.Sprintf("user-%04d", i), Count: 100, Limit: 100, TTL: snapshot.Milliseconds(60000 * time.Millisecond)})
	}
	for i := range 100 {
		sec.Blocks = append(sec.Blocks, snapshot.Block{Key: fmt.Sprintf("user-%04d", i), Count: 100, Limit: 100})
	}
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: sec})
	return s
}

// BenchmarkSnapshot serves /snapshot with gzip. The baseline encodes and
// compresses the snapshot for every request, as a handler without the
// store's pre-serialized bytes would.
func BenchmarkSnapshot(b *testing.B) {
	store := benchStore(b)
	req := httptest.NewRequest(http.MethodGet, "/snapshot", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.Run("baseline", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			body, err := json.Marshal(store.Load().Snapshot)
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(body)
			_ = zw.Close()
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(buf.Bytes())
		})
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("preserialized", func(b *testing.B) {
		h, err := NewHandler(Config{Store: store, Registry: prometheus.NewRegistry(), Enabled: []string{source.Redis}, Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
}
