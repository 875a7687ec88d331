package procs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

// childTimeout bounds every wait of these tests on a child.
const childTimeout = 20 * time.Second

// TestChildEnds ends real processes the ways a cluster's may end and checks
// what the child says of it, and whether the group reports it as a death.
func TestChildEnds(t *testing.T) {
	sh := testenv.LookBinary(t, "sh", "dash")
	tests := []struct {
		name       string
		script     string
		end        func(*Child) error // nil: the script ends by itself
		wantStatus string
		wantCode   int // of Err's *exec.ExitError; 0: Err is nil
		wantLog    string
		wantDied   bool
	}{
		{"exit 0", "exit 0", nil, "exited with status 0", 0, "", true},
		{"failed", "echo 'redis: connection refused' >&2; exit 3", nil, "exited with status 3", 3, "redis: connection refused\n", true},
		{"killed", "echo ready; exec sleep 60", func(c *Child) error { return c.Signal(syscall.SIGKILL) },
			"ended by signal 9 (killed)", -1, "ready\n", true},
		{"stopped", "echo ready; exec sleep 60", (*Child).Stop, "ended by signal 15 (terminated)", -1, "ready\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGroup(t.TempDir())
			c, err := g.Start("node-1", sh, []string{"-c", tt.script}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.end != nil {
				waitLog(t, c, "ready")
				if err := tt.end(c); err != nil {
					t.Fatal(err)
				}
			}
			waitDone(t, c)
			if err := g.StopAll(); err != nil {
				t.Errorf("stop all: %v", err)
			}
			checkEnd(t, c, tt.wantStatus, tt.wantCode, tt.wantLog)
			select {
			case d := <-g.Died():
				if !tt.wantDied || d != c {
					t.Errorf("reported dead: %s, want %v", d.Name(), tt.wantDied)
				}
			default:
				if tt.wantDied {
					t.Error("not reported dead")
				}
			}
		})
	}
}

// checkEnd checks what an ended child says of how it ended.
func checkEnd(t *testing.T, c *Child, wantStatus string, wantCode int, wantLog string) {
	t.Helper()
	if got := c.Status(); got != wantStatus {
		t.Errorf("status %q, want %q", got, wantStatus)
	}
	var ee *exec.ExitError
	switch err := c.Err(); {
	case wantCode == 0 && err != nil:
		t.Errorf("err %v, want nil", err)
	case wantCode != 0 && (!errors.As(err, &ee) || ee.ExitCode() != wantCode):
		t.Errorf("err %v, want an exit error with code %d", err, wantCode)
	}
	err := c.Alive()
	if !errors.Is(err, ErrExited) {
		t.Fatalf("alive: %v, want ErrExited", err)
	}
	want := "node-1 " + wantStatus + "; the end of " + c.LogPath() + ":\n" + wantLog
	if wantLog == "" {
		want = "node-1 " + wantStatus + "; its log " + c.LogPath() + " is empty"
	}
	if err.Error() != want {
		t.Errorf("alive:\n%q\nwant\n%q", err, want)
	}
}

// TestStopAllOrder checks that StopAll stops the last started first, each
// gone before the next is signalled, and reports none of them dead.
func TestStopAllOrder(t *testing.T) {
	sh := testenv.LookBinary(t, "sh", "dash")
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	g := NewGroup(dir)
	var all []*Child
	for _, name := range []string{"redis", "node-1", "loadgen"} {
		// The trap writes the name and ends the shell: sleep, in its
		// process group, ends on the same SIGTERM.
		script := fmt.Sprintf("trap 'echo %s >> %s; exit 0' TERM; echo ready; sleep 60 & wait", name, order)
		c, err := g.Start(name, sh, []string{"-c", script}, nil)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c)
	}
	for _, c := range all {
		waitLog(t, c, "ready")
	}
	if err := g.StopAll(); err != nil {
		t.Errorf("stop all: %v", err)
	}
	got, err := os.ReadFile(order)
	if want := "loadgen\nnode-1\nredis\n"; err != nil || string(got) != want {
		t.Errorf("stopped in the order %q (%v), want %q", got, err, want)
	}
	for _, c := range all {
		if c.Status() != "exited with status 0" {
			t.Errorf("%s %s, want exited with status 0", c.Name(), c.Status())
		}
	}
	select {
	case c := <-g.Died():
		t.Errorf("%s reported dead after StopAll", c.Name())
	default:
	}
}

