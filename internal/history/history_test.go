package history

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/snapshot"
)

func TestHorizon(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	every(t, h, 2*1800, 2*time.Second, nil) // two hours
	k := h.Kept()
	last := t0.Add(2 * (2*1800 - 1) * time.Second)
	if k.Until != last || k.Since != last.Add(-time.Hour) || k.Summaries != 1801 {
		t.Errorf("kept %d from %s to %s, want 1801 from %s to %s", k.Summaries, k.Since, k.Until, last.Add(-time.Hour), last)
	}
	if k.Bytes > k.MaxBytes {
		t.Errorf("%d bytes kept, over the budget %d", k.Bytes, k.MaxBytes)
	}
	t.Logf("%d summaries, %d bytes, %d per summary", k.Summaries, k.Bytes, k.Bytes/k.Summaries)
}

func TestByteBudget(t *testing.T) {
	one := New(Config{Horizon: time.Hour})
	every(t, one, 1, time.Second, nil)
	per := one.Kept().Bytes

	h := New(Config{Horizon: time.Hour, MaxBytes: 10 * per})
	every(t, h, 100, time.Second, nil)
	k := h.Kept()
	if k.Bytes > 10*per+per/2 || k.Summaries < 9 || k.Summaries > 11 {
		t.Errorf("kept %d summaries of %d bytes under a budget of %d (about %d each)", k.Summaries, k.Bytes, 10*per, per)
	}
	if k.Until != t0.Add(99*time.Second) {
		t.Errorf("newest kept %s, want the last recorded", k.Until)
	}

	// A budget below one summary keeps the newest.
	tiny := New(Config{Horizon: time.Hour, MaxBytes: 1})
	every(t, tiny, 3, time.Second, nil)
	if k := tiny.Kept(); k.Summaries != 1 || k.Until != t0.Add(2*time.Second) {
		t.Errorf("tiny budget kept %d until %s, want the newest alone", k.Summaries, k.Until)
	}
}

func TestAt(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	every(t, h, 3, 10*time.Second, nil) // t0, +10s, +20s
	tests := []struct {
		give    time.Time
		wantSeq uint64 // 0: not kept
	}{
		{give: t0.Add(-time.Nanosecond)},
		{give: t0, wantSeq: 1},
		{give: t0.Add(9 * time.Second), wantSeq: 1},
		{give: t0.Add(10 * time.Second), wantSeq: 2},
		{give: t0.Add(20 * time.Second), wantSeq: 3},
		{give: t0.Add(time.Hour), wantSeq: 3},
	}
	for _, tt := range tests {
		got, err := h.At(tt.give)
		if tt.wantSeq == 0 {
			var nk *NotKeptError
			if !errors.As(err, &nk) || nk.Since != t0 || nk.Until != t0.Add(20*time.Second) {
				t.Errorf("At(%s) = %d, %v; want a NotKeptError with the kept range", tt.give, got.Sequence, err)
			}
			continue
		}
		if err != nil || got.Sequence != tt.wantSeq {
			t.Errorf("At(%s) = %d, %v; want %d", tt.give, got.Sequence, err, tt.wantSeq)
		}
	}

	var nk *NotKeptError
	if _, err := New(Config{Horizon: time.Hour}).At(t0); !errors.As(err, &nk) || !nk.Since.IsZero() || !strings.Contains(err.Error(), "no summary kept yet") {
		t.Errorf("empty history: %v", err)
	}
	for name, off := range map[string]*Store{"zero horizon": New(Config{}), "nil": nil} {
		if _, err := off.At(t0); !errors.Is(err, ErrOff) {
			t.Errorf("%s: At = %v, want ErrOff", name, err)
		}
		if _, _, err := off.Between(t0, t0, 0, 10); !errors.Is(err, ErrOff) {
			t.Errorf("%s: Between = %v, want ErrOff", name, err)
		}
		off.Offer(publish(t, snap(1, t0)))
		if err := off.Record(publish(t, snap(1, t0))); err != nil || off.Kept().Summaries != 0 {
			t.Errorf("%s: recorded %d", name, off.Kept().Summaries)
		}
	}
}

