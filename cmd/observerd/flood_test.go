package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

// Bounds of the flood tests.
const (
	// floodMaxConnections is OBSERVERD_WEB_MAX_CONNECTIONS there, its
	// default.
	floodMaxConnections = 512
	// probesPerPath is how many probes of /healthz and of /readyz are
	// sent, back to back, while a flood holds.
	probesPerPath = 20
	// probeTimeout is a probe's deadline, the kubelet's default
	// timeoutSeconds.
	probeTimeout = time.Second
)

// TestProbesUnderFlood floods observerd's main port three ways and holds
// each flood while probes run against OBSERVERD_PROBE_ADDR: 10000 idle
// connections, a slowloris of 1500 connections sending their header a byte
// at a time, and 10000 clients asking /snapshot in a loop. A flood holds
// while the main listener's accept queue holds at least half of what the
// flood can put there, beyond the OBSERVERD_WEB_MAX_CONNECTIONS that
// observerd serves (thousands; for the slowloris, hundreds): a probe of the
// main port would wait behind them. Every probe of the probe port must
// answer 200 within 1 s. Each flood runs in a process of its own
// (startFlooder), as a kubelet's probes would not share one with it.
func TestProbesUnderFlood(t *testing.T) {
	const crowd = 10000
	needFDs(t, crowd+1000)
	r := testenv.StartRedis(t)
	probeAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s := startSidecar(t, "flood",
		"OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL="+r.URL, "OBSERVERD_LOG_LEVEL=warn",
		"OBSERVERD_WEB_MAX_CONNECTIONS="+strconv.Itoa(floodMaxConnections), "OBSERVERD_PROBE_ADDR="+probeAddr)
	probeURL := "http://" + probeAddr
	testenv.WaitFor(t, 10*time.Second, "observerd ready on its probe port", func() error {
		return probe(probeURL + "/readyz")
	})
	mainAddr := strings.TrimPrefix(s.url, "http://")
	mainPort, err := strconv.Atoi(mainAddr[strings.LastIndexByte(mainAddr, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	backlog := somaxconn(t)
	pid := s.cmd.Process.Pid
	idleFDs := openFDs(t, pid)

	floods := []struct {
		kind string
		size int
		// cuts is how many connections observerd must have cut before
		// the probes: proof that a slowloris does not hold a slot for
		// ever. answers is how many answers the flood must have read:
		// two per slot, a crowd in its stride and not only its first
		// connections.
		cuts, answers int64
	}{
		{kind: "idle", size: crowd},
		{kind: "slowloris", size: 1500, cuts: floodMaxConnections},
		{kind: "snapshot", size: crowd, answers: 2 * floodMaxConnections},
	}
	for _, fl := range floods {
		t.Run(fl.kind, func(t *testing.T) {
			// Held: at least half of what the flood can queue beyond
			// the slots waits in the accept queue.
			wantQueued := min(fl.size-floodMaxConnections, backlog) / 2
			held := func() error {
				q, err := acceptQueue(mainPort)
				if err != nil {
					return err
				}
				if q < wantQueued {
					return fmt.Errorf("%d connections wait in the accept queue of the main port, want %d or more", q, wantQueued)
				}
				return nil
			}
			start := time.Now()
			f := startFlooder(t, fl.kind, mainAddr, fl.size)
			testenv.WaitFor(t, 20*time.Second, fl.kind+" flood to hold", func() error {
				if err := f.exited(); err != nil {
					t.Fatal(err)
				}
				if err := held(); err != nil {
					return err
				}
				if f.cut.Load() < fl.cuts {
					return fmt.Errorf("observerd cut %d connections of the flood, want %d", f.cut.Load(), fl.cuts)
				}
				if f.answers.Load() < fl.answers {
					return fmt.Errorf("the flood read %d answers, want %d", f.answers.Load(), fl.answers)
				}
				return nil
			})
			heldAfter := time.Since(start)
			queued, _ := acceptQueue(mainPort)
			fds := openFDs(t, pid)
			mainProbe := probe(s.url + "/healthz")

			lat, errs := probeSeries(probeURL)

			if err := held(); err != nil {
				t.Errorf("the flood did not hold while the probes ran: %v", err)
			}
			if err := f.exited(); err != nil {
				t.Error(err)
			}
			for _, err := range errs {
				t.Error(err)
			}
			t.Logf("%s flood of %d held after %s: %d connected, %d queued, observerd %d fds (%d idle), %d cut by observerd, %d answers; main port /healthz: %v",
				fl.kind, fl.size, heldAfter.Round(time.Millisecond), f.connected.Load(), queued, fds, idleFDs, f.cut.Load(), f.answers.Load(), orOK(mainProbe))
			t.Logf("%s flood: %d probes of the probe port, max %s, median %s", fl.kind, len(lat), maxOf(lat), medianOf(lat))
			if over := fds - idleFDs; over > floodMaxConnections+8 {
				t.Errorf("observerd held %d descriptors more than idle, above OBSERVERD_WEB_MAX_CONNECTIONS=%d", over, floodMaxConnections)
			}

			if err := f.stop(); err != nil {
				t.Error(err)
			}
			testenv.WaitFor(t, 30*time.Second, "the main port to drain", func() error {
				if q, err := acceptQueue(mainPort); err != nil || q > 0 {
					return fmt.Errorf("%d connections queued (%v)", q, err)
				}
				if n := openFDs(t, pid); n > idleFDs+8 {
					return fmt.Errorf("observerd holds %d fds, %d when idle", n, idleFDs)
				}
				return nil
			})
		})
	}
}

// needFDs fails the test unless a flooder may open n descriptors: it has
// the limit of this process, whose soft limit Go raised to the hard one at
// start, as the flooder's Go does.
func needFDs(t *testing.T, n int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < uint64(n) {
		t.Fatalf("the floods need %d file descriptors; the limit is %d (hard %d): raise it, e.g. ulimit -n %d", n, lim.Cur, lim.Max, n)
	}
}

// somaxconn is the kernel's bound on a listener's accept queue, which Go
// asks for in full.
func somaxconn(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// acceptQueue is how many connections wait in the accept queue of the
// listener on 127.0.0.1:port: for a listening socket, /proc/net/tcp gives
// the queue's length as rx_queue. The listening sockets come first there,
// so that the thousands of connections of a flood are not read.
func acceptQueue(port int) (int, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if fields[3] != "0A" {
			break
		}
		if fields[1] != local {
			continue
		}
		_, rx, _ := strings.Cut(fields[4], ":")
		n, err := strconv.ParseInt(rx, 16, 64)
		return int(n), err
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no listener on 127.0.0.1:%d in /proc/net/tcp", port)
}

// probe asks url once over a new connection, as a kubelet does, and
// returns nil for a 200 within probeTimeout.
func probe(url string) error {
	client := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// probeSeries sends probesPerPath probes of /healthz and of /readyz, in
// turn and back to back, and returns their latencies and failures: an
// error, a status other than 200, or an answer slower than probeTimeout.
func probeSeries(base string) ([]time.Duration, []error) {
	var lat []time.Duration
	var errs []error
	for i := range probesPerPath * 2 {
		path := "/healthz"
		if i%2 == 1 {
			path = "/readyz"
		}
		start := time.Now()
		err := probe(base + path)
		took := time.Since(start)
		lat = append(lat, took)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("probe %d, %s, after %s: %w", i+1, path, took, err))
		case took > probeTimeout:
			errs = append(errs, fmt.Errorf("probe %d, %s, took %s, more than %s", i+1, path, took, probeTimeout))
		}
	}
	return lat, errs
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m.Round(10 * time.Microsecond)
}

func medianOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(ds))
	return sorted[len(sorted)/2].Round(10 * time.Microsecond)
}

// orOK is err, or "200" when it is nil.
func orOK(err error) any {
	if err == nil {
		return "200"
	}
	return err
}
