package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSpreadJudge(t *testing.T) {
	a := spread{p99s: []time.Duration{3 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond}}
	tests := []struct {
		name string
		give time.Duration
		want string
	}{
		{"below the range", time.Millisecond, "within noise"},
		{"lowest", 3 * time.Millisecond, "within noise"},
		{"highest", 5 * time.Millisecond, "within noise"},
		{"above the range, under 1.1x the median", 4400 * time.Microsecond, "within noise"},
		{"just above the range", 5001 * time.Microsecond, "BEYOND NOISE"},
		{"far above", 15 * time.Millisecond, "BEYOND NOISE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.judge(tt.give); got != tt.want {
				t.Errorf("judge(%s) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
	// A tight range: 1.1x the median reaches past the highest.
	tight := spread{p99s: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}}
	if got := tight.judge(11 * time.Millisecond); got != "within noise" {
		t.Errorf("judge(11ms) of a tight spread = %q, want within noise", got)
	}
}

// walkAt is a snapshot of walker's walk that began at sec seconds.
func walkAt(walker string, sec int, took time.Duration, share float64) walkView {
	var v walkView
	at := time.Unix(int64(sec), 0)
	v.Counters.WalkedBy, v.Counters.WalkedAt = walker, &at
	v.Counters.Walk = &walkFigures{DurationMS: float64(took) / float64(time.Millisecond), RedisShare: share, Budget: 0.15, PacedBy: "budget"}
	return v
}

func TestWalkWindows(t *testing.T) {
	// Redis's walk time at each new walk seen, in µs.
	usecs := []int64{1000, 151_000, 301_000}
	calls := 0
	usec := func() (int64, error) {
		calls++
		return usecs[calls-1], nil
	}
	views := []walkView{
		walkAt("obs-1", 0, time.Second, 0.15), // the walk before the watch: no window yet
		walkAt("obs-1", 5, time.Second, 0.15), // opens the first window
		walkAt("obs-1", 5, time.Second, 0.15), // the same walk again
		walkAt("obs-1", 10, time.Second, 0.14),
		walkAt("obs-1", 15, 1200*time.Millisecond, 0.12),
	}
	w := walkWindows{walker: "obs-1", last: views[0].Counters.WalkedAt}
	s := &walkShare{}
	for i, v := range views {
		if err := w.see(v, usec, s); err != nil {
			t.Fatalf("see(%d): %v", i, err)
		}
	}
	got, _ := s.result()
	if got.walks != 2 || got.usec != 300_000 || got.took != 2200*time.Millisecond {
		t.Errorf("walks %d, usec %d, took %s; want 2, 300000, 2.2s", got.walks, got.usec, got.took)
	}
	if calls != 3 {
		t.Errorf("Redis read %d times, want once a new walk: 3", calls)
	}
	if err := w.see(walkAt("obs-2", 20, time.Second, 0.15), usec, s); err == nil {
		t.Error("a walk by another observer was taken into the windows")
	}
	if err := w.see(walkAt("obs-1", 22, 0, 0.15), usec, s); err == nil {
		t.Error("a walk without a duration was taken into the windows")
	}
	bare := walkAt("obs-1", 25, time.Second, 0.15)
	bare.Counters.Walk = nil
	if err := w.see(bare, usec, s); !errors.Is(err, errNoWalkFigures) {
		t.Errorf("a walk without counters.walk: %v, want errNoWalkFigures", err)
	}
}

func TestWalkShareRow(t *testing.T) {
	tests := []struct {
		name string
		give walkTotals
		err  error
		want []string // in the row's value, baseline, ratio and notes
	}{
		{
			name: "within the budget",
			give: walkTotals{walks: 2, usec: 300_000, took: 2 * time.Second, reported: 0.28, budgets: []float64{0.15}, pacedBy: []string{"budget"}},
			want: []string{"0.150", "0.150 budget", "1.00x of the budget, within the budget", "redis_share 0.140", "paced_by budget"},
		},
		{
			name: "over the budget",
			give: walkTotals{walks: 1, usec: 400_000, took: 2 * time.Second, reported: 0.3, budgets: []float64{0.15}, pacedBy: []string{"budget"}},
			want: []string{"0.200", "1.33x of the budget, OVER THE BUDGET"},
		},
		{
			name: "no whole walk",
			give: walkTotals{},
			want: []string{"not measured", "no whole walk"},
		},
		{
			name: "no walk figures",
			err:  errNoWalkFigures,
			want: []string{"not measured", "has no counters.walk"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &bench{t: &table{}, s: quickSettings()}
			b.walkShareRow(100_000, tt.give, tt.err)
			if len(b.t.rows) != 1 {
				t.Fatalf("%d rows, want 1", len(b.t.rows))
			}
			r := b.t.rows[0]
			got := strings.Join([]string{r.value, r.baseline, r.ratio, r.notes}, " | ")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("row %q lacks %q", got, w)
				}
			}
		})
	}
}