// TestRecordOrder: a snapshot not newer than the last is ignored; a wall
// clock stepping back does not unsort the summaries.
func TestRecordOrder(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	record(t, h, snap(5, t0))
	record(t, h, snap(5, t0.Add(time.Second)))
	record(t, h, snap(4, t0.Add(time.Second)))
	record(t, h, snap(6, t0.Add(-time.Minute)))
	if k := h.Kept(); k.Summaries != 2 || k.Until != t0 {
		t.Errorf("kept %d until %s, want 5 and 6 at t0", k.Summaries, k.Until)
	}
	if s, err := h.At(t0); err != nil || s.Sequence != 6 {
		t.Errorf("At(t0) = %d, %v; want 6", s.Sequence, err)
	}
}

func TestSummary(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	s := snap(7, t0)
	s.Counters.Top = []snapshot.TopKey{{Key: "a", Count: 3, Limit: 10, Remaining: 7}}
	s.Blocks = []snapshot.Block{{Key: "b", Count: 10, Limit: 10}}
	s.BlocksTotal = 1
	s.Violations = []snapshot.Violation{
		{Invariant: "node_down", Subject: "node-2", Severity: "critical", Message: "down", Evidence: []snapshot.Evidence{{Source: "node-2", At: t0, What: "reachable", Value: 0}}, Causes: []string{}},
		{Invariant: "hot_key", Subject: "a", Severity: "info", Message: "hot", Evidence: []snapshot.Evidence{}, Causes: []string{}},
	}
	s.Counters.NearLimitKeys = 1
	s.Counters.NearLimit = []snapshot.NearLimitKey{{Key: "c", Count: 9, Limit: 10}}
	p := publish(t, s)
	if err := h.Record(p); err != nil {
		t.Fatal(err)
	}
	got, err := h.At(t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.ETag != `"boot-7-h"` || got.Sequence != 7 || got.At != t0 {
		t.Errorf("summary %d at %s, ETag %s", got.Sequence, got.At, got.ETag)
	}
	doc, err := got.JSON()
	if err != nil {
		t.Fatal(err)
	}
	// The document is the published one but for the overrides.
	var want, have map[string]any
	_ = json.Unmarshal(p.JSON, &want)
	if err := json.Unmarshal(doc, &have); err != nil {
		t.Fatal(err)
	}
	want["limits"].(map[string]any)["overrides"] = []any{}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("summary document (-want +got):\n%s", diff)
	}
	decoded, err := got.Snapshot()
	if err != nil || decoded.Violations[0].Evidence[0].What != "reachable" {
		t.Errorf("decoded %+v, %v", decoded, err)
	}

	var pt map[string]any
	if err := json.Unmarshal(got.Point, &pt); err != nil {
		t.Fatal(err)
	}
	wantPoint := map[string]any{
		"generated_at": "2026-12-05T08:00:00Z", "sequence": 7.0,
		"sources": map[string]any{"redis": "ok", "ratelimiter": "ok"},
		"counters": map[string]any{"keys": 5.0, "requests_in_window": 7.0, "blocked_keys": 0.0, "over_limit_keys": 0.0,
			"keys_without_ttl": 0.0, "orphan_sequence_keys": 0.0, "keys_ttl_beyond_window": 0.0, "wrong_type_keys": 0.0,
			"walked_by": "", "walked_at": nil, "walk": nil, "near_limit_keys": 1.0, "near_limit_ratio": 0.0},
		"blocks_total": 1.0,
		"redis": map[string]any{"connected": true, "ping_ms": nil, "version": "7.0.15", "role": "", "used_memory_bytes": 0.0,
			"connected_clients": 0.0, "db_keys": 0.0},
		"traffic":    map[string]any{"allowed_per_second": 4.5, "blocked_per_second": nil},
		"nodes":      map[string]any{"known": 2.0, "reachable": 1.0},
		"violations": map[string]any{"critical": 1.0, "warning": 0.0, "info": 1.0},
	}
	if diff := cmp.Diff(wantPoint, pt); diff != "" {
		t.Errorf("point (-want +got):\n%s", diff)
	}
}

