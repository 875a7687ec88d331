package statuspage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// v is a violation of the history tests.
func v(invariant, subject, severity string) snapshot.Violation {
	return snapshot.Violation{Invariant: invariant, Subject: subject, Severity: severity, Message: invariant + " " + subject, FirstSeen: t0}
}

// change is an event as the tests write it.
type change struct {
	raised             bool
	invariant, subject string
	at                 time.Duration // after t0
}

func changes(rec recorded) []change {
	var out []change
	for _, e := range rec.Events {
		out = append(out, change{e.Raised, e.Violation.Invariant, e.Violation.Subject, e.At.Sub(t0)})
	}
	return out
}

// TestHistoryDiffsTheActiveSet: each snapshot's violations are compared
// with the last one's by invariant and subject: new ones are raised, gone
// ones cleared, the newest first.
func TestHistoryDiffsTheActiveSet(t *testing.T) {
	nodeDown, overLimit, otherKey := v("node_down", "node-2", "critical"), v("over_limit", "hot", "warning"), v("over_limit", "cold", "warning")
	moved := overLimit
	moved.Severity, moved.Message = "critical", "now critical"
	give := [][]snapshot.Violation{
		{},
		{overLimit},
		{overLimit, nodeDown},
		{moved, nodeDown}, // same key, other severity and message: no change
		{nodeDown, otherKey},
		{},
	}
	want := []change{
		{false, "node_down", "node-2", 5 * time.Second},
		{false, "over_limit", "cold", 5 * time.Second},
		// One snapshot's events by severity: hot was critical at last.
		{false, "over_limit", "hot", 4 * time.Second},
		{true, "over_limit", "cold", 4 * time.Second},
		{true, "node_down", "node-2", 2 * time.Second},
		{true, "over_limit", "hot", time.Second},
	}
	f := newFixture(t)
	h := newHistory(newHistoryConfig(Options{}))
	for _, vs := range give {
		f.judge(vs, nil)
		h.observe(f.publish().Snapshot)
		f.clock.Add(time.Second)
	}
	rec := h.copy()
	if diff := cmp.Diff(want, changes(rec), cmp.AllowUnexported(change{})); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if cleared := rec.Events[2]; cleared.Violation.Message != "now critical" {
		t.Errorf("the clear of over_limit{hot} shows %q, want the message it last had", cleared.Violation.Message)
	}
	if rec.Dropped != 0 || !rec.Started.Equal(t0) {
		t.Errorf("dropped %d, started %s", rec.Dropped, rec.Started)
	}
}

// TestHistoryIgnoresSeenSnapshots: Run and ServeHTTP both feed the
// history; a snapshot seen already, or older, changes nothing.
func TestHistoryIgnoresSeenSnapshots(t *testing.T) {
	f := newFixture(t)
	h := newHistory(newHistoryConfig(Options{}))
	f.judge([]snapshot.Violation{v("node_down", "a", "critical")}, nil)
	old := f.publish()
	f.judge(nil, nil)
	cur := f.publish()
	for _, p := range []*snapshot.Published{cur, cur, old, cur} {
		h.observe(p.Snapshot)
	}
	if rec := h.copy(); len(rec.Events) != 0 || len(rec.Trend) != 1 {
		t.Errorf("events %v, %d samples: want none and one", changes(rec), len(rec.Trend))
	}
}

