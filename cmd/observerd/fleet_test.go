package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

var (
	buildOnce sync.Once
	binDir    string // removed by TestMain
	binPath   string
	buildErr  error
)

// observerdBinary builds observerd once per test binary, for the tests
// that need real processes: a signal, a sidecar killed without a word.
func observerdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		var err error
		if binDir, err = os.MkdirTemp("", "observerd-bin-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "observerd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build observerd (needs Go on PATH, /usr/local/go/bin): %v", buildErr)
	}
	return binPath
}

// sidecar is one observerd process.
type sidecar struct {
	id   string
	url  string
	cmd  *exec.Cmd
	logs *testenv.Buffer
	done chan struct{}
}

func startSidecar(t *testing.T, id string, env ...string) *sidecar {
	t.Helper()
	port := testenv.FreePort(t)
	s := &sidecar{id: id, url: "http://127.0.0.1:" + strconv.Itoa(port), logs: &testenv.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(observerdBinary(t))
	s.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"OBSERVERD_LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"OBSERVERD_INSTANCE_ID=" + id,
		"OBSERVERD_LOG_LEVEL=debug",
	}, env...)
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("%s logs:\n%s", id, tail(s.logs.String(), 4000))
		}
	})
	return s
}

// kill signals the process and waits for it to end, at most 5 s.
func (s *sidecar) kill(sig syscall.Signal) {
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *sidecar) snapshot() (*snapshot.Snapshot, error) {
	resp, err := http.Get(s.url + "/snapshot")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s /snapshot: %s", s.id, resp.Status)
	}
	var snap snapshot.Snapshot
	return &snap, json.NewDecoder(resp.Body).Decode(&snap)
}

// redisPolls is the number of Redis polls the sidecar has finished.
func (s *sidecar) redisPolls() (int, error) {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	line := metricLine(string(b), `observerd_poll_duration_seconds_count{source="redis"}`)
	if line == "" {
		return 0, nil
	}
	return strconv.Atoi(line)
}

// agreement waits until every sidecar serves fresh counters walked by one
// observer other than gone, with the seeded figures, and returns that
// observer.
func agreement(t *testing.T, fleet []*sidecar, gone string, timeout time.Duration) string {
	t.Helper()
	var walker string
	testenv.WaitFor(t, timeout, "every sidecar to show one walk with the seeded figures", func() error {
		walker = ""
		for _, s := range fleet {
			snap, err := s.snapshot()
			if err != nil {
				return err
			}
			c := snap.Counters
			if st := snap.Sources["redis"]; st.Status != snapshot.StatusOK {
				return fmt.Errorf("%s: redis %s: %s", s.id, st.Status, st.Error)
			}
			if c.Keys != seededKeys || c.RequestsInWindow != seededRequests || c.BlockedKeys != 1 || c.OrphanSequenceKeys != 1 {
				return fmt.Errorf("%s: counters %+v", s.id, c)
			}
			if walker == "" {
				walker = c.WalkedBy
			}
			if c.WalkedBy != walker || c.WalkedBy == gone || c.WalkedAt == nil || time.Since(*c.WalkedAt) > 5*time.Second {
				return fmt.Errorf("%s: walked by %q at %v, others by %q", s.id, c.WalkedBy, c.WalkedAt, walker)
			}
		}
		return nil
	})
	return walker
}

// TestFleetSharesOneWalk runs three observerd processes on one Redis: one
// walks the keyspace per interval and the others serve its figures; when
// the walker is killed, another takes over within the lease's TTL.
func TestFleetSharesOneWalk(t *testing.T) {
	srv := testenv.StartRedis(t)
	seedKeyspace(t, srv.Addr)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	env := []string{
		"OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL=" + srv.URL,
		"OBSERVERD_REDIS_POLL_INTERVAL=300ms", "OBSERVERD_REDIS_POLL_TIMEOUT=1s", // a lease of 1.6 s
		"OBSERVERD_DEFAULT_LIMIT=10",
	}
	fleet := map[string]*sidecar{}
	var all []*sidecar
	for i := range 3 {
		s := startSidecar(t, fmt.Sprintf("obs-%d", i+1), env...)
		fleet[s.id] = s
		all = append(all, s)
	}
	walker := agreement(t, all, "", 20*time.Second)

	perWalk := fullScanCalls(t, rdb)
	polls := func() (n int) {
		for _, s := range all {
			p, err := s.redisPolls()
			if err != nil {
				t.Fatalf("%s /metrics: %v", s.id, err)
			}
			n += p
		}
		return n
	}
	walkerPolls := func() int {
		n, err := fleet[walker].redisPolls()
		if err != nil {
			t.Fatalf("walker /metrics: %v", err)
		}
		return n
	}
	if err := rdb.ConfigResetStat(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	startAll, startWalker := polls(), walkerPolls()
	testenv.WaitFor(t, 20*time.Second, "ten polls of every sidecar", func() error {
		if n := polls() - startAll; n < 30 {
			return fmt.Errorf("%d polls", n)
		}
		return nil
	})
	scans := srv.CommandCalls(t, "scan")
	walks := float64(scans) / float64(perWalk)
	byWalker := walkerPolls() - startWalker
	if walks > float64(byWalker+1) {
		t.Errorf("%d SCAN calls, %.1f walks of %d calls, while the walker polled %d times and the fleet %d", scans, walks, perWalk, byWalker, polls()-startAll)
	}
	t.Logf("%d polls by 3 sidecars, %.1f walks (%d SCAN calls)", polls()-startAll, walks, scans)

	fleet[walker].kill(syscall.SIGKILL)
	var rest []*sidecar
	for _, s := range all {
		if s.id != walker {
			rest = append(rest, s)
		}
	}
	// The lease lasts 1.6 s after the walker's last renewal.
	killed := time.Now()
	next := agreement(t, rest, walker, 10*time.Second)
	t.Logf("%s walks %v after %s was killed", next, time.Since(killed).Round(time.Millisecond), walker)
}

// fullScanCalls is how many SCAN calls one full iteration over the
// counter and registry prefixes takes, with the COUNT of a walk at its
// budget, the default.
func fullScanCalls(t *testing.T, rdb *goredis.Client) int64 {
	t.Helper()
	var calls int64
	var cursor uint64
	for {
		_, next, err := rdb.Scan(t.Context(), cursor, "ratelimit*", redisclient.PacedStep).Result()
		if err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		calls++
		if next == 0 {
			return calls
		}
		cursor = next
	}
}
