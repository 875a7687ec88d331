package readloop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

const (
	goodSnapshot = `{"sequence": 7, "sources": {}}`
	goodMetrics  = "# HELP up Whether up.\n# TYPE up gauge\nup 1\n"
)

// answer is what the test server says on one path.
type answer struct {
	status int
	body   string
}

var good = map[string]answer{
	PathSnapshot: {http.StatusOK, goodSnapshot},
	PathMetrics:  {http.StatusOK, goodMetrics},
}

// with is good with path's answer replaced.
func with(path string, a answer) map[string]answer {
	m := map[string]answer{PathSnapshot: good[PathSnapshot], PathMetrics: good[PathMetrics]}
	m[path] = a
	return m
}

// rounds is how many /metrics requests the server answers before the test
// stops the loop: enough rounds for more than MaxFailures failures when
// every read fails.
const rounds = 8

// serve answers every read with answers and returns a channel closed once
// rounds /metrics requests came in.
func serve(t *testing.T, answers map[string]answer) (string, <-chan struct{}) {
	t.Helper()
	enough := make(chan struct{})
	var metrics atomic.Int64
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			t.Errorf("unexpected request for %s", r.URL.Path)
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == PathMetrics && metrics.Add(1) >= rounds {
			once.Do(func() { close(enough) })
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, enough
}

func TestLoop(t *testing.T) {
	tests := []struct {
		name    string
		give    map[string]answer
		check   func(*snapshot.Snapshot) error
		failing []string // the paths whose every read fails
		want    string   // in every failure description
	}{{
		name: "good answers",
		give: good,
	}, {
		name:    "bad JSON",
		give:    with(PathSnapshot, answer{http.StatusOK, `{"sequence": `}),
		failing: []string{PathSnapshot},
		want:    "/snapshot: decode: ",
	}, {
		name:    "500",
		give:    map[string]answer{PathSnapshot: {http.StatusInternalServerError, goodSnapshot}, PathMetrics: {http.StatusInternalServerError, goodMetrics}},
		failing: []string{PathSnapshot, PathMetrics},
		want:    ": answered 500 Internal Server Error",
	}, {
		name:    "garbage metrics",
		give:    with(PathMetrics, answer{http.StatusOK, "this is { not an exposition\n"}),
		failing: []string{PathMetrics},
		want:    "/metrics: parse: ",
	}, {
		name:    "snapshot rejected by check",
		give:    good,
		check:   func(s *snapshot.Snapshot) error { return fmt.Errorf("snapshot %d: too old", s.Sequence) },
		failing: []string{PathSnapshot},
		want:    "/snapshot: snapshot 7: too old",
	}, {
		name:  "snapshot accepted by check",
		give:  good,
		check: func(*snapshot.Snapshot) error { return nil },
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, enough := serve(t, tt.give)
			l, err := Start(context.Background(), Config{URL: url, Every: time.Millisecond, Timeout: 5 * time.Second, Check: tt.check})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Stop() })
			select {
			case <-enough:
			case <-time.After(10 * time.Second):
				t.Fatalf("the server had fewer than %d rounds in 10s: %+v", rounds, l.Counts())
			}
			n := l.Stop()
			checkPath(t, PathSnapshot, n.Snapshot, slices.Contains(tt.failing, PathSnapshot))
			checkPath(t, PathMetrics, n.Metrics, slices.Contains(tt.failing, PathMetrics))
			if want := min(n.Failed(), MaxFailures); len(n.Failures) != want {
				t.Errorf("%d failures described, want %d of %d", len(n.Failures), want, n.Failed())
			}
			for _, f := range n.Failures {
				if !strings.Contains(f, tt.want) {
					t.Errorf("failure %q does not contain %q", f, tt.want)
				}
			}
			if again := l.Stop(); again.Reads() != n.Reads() {
				t.Errorf("a second Stop counts %d reads, the first %d", again.Reads(), n.Reads())
			}
		})
	}
}

// checkPath checks that path was read a few times and that either every
// read or none failed.
func checkPath(t *testing.T, path string, got PathCounts, failing bool) {
	t.Helper()
	// The server saw rounds /metrics requests; the last may be cut
	// short by Stop.
	if got.Reads < rounds-1 {
		t.Errorf("%s: %d reads, want at least %d", path, got.Reads, rounds-1)
	}
	want := 0
	if failing {
		want = got.Reads
	}
	if got.Failed != want {
		t.Errorf("%s: %d of %d reads failed, want %d", path, got.Failed, got.Reads, want)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:1", Every: time.Second, Timeout: time.Second}
	tests := []struct {
		name string
		give func(*Config)
		want string
	}{
		{"no URL", func(c *Config) { c.URL = "" }, "no URL"},
		{"zero every", func(c *Config) { c.Every = 0 }, "every 0s must be positive"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout -1s must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.give(&cfg)
			l, err := Start(context.Background(), cfg)
			if l != nil {
				l.Stop()
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start: %v, want %v containing %q", err, ErrConfig, tt.want)
			}
		})
	}
}

func TestLoopEndsWithItsContext(t *testing.T) {
	url, enough := serve(t, good)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l, err := Start(ctx, Config{URL: url, Every: time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	select {
	case <-enough:
	case <-time.After(10 * time.Second):
		t.Fatalf("the server had fewer than %d rounds in 10s", rounds)
	}
	// Read beside the running loop: -race checks the counts are guarded.
	if n := l.Counts(); n.Snapshot.Reads < rounds-1 {
		t.Errorf("%d /snapshot reads while running, want at least %d", n.Snapshot.Reads, rounds-1)
	}
	cancel()
	// Stop returns only once the loop has ended; goleak checks the rest.
	if n := l.Stop(); n.Failed() != 0 {
		t.Errorf("%d reads failed: %v", n.Failed(), n.Failures)
	}
}
