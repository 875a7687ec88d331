package main

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/observerd/observerd/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fullLine matches a summary line with three nodes up, traffic and a P99.
var fullLine = regexp.MustCompile(`nodes 3/3 up  keys [1-9]\d*  in window \d+  allowed \d+\.\d/s  blocked \d+\.\d/s  p99 \d+\.\d ms`)

// TestDemo runs the demo as `make demo` does and checks that within 30 s
// its summary shows three nodes up with traffic and P99, then that Ctrl-C
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
	err := testenv.Poll(60*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			return errors.New("demo ended early")
		default:
		}
		if !fullLine.MatchString(out.String()) {
			return errors.New("no summary with 3 nodes, traffic and P99 yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("full summary %s after start:\n%s", time.Since(start).Round(time.Second), fullLine.FindString(out.String()))
	for _, want := range []string{"/snapshot", "/metrics", "Prometheus  http://"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo did not print %q", want)
		}
	}

	cancel() // as Ctrl-C does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the demo did not stop within 40s of Ctrl-C")
	}
	if !strings.Contains(out.String(), "stopped; logs are in") || strings.Contains(out.String(), "killed") {
		t.Errorf("unclean stop:\n%s", out)
	}
}
