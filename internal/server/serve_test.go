package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/testenv"
)

// serveTest serves h on a loopback port with opts until the test ends and
// returns the address.
func serveTest(t *testing.T, h http.Handler, opts ServeOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts.ShutdownTimeout = time.Second
	opts.Logger = zaptest.NewLogger(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// webConfig writes a web configuration with TLS from ca and one basic auth
// user, and returns its path.
func webConfig(t *testing.T, ca *testenv.CA, user, password string) string {
	t.Helper()
	body, err := testenv.WebYAML(testenv.PrometheusWeb{TLS: ca.Server(t, "observerd"), Users: map[string]string{user: password}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeWithWebConfig(t *testing.T) {
	const user, password = "sre", "Wr0ngHorseBattery"
	ca := testenv.NewCA(t)
	h := newTestHandler(t, publishedStore(t))
	addr := serveTest(t, h, ServeOptions{WebConfigFile: webConfig(t, ca, user, password)})

	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer trusting.CloseIdleConnections()
	do := func(client *http.Client, url, user, password string) (int, string, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	for _, path := range []string{"/snapshot", "/metrics", "/healthz", "/readyz", "/"} {
		url := "https://" + addr + path
		if code, body, err := do(trusting, url, user, password); err != nil || code != http.StatusOK {
			t.Errorf("%s with the right password: %d, %v\n%s", path, code, err, body)
		}
		if code, body, err := do(trusting, url, user, "wrong"); err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d, %v, want 401", path, code, err)
		} else if strings.Contains(body, "sequence") || strings.Contains(body, "observerd_") {
			t.Errorf("%s with a wrong password shows data: %s", path, body)
		}
		if code, _, err := do(trusting, url, "", ""); err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s without a password: %d, %v, want 401", path, code, err)
		}
	}
	plain := &http.Client{}
	if code, body, err := do(plain, "http://"+addr+"/snapshot", user, password); err == nil && code == http.StatusOK {
		t.Errorf("plain HTTP was served: %d %s", code, body)
	}
	stranger := &http.Client{Transport: &http.Transport{}}
	defer stranger.CloseIdleConnections()
	if _, _, err := do(stranger, "https://"+addr+"/snapshot", user, password); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client that does not trust the CA: %v, want a certificate error", err)
	}
}

// blockingCollector holds every Collect until release is closed.
type blockingCollector struct {
	entered chan struct{}
	release chan struct{}
}

func (c blockingCollector) Describe(chan<- *prometheus.Desc) {}

func (c blockingCollector) Collect(chan<- prometheus.Metric) {
	c.entered <- struct{}{}
	<-c.release
}

func TestBusyHeavyEndpointsAnswer503AndProbesStillAnswer(t *testing.T) {
	reg := prometheus.NewRegistry()
	bc := blockingCollector{entered: make(chan struct{}, 2), release: make(chan struct{})}
	reg.MustRegister(bc)
	h := newTestHandler(t, publishedStore(t), func(c *Config) { c.Registry, c.MaxRequests = reg, 2 })
	addr := serveTest(t, h, ServeOptions{})
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://" + addr + "/metrics")
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	<-bc.entered
	<-bc.entered
	// Both slots are taken by /metrics requests that do not end.
	for _, path := range []string{"/snapshot", "/metrics"} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), "OBSERVERD_WEB_MAX_REQUESTS") {
			t.Errorf("%s while busy: %d, Retry-After %q, %q; want 503 naming the setting", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/"} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s while busy: %d, want 200", path, resp.StatusCode)
		}
	}
	close(bc.release)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("a held /metrics answered %d", code)
		}
	}
	resp, err := client.Get("http://" + addr + "/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/snapshot once free: %d", resp.StatusCode)
	}
}

// TestLimitListenerHandsIdleSlotsToNewClients fills every connection slot
// with idle keep-alive connections: a new client is still answered,
// because a full listener makes the server close idle connections.
func TestLimitListenerHandsIdleSlotsToNewClients(t *testing.T) {
	const slots = 4
	h := newTestHandler(t, publishedStore(t))
	addr := serveTest(t, h, ServeOptions{MaxConnections: slots})
	var idle []*http.Client
	for range slots {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		resp, err := c.Get("http://" + addr + "/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.CloseIdleConnections()
		}
	}()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	for i := range 3 * slots {
		resp, err := c.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("request %d with every slot idle: %v", i+1, err)
		}
		resp.Body.Close()
	}
}

func TestLimitListenerBoundsOpenConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var pressure []bool
	ln := LimitListener(inner, 2, func(full bool) {
		mu.Lock()
		defer mu.Unlock()
		pressure = append(pressure, full)
	})
	defer ln.Close()
	var dialed []net.Conn
	defer func() {
		for _, c := range dialed {
			c.Close()
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		dialed = append(dialed, c)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	third := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(third)
			return
		}
		third <- c
	}()
	select {
	case <-third:
		t.Fatal("a third connection was accepted with two open")
	case <-time.After(50 * time.Millisecond):
		// Not a wait for a condition: the absence of an event, looked
		// for briefly; the positive case below has a deadline.
	}
	a.Close()
	select {
	case c := <-third:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted after one closed")
	}
	b.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(pressure) < 2 || !pressure[0] || pressure[len(pressure)-1] {
		t.Errorf("pressure calls %v, want true first and false last", pressure)
	}
}