func TestBetween(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	every(t, h, 100, time.Second, nil) // seq 1..100 at t0+0s..99s
	seqs := func(ss []Summary) []uint64 {
		var out []uint64
		for _, s := range ss {
			out = append(out, s.Sequence)
		}
		return out
	}
	tests := []struct {
		name         string
		since, until time.Duration // from t0
		step         time.Duration
		max          int
		want         []uint64
		wantStep     time.Duration
	}{
		{name: "every one", since: 10 * time.Second, until: 14 * time.Second, max: 10, want: []uint64{11, 12, 13, 14, 15}},
		{name: "step", since: 10 * time.Second, until: 29 * time.Second, step: 5 * time.Second, max: 10, want: []uint64{11, 16, 21, 26}, wantStep: 5 * time.Second},
		{name: "step cut off the epoch", since: 12 * time.Second, until: 29 * time.Second, step: 5 * time.Second, max: 10, want: []uint64{13, 16, 21, 26}, wantStep: 5 * time.Second},
		// t0 is a multiple of 12 s from the epoch.
		{name: "too many: step raised", since: 0, until: 99 * time.Second, max: 10, want: []uint64{1, 13, 25, 37, 49, 61, 73, 85, 97}, wantStep: 12 * time.Second},
		{name: "too many for the step asked", since: 0, until: 99 * time.Second, step: 2 * time.Second, max: 10, want: []uint64{1, 13, 25, 37, 49, 61, 73, 85, 97}, wantStep: 12 * time.Second},
		{name: "step raised to whole seconds", since: 0, until: 2 * time.Second, max: 2, want: []uint64{1}, wantStep: 3 * time.Second},
		{name: "sub-second step raised to whole milliseconds", since: 0, until: 9 * time.Second, step: 10 * time.Millisecond, max: 50, want: []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, wantStep: 184 * time.Millisecond},
		{name: "before the history", since: -time.Hour, until: time.Second, max: 10, want: []uint64{1, 2}},
		{name: "nothing in range", since: 200 * time.Second, until: 300 * time.Second, max: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, step, err := h.Between(t0.Add(tt.since), t0.Add(tt.until), tt.step, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(seqs(got), tt.want) || len(got) > tt.max {
				t.Errorf("got %v, want %v", seqs(got), tt.want)
			}
			if tt.wantStep != 0 && step != tt.wantStep {
				t.Errorf("step %s, want %s", step, tt.wantStep)
			}
		})
	}
}

// TestOfferRun: snapshots published faster than Run records them are all
// recorded, in order.
func TestOfferRun(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	for i := range queueLen {
		h.Offer(publish(t, snap(uint64(i+1), t0.Add(time.Duration(i)*time.Millisecond))))
	}
	h.Offer(publish(t, snap(queueLen+1, t0.Add(time.Second))))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for h.Kept().Summaries < queueLen && time.Now().Before(deadline) {
		select {
		case <-time.After(time.Millisecond):
		case err := <-done:
			t.Fatalf("Run returned %v", err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if k := h.Kept(); k.Summaries != queueLen || k.Dropped != 1 {
		t.Errorf("kept %d, dropped %d; want %d and 1", k.Summaries, k.Dropped, queueLen)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		give    string
		want    time.Time
		wantErr string
	}{
		{give: "-20m", want: now.Add(-20 * time.Minute)},
		{give: "-90s", want: now.Add(-90 * time.Second)},
		{give: "now", want: now},
		{give: "2026-12-05T08:30:00Z", want: now.Add(-30 * time.Minute)},
		{give: "2026-12-05T09:30:00.5+01:00", want: now.Add(-30*time.Minute + 500*time.Millisecond)},
		{give: "2026-12-05T09:30:00 01:00", want: now.Add(-30 * time.Minute)},
		{give: "", wantErr: "empty"},
		{give: "20m", wantErr: `"20m" is ahead of now`},
		{give: "-20x", wantErr: `"-20x" is not a duration`},
		{give: "yesterday", wantErr: "neither an RFC 3339 time"},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.give, now)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTime(%q) = %s, %v; want an error with %q", tt.give, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %s, %v; want %s", tt.give, got, err, tt.want)
		}
	}
}
