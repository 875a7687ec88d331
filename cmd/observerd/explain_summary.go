package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/explain"
	"github.com/observerd/observerd/internal/human"
)

// writeExplanation writes x for a human.
func writeExplanation(w io.Writer, x *explain.Explanation) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	writeFigures(p, x)
	writeSpread(p, x)
	writeNodeViews(p, x)
	writeHistory(p, x)
	for _, n := range x.Notes {
		p("  note: %s", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// millis writes milliseconds as a duration.
func millis(v int64) string { return (time.Duration(v) * time.Millisecond).String() }

// writeFigures writes what Redis says of the key now: its count against
// its limit, when its next check passes, its TTL, :seq and entries.
func writeFigures(p func(string, ...any), x *explain.Explanation) {
	p("key %s (read at %s, Redis's clock)", x.Key, x.At.Format(time.RFC3339Nano))
	if !x.Exists {
		p("  does not exist in Redis")
	}
	src := x.LimitSource
	if src == explain.SourceDefault {
		src += ", defaults from " + x.DefaultsFrom
	}
	p("  count %d / limit %d (%s), window %s (%s), remaining %d", x.Count, x.Limit, src, millis(x.WindowMs), x.WindowSource, x.Remaining)
	switch {
	case x.AllowedNext:
		p("  next check: allowed")
	case x.RetryAt != nil:
		p("  next check: blocked; allowed from %s (in %s)", x.RetryAt.Format(time.RFC3339Nano), millis(*x.RetryAfterMs))
	default:
		p("  next check: blocked; no time known when it passes")
	}
	if x.ServiceRetryAfterSeconds != nil {
		p("  the service answers retry_after_seconds %d", *x.ServiceRetryAfterSeconds)
	}
	switch {
	case x.TTLMs == nil:
		p("  TTL: none (no key)")
	case *x.TTLMs < 0:
		p("  TTL: none, the key never expires")
	default:
		fit := "fits its window"
		if !*x.TTLFitsWindow {
			fit = "outlives its window (ceiling " + millis(x.TTLCeilingMs) + ")"
		}
		p("  TTL %s, %s", millis(*x.TTLMs), fit)
	}
	if x.AllowedTotal != nil {
		p("  allowed ever (:seq) %d", *x.AllowedTotal)
	} else {
		p("  allowed ever (:seq): no sequence key")
	}
	p("  entries: %d stored, %d before the window, %d more than %s in the future", x.EntriesTotal, x.EntriesBeforeWindow, x.FutureEntries, millis(x.FutureAfterMs))
}

// writeSpread writes the in-window entries of each slice of the window as
// a bar.
func writeSpread(p func(string, ...any), x *explain.Explanation) {
	var top int64
	for _, s := range x.Spread {
		top = max(top, s.Entries)
	}
	p("  spread over the window:")
	for _, s := range x.Spread {
		p("    %8s … %-8s %7d %s", millis(s.FromMs), millis(s.ToMs), s.Entries, human.Bar(s.Entries, top, 40))
	}
}

// writeNodeViews writes each node's view of the key.
func writeNodeViews(p func(string, ...any), x *explain.Explanation) {
	p("  nodes:")
	if len(x.Nodes) == 0 {
		p("    none asked")
	}
	for _, n := range x.Nodes {
		switch {
		case n.Error != "":
			p("    %s: no answer: %s", n.Node, n.Error)
		case n.Count == nil:
			p("    %s: %s", n.Node, n.Note)
		default:
			p("    %s: count %d, limit %d, drift %+d", n.Node, *n.Count, *n.Limit, *n.Drift)
		}
	}
}

// writeHistory writes when observerd saw the key blocked, over or near its
// limit, or named in a violation.
func writeHistory(p func(string, ...any), x *explain.Explanation) {
	p("  history:")
	if x.HistoryError != "" {
		p("    %s", x.HistoryError)
	} else if len(x.History) == 0 {
		p("    nothing remembered of this key since %s", formatSince(x.HistorySince))
	}
	for _, e := range x.History {
		p("    %s from %s to %s (%s ago): %s", e.State, e.At.Format(time.RFC3339), e.Until.Format(time.RFC3339), x.At.Sub(e.Until).Round(time.Second), e.Detail)
	}
}

func formatSince(t *time.Time) string {
	if t == nil {
		return "observerd started"
	}
	return t.Format(time.RFC3339)
}
