// Package procs runs the child processes of the programs that drive a real
// cluster side by side (the bench, the soak): each in its own process
// group, with its output in a log file, all of them stopped on every exit
// path. FindPrograms finds the executables of such a cluster, for the demo
// too.
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
	"sync"
	"syscall"
	"time"
)

// StopGrace is how long a child gets to exit after SIGTERM before SIGKILL.
const StopGrace = 5 * time.Second

// ErrExited says a child ended while it was waited for.
var ErrExited = errors.New("exited")

// Group tracks every child it started so that StopAll stops all of them.
type Group struct {
	dir string

	mu  sync.Mutex // guards all and seq
	all []*Child
	seq int
}

// NewGroup returns a group whose children work in dir and log there.
func NewGroup(dir string) *Group { return &Group{dir: dir} }

// Dir is the directory the children work and log in.
func (g *Group) Dir() string { return g.dir }

// Child is one program a Group started. It runs in its own process group,
// so that a Ctrl-C on the terminal reaches the parent first, and dies with
// the parent should the parent itself be killed.
type Child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the process has been waited for
	once sync.Once
}

// Start runs path with args and env added to this process's environment;
// stdout and stderr go to a log file of its own in the group's directory.
func (g *Group) Start(name, path string, args, env []string) (*Child, error) {
	g.mu.Lock()
	g.seq++
	logPath := filepath.Join(g.dir, fmt.Sprintf("%s-%d.log", name, g.seq))
	g.mu.Unlock()
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &Child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	g.mu.Lock()
	// Children that ended are dropped, so that a program restarting
	// children for hours keeps a list as long as what runs.
	g.all = append(slices.DeleteFunc(g.all, (*Child).Exited), c)
	g.mu.Unlock()
	return c, nil
}

// StopAll stops every child still running, all at once.
func (g *Group) StopAll() {
	g.mu.Lock()
	all := g.all
	g.all = nil
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Go(c.Stop)
	}
	wg.Wait()
}

// Name is the name the child was started under.
func (c *Child) Name() string { return c.name }

// PID is the child's process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Signal sends sig to the child, such as SIGSTOP and SIGCONT to freeze and
// thaw it.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Stop ends the child with SIGTERM, then SIGKILL after StopGrace, and
// waits for it. A child frozen with SIGSTOP is thawed to handle SIGTERM.
func (c *Child) Stop() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		_ = c.cmd.Process.Signal(syscall.SIGCONT)
		t := time.NewTimer(StopGrace)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
}

// Exited reports whether the child has ended.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// LogTail is the end of the child's log, for error messages.
func (c *Child) LogTail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
}

// Alive fails, wrapping ErrExited, once the child has ended, with the end
// of its log.
func (c *Child) Alive() error {
	if c.Exited() {
		return fmt.Errorf("%s %w: %s", c.name, ErrExited, c.LogTail())
	}
	return nil
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
