package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// hasNodeDown reports whether s holds node_down for node.
func hasNodeDown(s *snapshot.Snapshot, node string) bool {
	for _, v := range s.Violations {
		if v.Invariant == "node_down" && v.Subject == node {
			return true
		}
	}
	return false
}

// TestHistoryRemembersANodeDown stops a node of a real cluster until
// observerd reports it down, starts it again, and then asks the history
// for the time it was down.
func TestHistoryRemembersANodeDown(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 2})
	d := startDaemon(t, c.observerdEnv()...)
	d.waitReady(t, 30*time.Second)
	down := c.nodes[1].id

	// A key blocked for the two seconds of its window, long before it is
	// explained.
	const brief = "user:brief"
	c.rdb.HSet(t.Context(), "ratelimit:limit:"+brief, "limit", "2", "window_ms", "2000")
	for range 3 {
		postCheckWindow(t, c.nodes[0].URL(), brief, 2, 2000)
	}
	blockedAt := d.waitSnapshot(t, 20*time.Second, brief+" blocked", func(s *snapshot.Snapshot) error {
		if !slices.ContainsFunc(s.Blocks, func(b snapshot.Block) bool { return b.Key == brief }) {
			return fmt.Errorf("blocks %+v", s.Blocks)
		}
		return nil
	}).GeneratedAt
	d.waitSnapshot(t, 20*time.Second, "two nodes up", func(s *snapshot.Snapshot) error {
		if len(s.Nodes) != 2 || hasNodeDown(s, down) {
			return fmt.Errorf("%d nodes, violations %+v", len(s.Nodes), s.Violations)
		}
		return nil
	})

	c.stopNode(1)
	s := d.waitSnapshot(t, 20*time.Second, "node_down for "+down, func(s *snapshot.Snapshot) error {
		if !hasNodeDown(s, down) {
			return fmt.Errorf("violations %+v", s.Violations)
		}
		return nil
	})
	at := s.GeneratedAt // a time observerd reported the node down
	c.startNode(1)
	d.waitSnapshot(t, 20*time.Second, "node_down cleared for "+down, func(s *snapshot.Snapshot) error {
		if hasNodeDown(s, down) {
			return fmt.Errorf("node_down still held")
		}
		return nil
	})

	stamp := url.QueryEscape(at.Format(time.RFC3339Nano))
	code, body := d.get(t, "/snapshot?at="+stamp)
	if code != http.StatusOK {
		t.Fatalf("/snapshot?at=%s: %d %s", stamp, code, body)
	}
	var past snapshot.Snapshot
	if err := json.Unmarshal(body, &past); err != nil {
		t.Fatal(err)
	}
	if !hasNodeDown(&past, down) || past.Sequence != s.Sequence {
		t.Errorf("/snapshot?at=%s: snapshot %d, violations %+v; want %d with node_down %s", stamp, past.Sequence, past.Violations, s.Sequence, down)
	}

	// The range from before the stop to now: critical, then not.
	code, body = d.get(t, "/history?sections=violations&since="+url.QueryEscape(at.Add(-time.Minute).Format(time.RFC3339)))
	if code != http.StatusOK {
		t.Fatalf("/history: %d %s", code, body)
	}
	var h struct {
		Points []snapshot.Snapshot `json:"points"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, p := range h.Points {
		seen = seen || hasNodeDown(&p, down)
	}
	if n := len(h.Points); n < 2 || !seen || hasNodeDown(&h.Points[n-1], down) {
		t.Errorf("/history of violations: %d points, node_down seen %v, want it in some and not the last", n, seen)
	}
	code, body = d.get(t, "/history")
	var agg struct {
		Points []struct {
			Violations map[string]int `json:"violations"`
		} `json:"points"`
	}
	if err := json.Unmarshal(body, &agg); err != nil || code != http.StatusOK {
		t.Fatalf("/history: %d %v %s", code, err, body)
	}
	critical := 0
	for _, p := range agg.Points {
		critical = max(critical, p.Violations["critical"])
	}
	if critical == 0 || agg.Points[len(agg.Points)-1].Violations["critical"] != 0 {
		t.Errorf("/history aggregates: critical at most %d, last %v", critical, agg.Points[len(agg.Points)-1].Violations)
	}

	// The key is no longer blocked, and its history says when it was.
	d.waitSnapshot(t, 20*time.Second, brief+" no longer blocked", func(s *snapshot.Snapshot) error {
		if slices.ContainsFunc(s.Blocks, func(b snapshot.Block) bool { return b.Key == brief }) {
			return fmt.Errorf("blocks %+v", s.Blocks)
		}
		return nil
	})
	x := runExplainJSON(t, c.observerdEnv(), brief, "--observerd", d.URL)
	if x.Count != 0 || !slices.ContainsFunc(x.History, func(e snapshot.KeyEvent) bool {
		return e.State == snapshot.KeyBlocked && !e.At.After(blockedAt) && !e.Until.Before(blockedAt)
	}) {
		t.Errorf("explain %s: count %d, history %+v (%s); want blocked at %v", brief, x.Count, x.History, x.HistoryError, blockedAt)
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"observerd", "explain", brief, "--observerd", d.URL}, c.observerdEnv(), &out, &errOut); err != nil {
		t.Fatalf("explain %s: %v", brief, err)
	}
	if !strings.Contains(out.String(), "blocked from "+blockedAt.Truncate(time.Second).Format("2006-01-02")) {
		t.Errorf("explain %s says nothing of when it was blocked:\n%s", brief, out.String())
	}

	code, body = d.get(t, "/?at="+stamp)
	if code != http.StatusOK || !strings.Contains(string(body), "history, not live") || !strings.Contains(string(body), "node_down") {
		t.Errorf("status page at %s: %d, want the page of the past with node_down", stamp, code)
	}
}
