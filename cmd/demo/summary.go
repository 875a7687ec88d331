package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// summarize prints one line about the current snapshot every interval
// until ctx ends.
func summarize(ctx context.Context, observerd string, every time.Duration, w io.Writer) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		s, err := fetchSnapshot(ctx, observerd)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fmt.Fprintf(w, "%s  snapshot: %v\n", time.Now().Format(time.TimeOnly), err)
		} else {
			fmt.Fprintln(w, summaryLine(s))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func fetchSnapshot(ctx context.Context, base string) (*snapshot.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/snapshot", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /snapshot: %s", resp.Status)
	}
	var s snapshot.Snapshot
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&s); err != nil {
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
	for _, name := range []string{source.Ratelimiter, source.Redis, source.Prometheus} {
		if st, ok := s.Sources[name]; ok && st.Status != snapshot.StatusOK {
			sources += fmt.Sprintf("  %s %s", name, st.Status)
		}
	}
	return fmt.Sprintf("%s  #%d  nodes %d/%d up  keys %d  in window %d  allowed %s/s  blocked %s/s  p99 %s ms  violations %d%s",
		s.GeneratedAt.Local().Format(time.TimeOnly), s.Sequence, up, len(s.Nodes), s.Counters.Keys, s.Counters.RequestsInWindow,
		num(s.Traffic.AllowedPerSecond), num(s.Traffic.BlockedPerSecond), millis(p99), len(s.Violations), sources)
}

func num(f snapshot.Float) string {
	if !f.Valid() {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(f))
}

// millis writes d in milliseconds, or "-" when unknown.
func millis(d snapshot.Duration) string {
	if !d.Valid {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d.Duration)/float64(time.Millisecond))
}
