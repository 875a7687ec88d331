package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/observerd/observerd/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fullLine matches a summary line with three nodes up, traffic and a P99.
var fullLine = regexp.MustCompile(`nodes 3/3 up  keys [1-9]\d*  in window \d+  allowed \d+\.\d/s  blocked \d+\.\d/s  p99 \d+\.\d ms`)

// TestDemo runs the demo as `make demo` does and checks that within 30 s
// its summary shows three nodes up with traffic and P99, that every link it
// prints answers 200, that stopping node-2 with the printed kill command is
// reported at once and named as node_down in the summary, and that Ctrl-C
// stops everything it started.
func TestDemo(t *testing.T) {
	testenv.LookBinary(t, "redis-server", "redis-server")
	testenv.LookBinary(t, "prometheus", "prometheus")
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../observerd", "../ratelimiterd", "../loadgen")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testenv.Buffer{}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- run(ctx, []string{"demo"}, []string{"DEMO_BIN=" + bin, "DEMO_SUMMARY_SECONDS=1"}, out, out)
	}()
	waitOutput(t, done, out, fullLine, "a summary with 3 nodes, traffic and P99")
	t.Logf("full summary %s after start:\n%s", time.Since(start).Round(time.Second), fullLine.FindString(out.String()))
	checkLinks(t, out.String())
	if !checkLine.MatchString(out.String()) {
		t.Errorf("no observerd check command:\n%s", out)
	}

	stopNode(t, out.String())
	waitOutput(t, done, out, nodeDied, "node-2 reported dead")
	waitOutput(t, done, out, nodeDownLine, "a summary naming node_down node-2")
	t.Logf("after kill:\n%s\n%s", nodeDied.FindString(out.String()), nodeDownLine.FindString(out.String()))

	cancel() // as Ctrl-C does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the demo did not stop within 40s of Ctrl-C")
	}
	if !strings.Contains(out.String(), "stopped; logs are in") || strings.Contains(out.String(), "did not stop within") {
		t.Errorf("unclean stop:\n%s", out)
	}
}

var (
	// checkLine is the printed one-shot check with observerd's environment.
	checkLine = regexp.MustCompile(`(?m)^  OBSERVERD_LISTEN_ADDR=\S+ OBSERVERD_RATELIMITER_URLS=http://\S+ OBSERVERD_REDIS_URL=redis://\S+ OBSERVERD_PROMETHEUS_URL=http://\S+ .*observerd check$`)
	killLine  = regexp.MustCompile(`(?m)^  kill (\d+)$`)
	nodeDied  = regexp.MustCompile(`node-2 \(pid \d+\) died: [^\n]*; the demo goes on[^\n]*`)
	// nodeDownLine is a summary naming node-2 down.
	nodeDownLine = regexp.MustCompile(`nodes 2/3 up [^\n]*violations: node_down node-2 \(critical\)[^\n]*`)
)

// waitOutput waits up to 60 s for the demo's output to match re.
func waitOutput(t *testing.T, done chan error, out *testenv.Buffer, re *regexp.Regexp, what string) {
	t.Helper()
	err := testenv.Poll(60*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("demo ended early: %v", err)
		default:
		}
		if !re.MatchString(out.String()) {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v\n%s", what, err, out)
	}
}

// checkLinks checks that the first link the demo prints is observerd's
// status page, and that every link answers 200 itself, without a redirect.
func checkLinks(t *testing.T, out string) {
	t.Helper()
	_, block, _ := strings.Cut(out, "observerd is watching")
	block, _, _ = strings.Cut(block, "One-shot check")
	links := regexp.MustCompile(`https?://\S+`).FindAllString(block, -1)
	m := regexp.MustCompile(`started observerd on (\S+)`).FindStringSubmatch(out)
	if m == nil || len(links) == 0 || links[0] != "http://"+m[1]+"/" {
		t.Errorf("the first link of %v is not observerd's status page:\n%s", links, out)
	}
	for _, want := range []string{"/snapshot", "/metrics", "/alerts", "g0.expr="} {
		if !strings.Contains(block, want) {
			t.Errorf("the demo did not print a link with %q:\n%s", want, block)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, l := range links {
		if err := allOK(ctx, []string{l}); err != nil {
			t.Errorf("printed link: %v", err)
		}
	}
}

// stopNode runs the kill command the demo prints.
func stopNode(t *testing.T, out string) {
	t.Helper()
	m := killLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no kill command:\n%s", out)
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}
