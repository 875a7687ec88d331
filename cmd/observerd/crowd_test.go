package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

// TestCrowdOfClients opens thousands of connections to one observerd at
// once, each asking /metrics or /snapshot: observerd never holds more
// connections than OBSERVERD_WEB_MAX_CONNECTIONS, every connection gets an
// answer (200, or 503 from the request bound), and /healthz keeps
// answering throughout.
func TestCrowdOfClients(t *testing.T) {
	const maxConns, maxRequests = 128, 16
	crowd := crowdSize(t, 10000)
	r := testenv.StartRedis(t)
	s := startSidecar(t, "crowd",
		"OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL="+r.URL, "OBSERVERD_LOG_LEVEL=warn",
		"OBSERVERD_WEB_MAX_CONNECTIONS="+strconv.Itoa(maxConns), "OBSERVERD_WEB_MAX_REQUESTS="+strconv.Itoa(maxRequests))
	addr := strings.TrimPrefix(s.url, "http://")
	testenv.WaitFor(t, 10*time.Second, "observerd ready", func() error {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
	pid := s.cmd.Process.Pid
	idleFDs := openFDs(t, pid)
	hwm0 := procStatus(t, pid, "VmHWM")

	stop := make(chan struct{})
	var peak atomic.Int64
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if n := int64(openFDs(t, pid)); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	probes := make(chan probeResult, 1)
	go func() { probes <- probeHealthz(s.url, stop) }()

	answers := crowdRequests(t, addr, crowd)
	close(stop)
	sampler.Wait()
	probed := <-probes
	if probed.err != nil {
		t.Errorf("/healthz during the crowd: %v", probed.err)
	}
	t.Logf("%d connections: answers %v; open fds idle %d, peak %d; VmHWM %s before, %s after; %d /healthz probes, slowest %s",
		crowd, answers, idleFDs, peak.Load(), hwm0, procStatus(t, pid, "VmHWM"), probed.n, probed.slowest)
	// The bound holds the accepted connections; a few more descriptors
	// are the process's own (a Redis connection dialled meanwhile, the
	// probe's connection).
	if over := peak.Load() - int64(idleFDs); over > maxConns+8 {
		t.Errorf("observerd held %d connections more than idle, above OBSERVERD_WEB_MAX_CONNECTIONS=%d", over, maxConns)
	}
	if got := answers[200] + answers[503]; got != crowd {
		t.Errorf("%d of %d connections answered 200 or 503: %v", got, crowd, answers)
	}
}

// crowdSize is want, or less when the file descriptor limit would not
// allow it for both this process and observerd.
func crowdSize(t *testing.T, want int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if limit := int(lim.Cur) - 512; limit < want {
		t.Logf("file descriptor limit %d: a crowd of %d", lim.Cur, limit)
		return max(limit, 1000)
	}
	return want
}

// crowdRequests opens n connections at once, from 50 goroutines, sends
// one request on each (alternately /metrics and /snapshot), then reads
// every answer; it returns the count of each status, -1 for no answer.
func crowdRequests(t *testing.T, addr string, n int) map[int]int {
	const workers = 50
	var mu sync.Mutex
	answers := map[int]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conns []net.Conn
			for i := w; i < n; i += workers {
				c, err := net.DialTimeout("tcp", addr, 30*time.Second)
				if err != nil {
					t.Errorf("dial %d: %v", i, err)
					continue
				}
				path := "/metrics"
				if i%2 == 1 {
					path = "/snapshot"
				}
				_, _ = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: observerd\r\n\r\n", path)
				conns = append(conns, c)
			}
			for _, c := range conns {
				code := readStatus(c)
				c.Close()
				mu.Lock()
				answers[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return answers
}

// readStatus reads the status code of the answer on c, -1 if none comes
// within 30 s.
func readStatus(c net.Conn) int {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

// probeResult is what the probes saw: how many answered, the slowest, and
// the first failure.
type probeResult struct {
	n       int
	slowest time.Duration
	err     error
}

// probeHealthz asks /healthz over a new connection each time, as a
// kubelet does, until stop; each must answer 200 within 10 s.
func probeHealthz(url string, stop <-chan struct{}) probeResult {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var r probeResult
	for {
		select {
		case <-stop:
			return r
		default:
		}
		start := time.Now()
		resp, err := client.Get(url + "/healthz")
		if err != nil {
			r.err = fmt.Errorf("probe %d: %w", r.n+1, err)
			return r
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			r.err = fmt.Errorf("probe %d: %s", r.n+1, resp.Status)
			return r
		}
		r.n++
		r.slowest = max(r.slowest, time.Since(start))
	}
}

func openFDs(t *testing.T, pid int) int {
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Errorf("open fds of %d: %v", pid, err)
	}
	return len(entries)
}

// procStatus is one field of /proc/PID/status, such as VmHWM.
func procStatus(t *testing.T, pid int, field string) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Errorf("status of %d: %v", pid, err)
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
