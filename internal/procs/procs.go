// Package procs runs the child processes of the programs that drive a real
// cluster side by side (the demo, the bench, the soak): each in its own
// process group, with its output in a log file, all of them stopped on
// every exit path, the last started first. FindPrograms finds the
// executables of such a cluster.
package procs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long a child gets to exit after SIGTERM before SIGKILL.
const StopGrace = 5 * time.Second

// maxDied bounds the children whose deaths wait unread on Died: the demo
// starts eight.
const maxDied = 32

// ErrExited says a child ended while it was waited for.
var ErrExited = errors.New("exited")

// Group tracks every child it started so that StopAll stops all of them.
type Group struct {
	dir   string
	grace time.Duration // StopGrace; shorter in tests
	died  chan *Child   // buffered: a child's waiter never blocks on it

	waiters sync.WaitGroup // one per child, until it is reaped and reported

	mu   sync.Mutex // guards all and runs
	all  []*Child   // in start order
	runs map[string]int
}

// NewGroup returns a group whose children work in dir and log there.
func NewGroup(dir string) *Group {
	return &Group{dir: dir, grace: StopGrace, died: make(chan *Child, maxDied), runs: map[string]int{}}
}

// Dir is the directory the children work and log in.
func (g *Group) Dir() string { return g.dir }

// Died delivers every child that ends on its own, before Stop or StopAll
// was called on it. Unread, it holds the first few; later deaths are
// dropped.
func (g *Group) Died() <-chan *Child { return g.died }

// Start runs path with args and env added to this process's environment;
// stdout and stderr go to a log file in the group's directory, NAME.log
// for the first child of that name, NAME.2.log for the second and so on.
func (g *Group) Start(name, path string, args, env []string) (*Child, error) {
	logPath := g.logPath(name)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}
	c := &Child{name: name, cmd: cmd, log: logPath, grace: g.grace, done: make(chan struct{})}
	g.waiters.Go(func() { g.wait(c, f) })
	g.mu.Lock()
	// Children that ended are dropped, so that a program restarting
	// children for hours keeps a list as long as what runs.
	g.all = append(slices.DeleteFunc(g.all, (*Child).Exited), c)
	g.mu.Unlock()
	return c, nil
}

// logPath names the log of the next child called name.
func (g *Group) logPath(name string) string {
	g.mu.Lock()
	g.runs[name]++
	n := g.runs[name]
	g.mu.Unlock()
	if n == 1 {
		return filepath.Join(g.dir, name+".log")
	}
	return filepath.Join(g.dir, name+"."+strconv.Itoa(n)+".log")
}

// wait reaps c and, unless it was being stopped, sends it on died.
func (g *Group) wait(c *Child, log *os.File) {
	c.err = c.cmd.Wait()
	log.Close()
	// Judged before done closes: a child seen to have ended before Stop
	// or StopAll marked it is reported.
	stopped := c.stopped.Load()
	close(c.done)
	if stopped {
		return
	}
	select {
	case g.died <- c:
	default: // maxDied deaths wait unread already
	}
}

// StopAll stops every child still running, the last started first, each
// gone before the next is signalled: a load generator stops before the
// nodes it loads, the nodes before their Redis. None of them is reported
// on Died. Once it returns, every child's end has been reported. It fails
// naming the children it had to kill.
func (g *Group) StopAll() error {
	g.mu.Lock()
	all := g.all
	g.all = nil
	g.mu.Unlock()
	for _, c := range all {
		c.stopped.Store(true)
	}
	var errs []error
	for _, c := range slices.Backward(all) {
		// One already ended, by itself or by Stop, was no part of this stop.
		if !c.Exited() {
			errs = append(errs, c.Stop())
		}
	}
	g.waiters.Wait()
	return errors.Join(errs...)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// WaitFor calls cond until it returns nil, returns an error wrapping
// ErrExited, the timeout passes or ctx ends. The pause between calls only
// spaces the checks; it waits for nothing.
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrExited) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not met after %s: %w", what, timeout, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// Programs are the executables of a cluster on this machine: the project's
// own, built into a bin directory, and Redis and Prometheus from Debian's
// packages, found in PATH.
type Programs struct {
	Observerd, Ratelimiterd, Loadgen string
	Redis, Prometheus                string
}

// FindPrograms finds every program of a cluster, as absolute paths (the
// children may work in another directory). Its error names the command
// that builds or installs what is missing.
func FindPrograms(binDir string) (Programs, error) {
	var p Programs
	for _, own := range []struct {
		dst  *string
		name string
	}{{&p.Observerd, "observerd"}, {&p.Ratelimiterd, "ratelimiterd"}, {&p.Loadgen, "loadgen"}} {
		path, err := filepath.Abs(filepath.Join(binDir, own.name))
		if err == nil {
			_, err = exec.LookPath(path)
		}
		if err != nil {
			return p, fmt.Errorf("%s not found in %s: run make build (%w)", own.name, binDir, err)
		}
		*own.dst = path
	}
	for _, deb := range []struct {
		dst          *string
		name, debian string
	}{{&p.Redis, "redis-server", "redis-server"}, {&p.Prometheus, "prometheus", "prometheus"}} {
		path, err := exec.LookPath(deb.name)
		if err != nil {
			return p, fmt.Errorf("%s not found in PATH: install it with `apt-get install -y %s` (make deps does it as root)", deb.name, deb.debian)
		}
		*deb.dst = path
	}
	return p, nil
}
