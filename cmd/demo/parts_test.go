package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

func TestViolations(t *testing.T) {
	v := func(inv, subject, sev string) snapshot.Violation {
		return snapshot.Violation{Invariant: inv, Subject: subject, Severity: sev}
	}
	tests := []struct {
		name string
		give []snapshot.Violation
		want string
	}{
		{"none", nil, "none"},
		{"one", []snapshot.Violation{v("node_down", "node-2", "critical")}, "node_down node-2 (critical)"},
		{"no subject", []snapshot.Violation{v("redis_disconnected", "", "critical")}, "redis_disconnected (critical)"},
		{
			"most severe first",
			[]snapshot.Violation{v("sequence_key_leak", "", "info"), v("over_limit", "hot", "warning"), v("node_down", "node-3", "critical")},
			"node_down node-3 (critical), over_limit hot (warning), sequence_key_leak (info)",
		},
		{
			"bounded",
			[]snapshot.Violation{
				v("over_limit", "a", "warning"), v("over_limit", "b", "warning"), v("node_down", "node-2", "critical"),
				v("over_limit", "c", "warning"), v("over_limit", "d", "warning"),
			},
			"node_down node-2 (critical), over_limit a (warning), over_limit b (warning) +2 more",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := violations(tt.give); got != tt.want {
				t.Errorf("violations = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPromUIs(t *testing.T) {
	tests := []struct {
		give string // version
		want []string
	}{
		{"2.42.0+ds", []string{"classic", "react"}},
		{"2.53.1", []string{"react", "classic"}},
		{"3.1.0", []string{"v3", "react"}},
		{"", []string{"v3", "react", "classic"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var got []string
			for _, ui := range promUIs(tt.give) {
				got = append(got, ui.name)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("UIs %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPrometheusLinks asks the installed Prometheus which pages it serves:
// every link the demo would print must answer 200 itself.
func TestPrometheusLinks(t *testing.T) {
	p := testenv.StartPrometheus(t, testenv.PrometheusConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := findPromLinks(ctx, p.URL)
	if err != nil {
		t.Fatalf("find the Prometheus pages: %v", err)
	}
	if l.version == "" {
		t.Error("no version from /api/v1/status/buildinfo")
	}
	if !strings.Contains(l.graph, "g0.expr=observerd_invariant_violation") {
		t.Errorf("graph link %s lacks the query", l.graph)
	}
	if err := allOK(ctx, []string{l.graph, l.alerts, l.targets}); err != nil {
		t.Errorf("Prometheus %s: %v", l.version, err)
	}
	t.Logf("Prometheus %s: %s %s %s", l.version, l.graph, l.alerts, l.targets)
}

func TestCheckCommand(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		path string
		want string
	}{
		{
			"plain",
			[]string{"OBSERVERD_REDIS_URL=redis://127.0.0.1:6390", "OBSERVERD_POLL_INTERVAL=2s"},
			"bin/observerd",
			"OBSERVERD_REDIS_URL=redis://127.0.0.1:6390 OBSERVERD_POLL_INTERVAL=2s bin/observerd check",
		},
		{
			"quoted",
			[]string{"OBSERVERD_RATELIMITER_URLS=http://a:1 http://b:2", "OBSERVERD_X=it's", "OBSERVERD_EMPTY="},
			"/tmp/my bin/observerd",
			`OBSERVERD_RATELIMITER_URLS='http://a:1 http://b:2' OBSERVERD_X='it'\''s' OBSERVERD_EMPTY='' '/tmp/my bin/observerd' check`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkCommand(tt.env, tt.path); got != tt.want {
				t.Errorf("command\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestRelPath(t *testing.T) {
	tests := []struct {
		give, dir, want string
	}{
		{"/work/main/bin/observerd", "/work/main", "bin/observerd"},
		{"/work/main/bin/observerd", "/work/main/bin", "./observerd"},
		{"/work/main/bin/observerd", "/tmp", "/work/main/bin/observerd"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			if got := relPath(tt.give, tt.dir); got != tt.want {
				t.Errorf("relPath(%q, %q) = %q, want %q", tt.give, tt.dir, got, tt.want)
			}
		})
	}
}

// TestReportExit ends real processes the ways the demo's may end and checks
// what the demo says and whether it goes on.
func TestReportExit(t *testing.T) {
	sh := testenv.LookBinary(t, "sh", "dash")
	tests := []struct {
		name      string
		give      string // process name
		script    string
		kill      bool // SIGKILL it once started
		want      []string
		wantFatal bool
	}{
		{"node killed", "node-2", "exec sleep 60", true,
			[]string{"node-2 (pid ", ") died: ended by signal 9 (killed); the demo goes on: observerd reports node_down node-2 (critical)"}, false},
		{"node failed", "node-3", "echo 'redis: connection refused' >&2; exit 1", false,
			[]string{"node-3 (pid ", "died: exited with status 1; the demo goes on", "node-3.log:\n    redis: connection refused\n"}, false},
		{"redis killed", "redis", "echo 'Ready to accept connections'; exec sleep 60", true,
			[]string{"redis (pid ", "ended by signal 9 (killed)", "redis_disconnected", "    Ready to accept connections\n"}, false},
		{"load gone", "loadgen", "exit 0", false, []string{"died: exited with status 0; the demo goes on without that load\n"}, false},
		{"observerd failed", "observerd", "echo 'panic: boom' >&2; exit 2", false,
			[]string{"observerd (pid ", "died: exited with status 2; the demo ends", "    panic: boom\n"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := procs.NewGroup(t.TempDir())
			defer g.StopAll()
			c, err := g.Start(tt.give, sh, []string{"-c", tt.script}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.kill {
				// The log must hold the script's first line before the kill.
				testenv.WaitFor(t, 10*time.Second, "the script's output", func() error { return logHas(c, tt.script) })
				_ = c.Signal(syscall.SIGKILL)
			}
			var out bytes.Buffer
			err = reportExit(&out, diedWithin(t, g, 10*time.Second))
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if (err != nil) != tt.wantFatal {
				t.Errorf("error %v, want fatal %v", err, tt.wantFatal)
			}
		})
	}
}

// TestWatchEndsWhenObserverdDies checks that the demo's loop returns the
// death of observerd as its error at once.
func TestWatchEndsWhenObserverdDies(t *testing.T) {
	g := procs.NewGroup(t.TempDir())
	defer g.StopAll()
	if _, err := g.Start("observerd", testenv.LookBinary(t, "sh", "dash"), []string{"-c", "exit 3"}, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := watch(ctx, "http://127.0.0.1:1", time.Hour, g.Died(), &out)
	if err == nil || !strings.Contains(err.Error(), "observerd died: exited with status 3") {
		t.Errorf("watch = %v, want observerd's death\n%s", err, out.String())
	}
}

// TestWatchGoesOnWhenANodeDies checks that the demo's loop reports a node's
// death and goes on until its context ends.
func TestWatchGoesOnWhenANodeDies(t *testing.T) {
	g := procs.NewGroup(t.TempDir())
	defer g.StopAll()
	node, err := g.Start("node-2", testenv.LookBinary(t, "sh", "dash"), []string{"-c", "exit 0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testenv.Buffer{}
	done := make(chan error, 1)
	go func() { done <- watch(ctx, "http://127.0.0.1:1", time.Hour, g.Died(), out) }()
	testenv.WaitFor(t, 20*time.Second, "node-2 reported dead", func() error {
		if !strings.Contains(out.String(), fmt.Sprintf("node-2 (pid %d) died: exited with status 0; the demo goes on", node.PID())) {
			return errors.New("not yet")
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch = %v after a node died, want nil\n%s", err, out.String())
	}
}

// diedWithin waits for the next process of g to die.
func diedWithin(t *testing.T, g *procs.Group, d time.Duration) *procs.Child {
	t.Helper()
	select {
	case c := <-g.Died():
		return c
	case <-time.After(d):
		t.Fatalf("no process died within %s", d)
		return nil
	}
}

// logHas fails until c's log holds the first line the script echoes, if it
// echoes one.
func logHas(c *procs.Child, script string) error {
	first, _, ok := strings.Cut(strings.TrimPrefix(script, "echo '"), "'")
	if !ok || !strings.HasPrefix(script, "echo '") {
		return nil
	}
	if !strings.Contains(c.LogTail(procs.TailLines), first) {
		return fmt.Errorf("%s: no %q yet", c.LogPath(), first)
	}
	return nil
}
