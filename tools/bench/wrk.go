package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/server"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// snapshotCase is one /snapshot document size served under wrk.
type snapshotCase struct {
	name   string
	target int  // JSON bytes to reach, about
	gzip   bool // ask for gzip
}

var snapshotCases = []snapshotCase{
	{"2 KB", 2 << 10, false},
	{"16 KB, gzip", 16 << 10, true},
	{"200 KB", 200 << 10, false},
}

// storeWith publishes one Redis section with n top keys and n blocks, with
// key names that compress about as well as real ones.
func storeWith(n int) *snapshot.Store {
	s := snapshot.NewStore(snapshot.StoreConfig{
		Enabled: []string{source.Redis}, StaleAfter: map[string]time.Duration{source.Redis: time.Hour},
		DefaultLimit: defaultLimit, DefaultWindow: defaultWindow, NodeForgetAfter: time.Hour,
	})
	sec := &snapshot.RedisSection{Info: snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(300 * time.Microsecond), Version: "7.0.15", Role: "master"}}
	for i := range 3 {
		sec.Registry = append(sec.Registry, snapshot.RegistryEntry{ID: fmt.Sprintf("node-%d", i), Address: fmt.Sprintf("10.0.0.%d:8000", i), TTL: 20 * time.Second})
	}
	for i := range n {
		key := fmt.Sprintf("user-%08x", uint32(i)*2654435761)
		count := int64(100 - i%100)
		sec.Counters.Top = append(sec.Counters.Top, snapshot.TopKey{Key: key, Count: count, Limit: defaultLimit, Remaining: defaultLimit - count, TTL: snapshot.Milliseconds(time.Duration(i%60000) * time.Millisecond)})
		sec.Blocks = append(sec.Blocks, snapshot.Block{Key: key, Count: 100 + int64(i%7), Limit: defaultLimit})
	}
	sec.Counters.Keys, sec.BlocksTotal = int64(n), n
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: sec})
	return s
}

// sizedStore returns a store whose JSON is about target bytes.
func sizedStore(target int) *snapshot.Store {
	s0 := len(storeWith(0).Load().JSON)
	s100 := len(storeWith(100).Load().JSON)
	n := max(0, (target-s0)*100/(s100-s0))
	return storeWith(n)
}

// serveOn serves h on a fresh loopback listener until ctx ends.
func serveOn(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = server.Serve(ctx, srv, ln, server.ServeOptions{ShutdownTimeout: time.Second}) }()
	return "http://" + ln.Addr().String(), nil
}

// bareHandler writes the published bytes with only the headers that
// describe them: the least any /snapshot handler must do.
func bareHandler(p *snapshot.Published, gzip bool) http.Handler {
	body, enc := p.JSON, ""
	if gzip {
		body, enc = p.Gzip, "gzip"
	}
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		if enc != "" {
			h.Set("Content-Encoding", enc)
		}
		_, _ = w.Write(body)
	})
}

// observerdHandler is observerd's own route set over store.
func observerdHandler(store *snapshot.Store) (http.Handler, error) {
	return server.NewHandler(server.Config{
		Store: store, Registry: prometheus.NewRegistry(), Enabled: []string{source.Redis},
		Version: "bench", Logger: zap.NewNop(),
	})
}

// sameBody checks that both URLs answer the same bytes, so that wrk
// compares handlers and not documents.
func sameBody(ctx context.Context, urls []string, gzip bool) (int, error) {
	var bodies [][]byte
	// The transport must not undo the gzip: the bytes on the wire count.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s %v", u, resp.Status, err)
		}
		bodies = append(bodies, b)
	}
	if !bytes.Equal(bodies[0], bodies[1]) {
		return 0, errors.New("observerd and the bare handler answer different bytes")
	}
	return len(bodies[0]), nil
}

// runWrk runs wrk -t1 -c16 against url for dur and returns requests/s.
func runWrk(ctx context.Context, url string, dur time.Duration, gzip bool) (float64, error) {
	args := []string{"-t1", "-c16", "-d" + strconv.Itoa(int(dur.Seconds())) + "s"}
	if gzip {
		args = append(args, "-H", "Accept-Encoding: gzip")
	}
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk: %w: %s", err, out)
	}
	text := string(out)
	if strings.Contains(text, "Non-2xx") || strings.Contains(text, "Socket errors") {
		return 0, fmt.Errorf("wrk saw errors: %s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Requests/sec:"); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no Requests/sec in wrk's output: %s", text)
}
