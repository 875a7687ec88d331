package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process may take to exit after SIGTERM.
const stopGrace = 5 * time.Second

// maxDied bounds the processes whose unexpected ends wait to be reported:
// the demo starts eight.
const maxDied = 32

// children starts child processes and stops every one of them, last started
// first. A process that ends before stopAll stops it is sent on died.
type children struct {
	dir  string     // logs go here
	died chan *proc // buffered: the waiting goroutine never blocks on it

	mu       sync.Mutex // guards list and stopping
	list     []*proc
	stopping bool
}

// newChildren returns children logging into dir.
func newChildren(dir string) *children {
	return &children{dir: dir, died: make(chan *proc, maxDied)}
}

type proc struct {
	name string
	log  string // path of its stdout and stderr
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done closes
}

// start runs path with args and env added to this process's environment;
// its output goes to dir/name.log.
func (p *children) start(name, path string, args, env []string) (*proc, error) {
	logPath := filepath.Join(p.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group keeps Ctrl-C from reaching it before the
	// ordered stop does; the parent-death signal ends it should the
	// demo itself be killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}
	pr := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	p.mu.Lock()
	p.list = append(p.list, pr)
	p.mu.Unlock()
	go p.wait(pr, logFile)
	return pr, nil
}

// wait reaps pr and, unless stopAll is stopping it, reports it on died.
func (p *children) wait(pr *proc, logFile *os.File) {
	pr.err = pr.cmd.Wait()
	logFile.Close()
	close(pr.done)
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		return
	}
	select {
	case p.died <- pr:
	default: // more than maxDied ended: the rest go unreported
	}
}

// exited reports whether pr has ended, with its error.
func (pr *proc) exited() (bool, error) {
	select {
	case <-pr.done:
		return true, pr.err
	default:
		return false, nil
	}
}

// stopAll stops every process, last started first, and reports any that
// had to be killed.
func (p *children) stopAll(log io.Writer) {
	p.mu.Lock()
	list := p.list
	p.list = nil
	p.stopping = true
	p.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		pr := list[i]
		if done, _ := pr.exited(); done {
			continue
		}
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-pr.done:
		case <-time.After(stopGrace):
			fmt.Fprintf(log, "%s did not stop within %s: killed\n", pr.name, stopGrace)
			_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
			<-pr.done
		}
	}
}

// waitFor checks cond until it succeeds, the process ends, or the timeout
// passes.
func waitFor(ctx context.Context, pr *proc, timeout time.Duration, cond func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := cond(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if done, _ := pr.exited(); done {
			return fmt.Errorf("%s %s before it was ready; the end of %s:\n%s", pr.name, pr.exitStatus(), pr.log, logTail(pr.log, tailLines))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w; see %s", pr.name, timeout, err, pr.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// httpOK answers nil when GET url answers 200.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// tcpOpen answers nil once something accepts connections on addr.
func tcpOpen(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// port returns preferred when it is free on 127.0.0.1, else any free port.
func port(preferred int) (int, error) {
	for _, p := range []int{preferred, 0} {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		got := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return got, nil
	}
	return 0, errors.New("no free port on 127.0.0.1")
}
