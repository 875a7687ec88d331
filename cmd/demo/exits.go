package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// tailLines is how much of a log is shown when its process dies.
const tailLines = 10

// exitStatus says how pr ended, once it has: "exited with status 1",
// "ended by signal 9 (killed)".
func (pr *proc) exitStatus() string {
	var ee *exec.ExitError
	switch {
	case pr.err == nil:
		return "exited with status 0"
	case errors.As(pr.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("ended by signal %d (%s)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	default:
		return fmt.Sprintf("could not be waited for: %v", pr.err)
	}
}

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

// reportExit tells w that pr died on its own, with the end of its log for
// observerd and Redis, whose logs say why, and for any process that failed
// (a non-zero exit status). It returns an error when that ends the demo.
func reportExit(w io.Writer, pr *proc) error {
	status := pr.exitStatus()
	next, fatal := afterDeath(pr.name)
	fmt.Fprintf(w, "%s  %s (pid %d) died: %s; %s\n", time.Now().Format(time.TimeOnly), pr.name, pr.cmd.Process.Pid, status, next)
	failed := pr.cmd.ProcessState != nil && pr.cmd.ProcessState.ExitCode() > 0
	if pr.name == "observerd" || pr.name == "redis" || failed {
		if tail := logTail(pr.log, tailLines); tail != "" {
			fmt.Fprintf(w, "  the end of %s:\n%s", pr.log, indent(tail, "    "))
		}
	}
	if fatal {
		return fmt.Errorf("%s died: %s; its log is %s", pr.name, status, pr.log)
	}
	return nil
}

// logTail is the last n lines of the file at path, or "" when it cannot be
// read. When those lines are the end of a Go crash (a goroutine dump), the n
// lines from where the crash starts are shown instead: they say why.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	// A goroutine dump of observerd is a few tens of KiB.
	const window = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	b, err := io.ReadAll(f)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	from := max(0, len(lines)-n)
	if crash := crashStart(lines); crash >= 0 {
		from = crash
	}
	return strings.Join(lines[from:min(len(lines), from+n)], "\n") + "\n"
}

// crashStart is the index of the line where the last Go crash in lines
// starts ("panic: ...", "fatal error: ...", "SIGSEGV: ..."), or -1.
func crashStart(lines []string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		sig, _, _ := strings.Cut(l, ": ")
		isSig := len(sig) > 3 && strings.HasPrefix(sig, "SIG") && strings.ToUpper(sig) == sig && !strings.Contains(sig, " ")
		if isSig || strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return i
		}
	}
	return -1
}

// indent puts prefix before every line of text.
func indent(text, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		b.WriteString(prefix + line)
	}
	return b.String()
}
