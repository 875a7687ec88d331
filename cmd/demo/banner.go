package main

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// banner is what the demo prints once everything is ready.
type banner struct {
	c         *demoCluster
	prom      promLinks
	promErr   error  // why prom has no pages but its base URL
	observerd string // how to run observerd from the current directory
}

// write prints the links, the one-shot check command and how to stop a node.
func (b banner) write(w io.Writer) {
	o := b.c.observerd
	fmt.Fprintf(w, "\nobserverd is watching a live cluster (3 nodes, Redis, Prometheus, load):\n\n")
	fmt.Fprintf(w, "  status      %s/\n  snapshot    %[1]s/snapshot\n  metrics     %[1]s/metrics\n  readiness   %[1]s/readyz\n", o)
	fmt.Fprintf(w, "  Prometheus  %s   (%s)\n", b.prom.graph, cmp.Or(b.prom.version, "of unknown version"))
	if b.promErr != nil {
		fmt.Fprintf(w, "              (no alerts page: %v)\n", b.promErr)
	} else {
		fmt.Fprintf(w, "  alerts      %s\n  targets     %s\n", b.prom.alerts, b.prom.targets)
	}
	fmt.Fprintf(w, "  nodes       %s/health\n", strings.Join(b.c.nodes, "/health  "))
	fmt.Fprintf(w, "\nOne-shot check of this cluster (exit status 0: no critical violation, 2: one holds, 1: could not judge):\n\n  %s\n",
		checkCommand(b.c.observerdEnv, b.observerd))
	if len(b.c.nodePIDs) >= 2 {
		fmt.Fprintf(w, "\nTo see node_down, stop node-2 from another shell:\n\n  kill %d\n\n", b.c.nodePIDs[1])
		fmt.Fprintf(w, "node_down node-2 (critical) then tops %s/ within one poll (%s), and the check above exits 2 naming it.\n", o, observerdPoll)
	}
	fmt.Fprint(w, "\nPress Ctrl-C to stop everything.\n\n")
}

// checkCommand is the shell command that runs `observerd check` at path with
// env, each value quoted when the shell would otherwise change it.
func checkCommand(env []string, path string) string {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString(k + "=" + shellQuote(v) + " ")
	}
	b.WriteString(shellQuote(path) + " check")
	return b.String()
}

// shellQuote returns s as the shell reads it back: unchanged when it holds
// only characters the shell leaves alone, else in single quotes.
func shellQuote(s string) string {
	safe := s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,:/@%+=") == ""
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// relPath is path relative to dir when it lies under dir, as a user in dir
// types it, else path itself.
func relPath(path, dir string) string {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	if !strings.Contains(rel, string(filepath.Separator)) {
		return "./" + rel
	}
	return rel
}
