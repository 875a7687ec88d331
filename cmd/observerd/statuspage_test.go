package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/statuspage/pagedom"
	"github.com/observerd/observerd/internal/testenv"
)

var pageScreenshotCopy = flag.String("statuspage-screenshot", "", "copy the screenshot TestStatusPageInChromium takes to this file")

// chromiumTimeout bounds one Chromium run: start, load, render, exit.
const chromiumTimeout = 60 * time.Second

// pageMarkupKey is a key that is markup: the page must show it as text.
const pageMarkupKey = `<script>alert(1)</script>`

// TestStatusPageInChromium loads the status page of observerd watching a
// real cluster in headless Chromium, reads the rendered DOM back, stops a
// node and reads it again.
func TestStatusPageInChromium(t *testing.T) {
	chromium := chromiumBinary(t)
	c := startCluster(t, clusterOptions{nodes: 3, prometheus: true})
	// Three keys whose counts stay put for ten minutes: no load runs, and
	// each has an override of a 10 min window. The markup key is over its
	// limit of 5.
	const window = 10 * time.Minute
	for _, k := range []struct {
		key    string
		checks int
		limit  int64
		node   int
	}{{pageMarkupKey, 30, 5, 0}, {"page-a", 3, 100, 1}, {"page-b", 2, 100, 2}} {
		pageOverride(t, c, k.key, k.limit, window)
		pageChecks(t, c.nodes[k.node].URL(), k.key, k.checks, window)
	}
	d := startDaemon(t, c.observerdEnv()...)
	d.waitReady(t, 30*time.Second)
	before := d.waitSnapshot(t, 30*time.Second, "three reachable nodes and the three keys", func(s *snapshot.Snapshot) error {
		if len(s.Nodes) != 3 || slices.ContainsFunc(s.Nodes, func(n snapshot.Node) bool { return !n.Reachable }) {
			return fmt.Errorf("nodes %+v", s.Nodes)
		}
		if s.Counters.Keys != 3 || len(s.Counters.Top) == 0 || s.Counters.Top[0].Key != pageMarkupKey {
			return fmt.Errorf("%d keys, top %+v", s.Counters.Keys, s.Counters.Top)
		}
		return nil
	})

	start := time.Now()
	doc := chromiumDOM(t, chromium, d.URL+"/")
	t.Logf("chromium --dump-dom: %s", time.Since(start).Round(time.Millisecond))
	after := d.snapshot(t)
	checkPageFigures(t, doc, before, after)

	c.stopNode(1)
	down := d.waitSnapshot(t, 20*time.Second, "node_down for node-2", func(s *snapshot.Snapshot) error {
		if !slices.ContainsFunc(s.Violations, func(v snapshot.Violation) bool { return v.Invariant == "node_down" && v.Subject == "node-2" }) {
			return fmt.Errorf("violations %+v", s.Violations)
		}
		return nil
	})
	t.Logf("node_down for node-2 in snapshot %d", down.Sequence)
	checkPageNodeDown(t, chromiumDOM(t, chromium, d.URL+"/"))

	start = time.Now()
	png := chromiumScreenshot(t, chromium, d.URL+"/")
	t.Logf("chromium --screenshot: %s, %s", time.Since(start).Round(time.Millisecond), png)
}

// checkPageFigures compares the page with the snapshots read just before
// and just after it was loaded.
func checkPageFigures(t *testing.T, doc *html.Node, before, after *snapshot.Snapshot) {
	t.Helper()
	if got := pagedom.Text(pagedom.First(doc, "title")); !strings.HasSuffix(got, " · observerd") {
		t.Errorf("title %q", got)
	}
	var ids []string
	for _, row := range pagedom.Rows(pagedom.ByID(doc, "nodes")) {
		ids = append(ids, row[0])
	}
	if want := []string{"node-1", "node-2", "node-3"}; !slices.Equal(ids, want) {
		t.Errorf("nodes table %q, want %q", ids, want)
	}
	if top := pagedom.Rows(pagedom.ByID(doc, "top-keys")); len(top) != len(before.Counters.Top) || top[0][0] != pageMarkupKey || top[0][1] != "30" {
		t.Errorf("top keys %q, want %d rows, the first %q with 30", top, len(before.Counters.Top), pageMarkupKey)
	}
	if before.Counters.Keys == after.Counters.Keys {
		if got, want := pagedom.Text(pagedom.ByID(doc, "counter-keys")), strconv.FormatInt(before.Counters.Keys, 10); got != want {
			t.Errorf("counter keys %q, want %s as in /snapshot", got, want)
		}
	} else {
		t.Logf("counter keys moved from %d to %d while the page loaded: not compared", before.Counters.Keys, after.Counters.Keys)
	}
	// The key is text, nowhere a script: the one script is the page's.
	pagedom.Walk(doc, func(n *html.Node) bool {
		if n.Data == "script" && strings.Contains(pagedom.Text(n), "alert") {
			t.Errorf("a script element holds %q", pagedom.Text(n))
		}
		return true
	})
	if got := pagedom.Text(pagedom.ByID(doc, "violations")); !strings.Contains(got, "over_limit "+pageMarkupKey) {
		t.Errorf("violations %q lack over_limit of %q", got, pageMarkupKey)
	}
}

