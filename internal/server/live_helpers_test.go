package server

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/testenv"
)

// liveServer is a handler served by Serve on a loopback port, as
// observerd serves it, with its registry for the waiting gauge.
type liveServer struct {
	URL    string
	client *http.Client
	store  *snapshot.Store
	reg    *prometheus.Registry
	stop   func() (time.Duration, error)
}

// liveOptions tune startLive.
type liveOptions struct {
	config          func(*Config)
	server          func(*http.Server)
	shutdownTimeout time.Duration
	empty           bool // no snapshot published yet
	// webConfig is a web configuration file; ca, which signed its
	// certificate, makes the client trust it and speak HTTP/2.
	webConfig string
	ca        *testenv.CA
}

// startLive serves a handler over a store with one snapshot published
// (none when opts.empty) and stops it when the test ends, unless stop was called first. stop
// returns how long Serve took to return once cancelled, and its error.
func startLive(t *testing.T, opts liveOptions) *liveServer {
	t.Helper()
	ls := &liveServer{store: publishedStore(t), reg: prometheus.NewRegistry()}
	if opts.empty {
		ls.store = snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}, DefaultLimit: 100, DefaultWindow: time.Minute, NodeForgetAfter: time.Minute})
	}
	h := newTestHandler(t, ls.store, func(c *Config) {
		c.Registry = ls.reg
		if opts.config != nil {
			opts.config(c)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	if opts.server != nil {
		opts.server(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, srv, ln, ServeOptions{WebConfigFile: opts.webConfig, ShutdownTimeout: cmp.Or(opts.shutdownTimeout, 5*time.Second)})
	}()
	var once sync.Once
	var took time.Duration
	var serveErr error
	ls.stop = func() (time.Duration, error) {
		once.Do(func() {
			start := time.Now()
			cancel()
			serveErr = <-done
			took = time.Since(start)
		})
		return took, serveErr
	}
	t.Cleanup(func() {
		if _, err := ls.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	tr := &http.Transport{}
	ls.URL = "http://" + ln.Addr().String()
	if opts.ca != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: opts.ca.Pool()}
		tr.ForceAttemptHTTP2 = true
		ls.URL = "https://" + ln.Addr().String()
	}
	ls.client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return ls
}

// publish publishes a new snapshot and returns its sequence.
func publish(s *snapshot.Store) uint64 {
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{Info: snapshot.RedisInfo{Connected: true}}})
	return s.Load().Snapshot.Sequence
}

// waiting is the value of observerd_http_waiting_requests for handler.
func waiting(t *testing.T, reg *prometheus.Registry, handler string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "observerd_http_waiting_requests" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "handler" && l.GetValue() == handler {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// waitWaiting waits until n clients wait on handler.
func waitWaiting(t *testing.T, reg *prometheus.Registry, handler string, n float64) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, fmt.Sprintf("%v clients waiting on %s", n, handler), func() error {
		if got := waiting(t, reg, handler); got != n {
			return fmt.Errorf("%v waiting", got)
		}
		return nil
	})
}

// fetched is an answer read whole.
type fetched struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
	err    error
	proto  string
}

// fetch GETs path with header and reads the answer, within 20 s.
func (ls *liveServer) fetch(path string, header map[string]string) fetched {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.URL+path, nil)
	if err != nil {
		return fetched{err: err}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := ls.client.Do(req)
	if err != nil {
		return fetched{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return fetched{status: resp.StatusCode, header: resp.Header, body: body, took: time.Since(start), err: err, proto: resp.Proto}
}

// fetchAsync runs fetch in the background; the channel has its answer.
func (ls *liveServer) fetchAsync(path string, header map[string]string) <-chan fetched {
	ch := make(chan fetched, 1)
	go func() { ch <- ls.fetch(path, header) }()
	return ch
}

// sequenceOf is the sequence in a snapshot document, or 0.
func sequenceOf(t *testing.T, body []byte) uint64 {
	t.Helper()
	var doc struct {
		Sequence uint64 `json:"sequence"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return doc.Sequence
}

// sseBlock is one block of a Server-Sent Events stream: an event, or a
// comment or retry field alone.
type sseBlock struct {
	ID, Event, Data, Retry string
	Comments               []string
}

// sseReader reads the blocks of one stream.
type sseReader struct {
	sc *bufio.Scanner
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	return &sseReader{sc: sc}
}

// next reads up to the blank line that ends a block.
func (r *sseReader) next() (sseBlock, error) {
	var b sseBlock
	started := false
	for r.sc.Scan() {
		line := r.sc.Text()
		if line == "" {
			if started {
				return b, nil
			}
			continue
		}
		started = true
		if c, ok := strings.CutPrefix(line, ":"); ok {
			b.Comments = append(b.Comments, strings.TrimSpace(c))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			b.ID = value
		case "event":
			b.Event = value
		case "data":
			if b.Data != "" {
				return b, fmt.Errorf("data on two lines: %q", line)
			}
			b.Data = value
		case "retry":
			b.Retry = value
		default:
			return b, fmt.Errorf("unknown field in %q", line)
		}
	}
	if err := r.sc.Err(); err != nil {
		return b, err
	}
	return b, io.EOF
}

// nextEvent skips comments and retry blocks up to the next event.
func (r *sseReader) nextEvent() (sseBlock, error) {
	for {
		b, err := r.next()
		if err != nil || b.Event != "" || b.Data != "" || b.ID != "" {
			return b, err
		}
	}
}

// openEvents opens the stream at path with header; it ends with the test
// or with the function returned.
func (ls *liveServer) openEvents(t *testing.T, path string, header map[string]string) (*http.Response, *sseReader, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.URL+path, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := ls.client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	stop := func() {
		cancel()
		resp.Body.Close()
	}
	t.Cleanup(stop)
	return resp, newSSEReader(resp.Body), stop
}
