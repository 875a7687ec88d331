package main

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// afterDeath says what the demo does once a process of that name has died,
// and whether that ends the demo.
func afterDeath(name string) (next string, fatal bool) {
	switch {
	case name == "observerd":
		return "the demo ends: there is nothing left to watch the cluster", true
	case strings.HasPrefix(name, "node-"):
		return "the demo goes on: observerd reports node_down " + name + " (critical) from its next poll", false
	case name == "redis":
		return "the demo goes on: every node's checks fail and observerd reports redis_disconnected", false
	case name == "prometheus":
		return "the demo goes on without traffic rates and latencies: observerd reports its prometheus source down", false
	default:
		return "the demo goes on without that load", false
	}
}

// reportExit tells w that c died on its own, with the end of its log for
// observerd and Redis, whose logs say why, and for any process that failed
// (a non-zero exit status). It returns an error when that ends the demo.
func reportExit(w io.Writer, c *procs.Child) error {
	status := c.Status()
	next, fatal := afterDeath(c.Name())
	fmt.Fprintf(w, "%s  %s (pid %d) died: %s; %s\n", time.Now().Format(time.TimeOnly), c.Name(), c.PID(), status, next)
	var ee *exec.ExitError
	failed := errors.As(c.Err(), &ee) && ee.ExitCode() > 0
	if c.Name() == "observerd" || c.Name() == "redis" || failed {
		if tail := c.LogTail(procs.TailLines); tail != "" {
			fmt.Fprintf(w, "  the end of %s:\n%s", c.LogPath(), indent(tail, "    "))
		}
	}
	if fatal {
		return fmt.Errorf("%s died: %s; its log is %s", c.Name(), status, c.LogPath())
	}
	return nil
}

// indent puts prefix before every line of text.
func indent(text, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		b.WriteString(prefix + line)
	}
	return b.String()
}
