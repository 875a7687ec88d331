// Package testenv starts real redis-server and prometheus processes on free
// loopback ports in temporary directories for tests, and stops them when the
// test ends. A missing binary fails the test with the command that installs it.
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 30 * time.Second

// startAttempts is how many free ports a server is tried on: a port is free
// when chosen, but another test binary may bind it before the server does.
const startAttempts = 3

// LookBinary returns the path of a binary or fails the test with the Debian
// package that provides it.
func LookBinary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: install it with `apt-get install -y %s` (make test does this when run as root)", name, debianPackage)
	}
	return p
}

// handedOut holds the ports FreePort has returned in this test binary. It is
// process-wide because the kernel, asked for 127.0.0.1:0, only avoids ports
// bound at that moment, and a port stays unbound until its server binds it
// and while a test restarts the server: tests running at once share nothing
// else that could remember it.
var handedOut = newPortSet()

// portSet is a set of ports that only grows, safe for concurrent use.
type portSet struct{ ports sync.Map }

func newPortSet() *portSet { return &portSet{} }

// claim adds port to the set and reports whether it was not there before.
func (s *portSet) claim(port int) bool {
	_, taken := s.ports.LoadOrStore(port, true)
	return !taken
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other call in this test binary got (see handedOut). Another test
// binary may still bind it (see startAttempts).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			t.Fatalf("find a free port: close the probe on %d: %v", port, err)
		}
		if handedOut.claim(port) {
			return port
		}
	}
	t.Fatal("find a free port: every port offered was handed out before")
	return 0
}

// WaitFor calls cond until it returns nil or the timeout passes, and fails
// the test with the last error then.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Poll calls cond until it returns nil or the timeout passes, and returns
// the last error then.
func Poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not met after %s: %w", timeout, err)
		}
		// Waiting for a condition, not for time: the interval only spaces
		// the checks.
		<-time.After(wait)
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}

// process is one child process that can be stopped and started again with
// the same arguments.
type process struct {
	name string
	path string
	args []string
	dir  string
	// ready answers nil once the server answers as this very process:
	// another one on the port would make the test talk to a stranger.
	ready func() error

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}
}

// startOnFreePort starts the process launch makes for a FreePort, stops it
// when the test ends and waits until it is ready, on another port when it
// does not come up (see startAttempts).
func startOnFreePort(t testing.TB, launch func(port int) *process) {
	t.Helper()
	var p *process
	var err error
	for range startAttempts {
		p = launch(FreePort(t))
		t.Cleanup(p.stop)
		p.start(t)
		if err = Poll(startTimeout, p.isReady); err == nil {
			return
		}
		p.stop()
	}
	t.Fatalf("start %s: %v", p.name, err)
}

// restart starts the process again after stop and waits until it is ready.
func (p *process) restart(t testing.TB, what string) {
	t.Helper()
	p.start(t)
	WaitFor(t, startTimeout, what, p.isReady)
}

// isReady is ready, or the end of the log of a process that exited.
func (p *process) isReady() error {
	if p.exited() {
		return fmt.Errorf("%w: %s", errExited, p.logTail())
	}
	return p.ready()
}

func (p *process) start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	logFile, err := os.OpenFile(p.dir+"/"+p.name+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open %s log: %v", p.name, err)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so that a Ctrl-C on the test does not reach it
	// before the cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
}

// stop ends the process with SIGTERM, then SIGKILL after a grace period.
func (p *process) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	// A process frozen with SIGSTOP handles SIGTERM once thawed.
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd, p.done = nil, nil
}

// pid is the process id, 0 when not running.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// exited reports whether the process ended by itself.
func (p *process) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the running process; it does nothing when the
// process is not running.
func (p *process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// logTail is the end of the process's log, for the error of a start.
func (p *process) logTail() string {
	b, _ := os.ReadFile(p.dir + "/" + p.name + ".log") // none yet: ""
	return string(b[max(0, len(b)-4000):])
}

var errExited = errors.New("process exited")

func itoa(i int) string { return strconv.Itoa(i) }