// TestStopKills checks that a child ignoring SIGTERM is killed after the
// grace, and that Stop and StopAll say so.
func TestStopKills(t *testing.T) {
	g := NewGroup(t.TempDir())
	g.grace = 50 * time.Millisecond
	// An ignored signal stays ignored across exec.
	c, err := g.Start("stubborn", testenv.LookBinary(t, "sh", "dash"), []string{"-c", "trap '' TERM; echo ready; exec sleep 60"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, c, "ready")
	err = g.StopAll()
	want := "stubborn did not stop within 50ms of SIGTERM: killed"
	if err == nil || err.Error() != want {
		t.Errorf("stop all: %v, want %q", err, want)
	}
	if err := c.Stop(); err == nil || err.Error() != want {
		t.Errorf("stop again: %v, want %q", err, want)
	}
	if got := c.Status(); got != "ended by signal 9 (killed)" {
		t.Errorf("status %q", got)
	}
}

func TestLogNames(t *testing.T) {
	g := NewGroup(t.TempDir())
	defer g.StopAll()
	tests := []struct {
		give string // the child's name
		want string // its log's name
	}{
		{"redis", "redis.log"},
		{"node-1", "node-1.log"},
		{"redis", "redis.2.log"},
		{"redis", "redis.3.log"},
	}
	for _, tt := range tests {
		c, err := g.Start(tt.give, testenv.LookBinary(t, "true", "coreutils"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := filepath.Base(c.LogPath()); got != tt.want {
			t.Errorf("%s logs to %s, want %s", tt.give, got, tt.want)
		}
	}
}

func TestLogTail(t *testing.T) {
	lines := func(prefix string, n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "%s %d\n", prefix, i)
		}
		return b.String()
	}
	tests := []struct {
		name string
		give string
		want string
	}{
		{"empty", "", ""},
		{"blank", "\n \n", ""},
		{"short", "one\ntwo\n", "one\ntwo\n"},
		{"long", lines("log", 30), lines("log", 30)[len(lines("log", 20)):]},
		{"panic", lines("log", 5) + "panic: boom\n\ngoroutine 1 [running]:\n" + lines("frame", 40), "panic: boom\n\ngoroutine 1 [running]:\n" + lines("frame", 7)},
		{"signal", lines("log", 5) + "SIGSEGV: segmentation violation\nPC=0x4990e1 m=0 sigcode=0\n" + lines("r", 30), "SIGSEGV: segmentation violation\nPC=0x4990e1 m=0 sigcode=0\n" + lines("r", 8)},
		{"a log line about a signal", lines("log", 3) + "SIGTERM received: stopping\n", lines("log", 3) + "SIGTERM received: stopping\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.log")
			if err := os.WriteFile(path, []byte(tt.give), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := LogTail(path, 10); got != tt.want {
				t.Errorf("tail\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	if got := LogTail(filepath.Join(t.TempDir(), "none.log"), 10); got != "" {
		t.Errorf("tail of a missing log %q", got)
	}
}

// waitLog waits until c's log holds want.
func waitLog(t *testing.T, c *Child, want string) {
	t.Helper()
	testenv.WaitFor(t, childTimeout, want+" in "+c.LogPath(), func() error {
		if !strings.Contains(c.LogTail(TailLines), want) {
			return errors.New("not yet")
		}
		return nil
	})
}

// waitDone waits until c has ended.
func waitDone(t *testing.T, c *Child) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(childTimeout):
		t.Fatalf("%s still runs after %s", c.Name(), childTimeout)
	}
}