// TestHistoryBounds: the timeline keeps at most its window and its number
// of entries, and counts what it dropped.
func TestHistoryBounds(t *testing.T) {
	tests := []struct {
		name        string
		opts        Options
		flips       int // snapshots, each raising or clearing one violation
		step        time.Duration
		wantEvents  int
		wantDropped int
	}{
		{name: "within bounds", opts: Options{TimelineMax: 10, TimelineWindow: time.Hour}, flips: 10, step: time.Minute, wantEvents: 10},
		{name: "over the count", opts: Options{TimelineMax: 10, TimelineWindow: time.Hour}, flips: 25, step: time.Second, wantEvents: 10, wantDropped: 15},
		// 25 events a minute apart: those older than 10 minutes go.
		{name: "over the window", opts: Options{TimelineMax: 100, TimelineWindow: 10 * time.Minute}, flips: 25, step: time.Minute, wantEvents: 11, wantDropped: 14},
		{name: "defaults", flips: 600, step: time.Second, wantEvents: defaultTimelineMax, wantDropped: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			h := newHistory(newHistoryConfig(tt.opts))
			for i := range tt.flips {
				var vs []snapshot.Violation
				if i%2 == 0 {
					vs = []snapshot.Violation{v("over_limit", "k", "warning")}
				}
				f.judge(vs, nil)
				h.observe(f.publish().Snapshot)
				f.clock.Add(tt.step)
			}
			rec := h.copy()
			if len(rec.Events) != tt.wantEvents || rec.Dropped != tt.wantDropped {
				t.Errorf("%d events, %d dropped; want %d and %d", len(rec.Events), rec.Dropped, tt.wantEvents, tt.wantDropped)
			}
			newest := rec.Events[0].At
			for _, e := range rec.Events {
				if window := newHistoryConfig(tt.opts).timelineWindow; newest.Sub(e.At) > window {
					t.Errorf("event at %s kept, %s before the newest: over the window %s", e.At, newest.Sub(e.At), window)
				}
			}
		})
	}
}

// TestTrendBounds: the trend keeps one sample per step at most and none
// older than its window.
func TestTrendBounds(t *testing.T) {
	tests := []struct {
		name        string
		opts        Options
		snapshots   int
		every       time.Duration
		wantSamples int
	}{
		// 10 points over 10 s: one a second.
		{name: "faster than a step", opts: Options{TrendWindow: 10 * time.Second, TrendPoints: 10}, snapshots: 50, every: 100 * time.Millisecond, wantSamples: 5},
		{name: "over the window", opts: Options{TrendWindow: 10 * time.Second, TrendPoints: 10}, snapshots: 60, every: time.Second, wantSamples: 10},
		{name: "slower than the window", opts: Options{TrendWindow: 10 * time.Second, TrendPoints: 10}, snapshots: 5, every: time.Minute, wantSamples: 1},
		{name: "defaults", snapshots: 400, every: 3 * time.Second, wantSamples: defaultTrendPoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			h := newHistory(newHistoryConfig(tt.opts))
			for range tt.snapshots {
				h.observe(f.publish().Snapshot)
				f.clock.Add(tt.every)
			}
			rec := h.copy()
			if len(rec.Trend) != tt.wantSamples {
				t.Errorf("%d samples, want %d", len(rec.Trend), tt.wantSamples)
			}
			cfg := newHistoryConfig(tt.opts)
			last := rec.Trend[len(rec.Trend)-1].At
			for i, s := range rec.Trend {
				if last.Sub(s.At) > cfg.trendWindow {
					t.Errorf("sample at %s is %s before the newest: over the window", s.At, last.Sub(s.At))
				}
				if i > 0 && s.At.Sub(rec.Trend[i-1].At) < cfg.trendStep {
					t.Errorf("samples %s and %s closer than a step", rec.Trend[i-1].At, s.At)
				}
			}
		})
	}
}

// TestRunFollowsTheStore: Run records every snapshot the store publishes
// while it runs, and returns nil once its context ends.
func TestRunFollowsTheStore(t *testing.T) {
	f := newFixture(t)
	p := newTestPage(f, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for i := range 5 {
		f.judge([]snapshot.Violation{v("over_limit", fmt.Sprint("k", i), "warning")}, nil)
		f.publish()
		f.clock.Add(time.Second)
		// Only Run feeds the history here: no page is rendered.
		testenv.WaitFor(t, 5*time.Second, "Run records the snapshot", func() error {
			if n := len(p.hist.copy().Events); n != 2*i+1 {
				return fmt.Errorf("%d events", n)
			}
			return nil
		})
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
}

// TestRunWithoutStore: a page without a store waits, and returns on
// cancel.
func TestRunWithoutStore(t *testing.T) {
	p := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Run(ctx); err != nil {
		t.Errorf("Run = %v", err)
	}
	if w := get(t, p); w.Code != 200 {
		t.Errorf("GET / without a store = %d, want the waiting page", w.Code)
	}
}