// checkPageNodeDown: the stopped node is at the top, critical, before the
// nodes table, and in the timeline as raised.
func checkPageNodeDown(t *testing.T, doc *html.Node) {
	t.Helper()
	if got := pagedom.Text(pagedom.First(doc, "title")); got != "CRITICAL · observerd" {
		t.Errorf("title %q, want CRITICAL · observerd", got)
	}
	violations := pagedom.ByID(doc, "violations")
	if !slices.ContainsFunc(pagedom.Rows(violations), func(r []string) bool {
		return len(r) == 4 && r[0] == "node_down" && r[1] == "node-2" && strings.Contains(r[3], ", for ")
	}) {
		t.Errorf("violations %q lack node_down of node-2 with its age", pagedom.Rows(violations))
	}
	if v, n := pagedom.Position(doc, violations), pagedom.Position(doc, pagedom.ByID(doc, "nodes")); v < 0 || n < 0 || v > n {
		t.Errorf("violations at element %d, nodes table at %d: the violations must come first", v, n)
	}
	events := pagedom.Rows(pagedom.ByID(doc, "timeline-events"))
	if !slices.ContainsFunc(events, func(r []string) bool {
		return len(r) == 6 && r[1] == "raised" && r[3] == "node_down" && r[4] == "node-2"
	}) {
		t.Errorf("timeline %q lacks node_down of node-2 raised", events)
	}
}

// pageOverride sets a per-key limit in Redis, as an operator would.
func pageOverride(t *testing.T, c *cluster, key string, limit int64, window time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.rdb.HSet(ctx, "ratelimit:limit:"+key, "limit", limit, "window_ms", window.Milliseconds()).Err(); err != nil {
		t.Fatalf("override %q: %v", key, err)
	}
}

// pageChecks sends n checks of key to a node, each allowed.
func pageChecks(t *testing.T, nodeURL, key string, n int, window time.Duration) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"key": key, "limit": 1000, "window_ms": window.Milliseconds()})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, nodeURL+"/check", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("check %q on %s: %v %v", key, nodeURL, resp, err)
		}
	}
}

// chromiumBinary is Debian's Chromium; the test fails without it.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	const path = "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s: %v: install it with: apt-get install -y chromium", path, err)
	}
	return path
}

// chromiumDOM loads url in headless Chromium and parses the DOM it dumps.
func chromiumDOM(t *testing.T, chromium, url string) *html.Node {
	t.Helper()
	return pagedom.Parse(t, string(chromiumRun(t, chromium, "--dump-dom", url)))
}

// chromiumScreenshot takes a screenshot of url and returns its path.
func chromiumScreenshot(t *testing.T, chromium, url string) string {
	t.Helper()
	png := filepath.Join(t.TempDir(), "status.png")
	chromiumRun(t, chromium, "--screenshot="+png, "--window-size=1280,2400", "--hide-scrollbars", url)
	b, err := os.ReadFile(png)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s is not a PNG: % x", png, b[:min(len(b), 8)])
	}
	if *pageScreenshotCopy != "" {
		if err := os.WriteFile(*pageScreenshotCopy, b, 0o644); err != nil {
			t.Errorf("copy the screenshot: %v", err)
		}
	}
	return png
}

// chromiumRun runs headless Chromium with args under chromiumTimeout and
// returns its output. Its stderr, mostly noise, is logged only if the test
// fails. Every process of the run is gone when it returns.
func chromiumRun(t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), chromiumTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(home, "profile"),
	}, args...)...)
	// HOME too: the crash handlers Chromium starts leave its process
	// group and keep their database under HOME, so that every process of
	// this run names home on its command line.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_CACHE_HOME="+filepath.Join(home, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium %q stderr:\n%s", args, tail(stderr.String(), 8000))
		}
	})
	err := cmd.Run()
	chromiumGone(t, home)
	if err != nil {
		t.Fatalf("chromium %q: %v (context: %v)", args, err, ctx.Err())
	}
	return stdout.Bytes()
}

// chromiumGone waits until no live process names home on its command
// line, and kills, by their ids, any still there after 10 s.
func chromiumGone(t *testing.T, home string) {
	t.Helper()
	err := testenv.Poll(10*time.Second, func() error {
		if pids := processesNaming(home); len(pids) > 0 {
			return fmt.Errorf("chromium processes %v still run", pids)
		}
		return nil
	})
	if err != nil {
		for _, pid := range processesNaming(home) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("after chromium exited: %v", err)
	}
}

// processesNaming lists the live processes whose command line holds s;
// zombies are dead already and left out.
func processesNaming(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && processState(stat) != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// processState is the state letter of a /proc/<pid>/stat line, which
// follows the command name in parentheses.
func processState(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}
