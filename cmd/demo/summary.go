package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/human"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// maxListed bounds the violations a summary line names.
const maxListed = 3

// printSummary prints one line about observerd's current snapshot.
func printSummary(ctx context.Context, observerd string, w io.Writer) {
	s, err := fetchSnapshot(ctx, observerd)
	switch {
	case err == nil:
		fmt.Fprintln(w, summaryLine(s))
	case ctx.Err() == nil:
		fmt.Fprintf(w, "%s  snapshot: %v\n", time.Now().Format(time.TimeOnly), err)
	}
}

func fetchSnapshot(ctx context.Context, base string) (*snapshot.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	body, err := get(ctx, http.DefaultClient, base+"/snapshot")
	if err != nil {
		return nil, err
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("decode /snapshot: %w", err)
	}
	return &s, nil
}

// summaryLine is one line a person can read at a glance.
func summaryLine(s *snapshot.Snapshot) string {
	up := 0
	var p99 snapshot.Duration
	for _, n := range s.Nodes {
		if n.Reachable {
			up++
		}
		if n.CheckLatencyP99.Valid && (!p99.Valid || n.CheckLatencyP99.Duration > p99.Duration) {
			p99 = n.CheckLatencyP99
		}
	}
	sources := ""
	for _, name := range source.All() {
		if st, ok := s.Sources[name]; ok && st.Status != snapshot.StatusOK {
			sources += fmt.Sprintf("  %s %s", name, st.Status)
		}
	}
	return fmt.Sprintf("%s  #%d  nodes %d/%d up  keys %d  in window %d  allowed %s/s  blocked %s/s  p99 %s ms  violations: %s%s",
		s.GeneratedAt.Local().Format(time.TimeOnly), s.Sequence, up, len(s.Nodes), s.Counters.Keys, s.Counters.RequestsInWindow,
		num(s.Traffic.AllowedPerSecond), num(s.Traffic.BlockedPerSecond), millis(p99), violations(s.Violations), sources)
}

// violations names the most severe of vs, at most maxListed of them, as
// "node_down node-2 (critical), over_limit hot (warning) +2 more".
func violations(vs []snapshot.Violation) string {
	if len(vs) == 0 {
		return "none"
	}
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, human.BySeverity)
	names := make([]string, 0, maxListed)
	for _, v := range sorted[:min(len(sorted), maxListed)] {
		name := v.Invariant
		if v.Subject != "" {
			name += " " + v.Subject
		}
		names = append(names, fmt.Sprintf("%s (%s)", name, v.Severity))
	}
	out := strings.Join(names, ", ")
	if more := len(vs) - maxListed; more > 0 {
		out += fmt.Sprintf(" +%d more", more)
	}
	return out
}

func num(f snapshot.Float) string {
	if !f.Valid() {
		return human.Unknown
	}
	return fmt.Sprintf("%.1f", float64(f))
}

// millis writes d in milliseconds, or "-" when unknown.
func millis(d snapshot.Duration) string {
	if !d.Valid {
		return human.Unknown
	}
	return fmt.Sprintf("%.1f", float64(d.Duration)/float64(time.Millisecond))
}
