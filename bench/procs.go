package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a child gets to exit after SIGTERM before SIGKILL.
const stopGrace = 5 * time.Second

// child is one program the bench started. It runs in its own process group
// so that a Ctrl-C on the terminal reaches the bench first, and it dies
// with the bench should the bench itself be killed.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	once sync.Once
}

// procs tracks every child so that all of them are stopped on every exit
// path: success, error or signal.
type procs struct {
	dir string
	mu  sync.Mutex
	all []*child
	seq int
}

// start runs path with args and env added to the bench's own environment;
// stdout and stderr go to a log file in the temp dir.
func (p *procs) start(name, path string, args, env []string) (*child, error) {
	p.mu.Lock()
	p.seq++
	logPath := filepath.Join(p.dir, fmt.Sprintf("%s-%d.log", name, p.seq))
	p.mu.Unlock()
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	p.mu.Lock()
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, nil
}

// stopAll stops every child still running, all at once.
func (p *procs) stopAll() {
	p.mu.Lock()
	all := p.all
	p.all = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop() }()
	}
	wg.Wait()
}

// stop ends the child with SIGTERM, then SIGKILL after stopGrace.
func (c *child) stop() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
}

// exited reports whether the child ended on its own.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// logTail is the end of the child's log, for error messages.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
}

// errExited says a child died while the bench waited for it.
var errExited = errors.New("exited")

// alive fails once the child has exited, with the end of its log.
func (c *child) alive() error {
	if c.exited() {
		return fmt.Errorf("%s %w: %s", c.name, errExited, c.logTail())
	}
	return nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// waitFor calls cond until it returns nil, the timeout passes or ctx ends.
// The pause between calls only spaces the checks; it waits for nothing.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if errors.Is(err, errExited) {
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

func itoa(i int) string { return strconv.Itoa(i) }
