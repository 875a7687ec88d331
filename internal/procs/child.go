package procs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Child is one program a Group started. It runs in its own process group,
// so that a Ctrl-C on the terminal reaches the parent first, and dies with
// the parent should the parent itself be killed.
type Child struct {
	name  string
	cmd   *exec.Cmd
	log   string
	grace time.Duration
	// stopped is set before Stop signals the child: its end is then no
	// death to report.
	stopped atomic.Bool

	done chan struct{} // closed once the process has been waited for
	err  error         // what Wait returned; set before done closes

	once    sync.Once
	stopErr error // set inside once
}

// Name is the name the child was started under.
func (c *Child) Name() string { return c.name }

// PID is the child's process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// LogPath is the file the child's stdout and stderr go to.
func (c *Child) LogPath() string { return c.log }

// Signal sends sig to the child, such as SIGSTOP and SIGCONT to freeze and
// thaw it.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Done is closed once the child has ended and been waited for.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err is how the child ended, once Done is closed: nil for exit status 0,
// an *exec.ExitError for another status or a signal. It is nil while the
// child runs.
func (c *Child) Err() error {
	if !c.Exited() {
		return nil
	}
	return c.err
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

// Status says how the child ended, as a person reads it: "exited with
// status 1", "ended by signal 9 (killed)"; "running" while it runs.
func (c *Child) Status() string {
	if !c.Exited() {
		return "running"
	}
	var ee *exec.ExitError
	switch {
	case c.err == nil:
		return "exited with status 0"
	case errors.As(c.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("ended by signal %d (%s)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	default:
		return fmt.Sprintf("could not be waited for: %v", c.err)
	}
}

// Stop ends the child and everything in its process group with SIGTERM,
// then SIGKILL after StopGrace, and waits for it. A child frozen with
// SIGSTOP is thawed to handle SIGTERM. It fails when the child had to be
// killed; later calls return what the first one did.
func (c *Child) Stop() error {
	c.stopped.Store(true)
	c.once.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Child) stop() error {
	if c.Exited() {
		return nil
	}
	c.signalGroup(syscall.SIGTERM)
	c.signalGroup(syscall.SIGCONT)
	t := time.NewTimer(c.grace)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-t.C:
	}
	c.signalGroup(syscall.SIGKILL)
	<-c.done
	return fmt.Errorf("%s did not stop within %s of SIGTERM: killed", c.name, c.grace)
}

// signalGroup sends sig to the child's process group, which the child
// leads: helpers it started end with it. A group already gone is no error.
func (c *Child) signalGroup(sig syscall.Signal) {
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
}

// Alive fails once the child has ended with an error that wraps ErrExited
// and says how it ended, with the end of its log.
func (c *Child) Alive() error {
	if !c.Exited() {
		return nil
	}
	tail := c.LogTail(TailLines)
	if tail == "" {
		return endedError(fmt.Sprintf("%s %s; its log %s is empty", c.name, c.Status(), c.log))
	}
	return endedError(fmt.Sprintf("%s %s; the end of %s:\n%s", c.name, c.Status(), c.log, tail))
}

// endedError is Alive's error. It wraps ErrExited without repeating its
// text, since the status already says the child ended.
type endedError string

func (e endedError) Error() string { return string(e) }

func (e endedError) Unwrap() error { return ErrExited }

// LogTail is the end of the child's log: see LogTail.
func (c *Child) LogTail(lines int) string { return LogTail(c.log, lines) }
