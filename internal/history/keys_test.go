package history

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/snapshot"
)

func TestKeyEvents(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 2 * time.Second) }
	// Snapshots 0..7: k blocked in 0-2 and 4 (a gap at 3), over its limit
	// by the over_limit violation in 1-2; named by counter_without_ttl in
	// 2-5 and by ttl_beyond_window in 5; near its limit in 6-7. node-2,
	// the subject of node_down, is a node, not a key.
	for i := range 8 {
		s := snap(uint64(i+1), at(i))
		if i <= 2 || i == 4 {
			s.Blocks = []snapshot.Block{{Key: "k", Count: int64(10 + i), Limit: 10}}
		}
		if i == 1 || i == 2 {
			s.Violations = append(s.Violations, snapshot.Violation{Invariant: "over_limit", Subject: "k", Severity: "warning", Message: fmt.Sprintf("key k has %d requests", 10+i)})
		}
		if i >= 2 && i <= 5 {
			s.Violations = append(s.Violations, snapshot.Violation{Invariant: "counter_without_ttl", Subject: "k", Severity: "warning", Message: "counter k has no TTL"})
		}
		if i == 5 {
			s.Violations = append(s.Violations, snapshot.Violation{Invariant: "ttl_beyond_window", Subject: "k", Severity: "warning", Message: "TTL 90s"})
		}
		s.Violations = append(s.Violations, snapshot.Violation{Invariant: "node_down", Subject: "node-2", Severity: "critical", Message: "down"})
		if i >= 6 {
			s.Counters.NearLimit = []snapshot.NearLimitKey{{Key: "k", Count: 8, Limit: 10}}
		}
		if err := h.Record(publish(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	got, since := h.KeyEvents("k")
	want := []snapshot.KeyEvent{
		{At: at(6), Until: at(7), State: snapshot.KeyNearLimit, Detail: "count 8 of limit 10 (80%)"},
		{At: at(5), Until: at(5), State: snapshot.KeyViolation, Detail: "ttl_beyond_window: TTL 90s"},
		{At: at(2), Until: at(5), State: snapshot.KeyViolation, Detail: "counter_without_ttl: counter k has no TTL"},
		{At: at(4), Until: at(4), State: snapshot.KeyBlocked, Detail: "count 14 of limit 10"},
		{At: at(4), Until: at(4), State: snapshot.KeyOverLimit, Detail: "count 14 over limit 10"},
		{At: at(1), Until: at(2), State: snapshot.KeyOverLimit, Detail: "key k has 12 requests"},
		{At: at(0), Until: at(2), State: snapshot.KeyBlocked, Detail: "count 12 of limit 10"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of k (-want +got):\n%s", diff)
	}
	if since != t0 {
		t.Errorf("since %s, want %s", since, t0)
	}
	if got, _ := h.KeyEvents("node-2"); len(got) != 0 {
		t.Errorf("node-2, a node, has key events %+v", got)
	}
	if got, _ := h.KeyEvents("absent"); len(got) != 0 {
		t.Errorf("a key never seen has events %+v", got)
	}
	if got, since := New(Config{}).KeyEvents("k"); got != nil || !since.IsZero() {
		t.Errorf("history off: %v since %s", got, since)
	}
}

// TestKeyEventsTop: a top key at its limit is blocked, over it over its
// limit, below it nothing.
func TestKeyEventsTop(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	s := snap(1, t0)
	s.Counters.Top = []snapshot.TopKey{{Key: "at", Count: 10, Limit: 10}, {Key: "over", Count: 11, Limit: 10}, {Key: "below", Count: 9, Limit: 10}, {Key: "unlimited", Count: 9}}
	record(t, h, s)
	for key, want := range map[string][]string{"at": {"blocked"}, "over": {"blocked", "over_limit"}, "below": nil, "unlimited": nil} {
		events, _ := h.KeyEvents(key)
		var states []string
		for _, e := range events {
			states = append(states, e.State)
		}
		if !cmp.Equal(states, want) {
			t.Errorf("%s: states %v, want %v", key, states, want)
		}
	}
}

// TestKeyEventsHorizon: stretches that ended before the oldest kept
// summary are forgotten.
func TestKeyEventsHorizon(t *testing.T) {
	h := New(Config{Horizon: time.Minute})
	every(t, h, 120, time.Second, func(i int, s *snapshot.Snapshot) {
		if i < 10 {
			s.Blocks = []snapshot.Block{{Key: "early", Count: 10, Limit: 10}}
		}
		if i >= 100 {
			s.Blocks = []snapshot.Block{{Key: "late", Count: 10, Limit: 10}}
		}
	})
	if got, _ := h.KeyEvents("early"); len(got) != 0 {
		t.Errorf("a stretch older than the horizon is kept: %+v", got)
	}
	if got, since := h.KeyEvents("late"); len(got) != 1 || since != t0.Add(59*time.Second) {
		t.Errorf("late: %+v since %s", got, since)
	}
	if k := h.Kept(); k.Keys != 1 || k.Runs != 1 {
		t.Errorf("index holds %d keys, %d runs; want 1 and 1", k.Keys, k.Runs)
	}
}

func TestKeyIndexBounds(t *testing.T) {
	t.Run("keys", func(t *testing.T) {
		h := New(Config{Horizon: time.Hour, MaxKeys: 100})
		every(t, h, 50, time.Second, func(i int, s *snapshot.Snapshot) {
			for j := range 10 {
				s.Blocks = append(s.Blocks, snapshot.Block{Key: fmt.Sprintf("k%d-%d", i, j), Count: 10, Limit: 10})
			}
		})
		if k := h.Kept(); k.Keys > 100 {
			t.Errorf("%d keys kept, bound 100", k.Keys)
		}
		if got, _ := h.KeyEvents("k49-0"); len(got) != 1 {
			t.Error("the newest key was forgotten")
		}
		if got, _ := h.KeyEvents("k0-0"); len(got) != 0 {
			t.Error("the oldest key is kept past the bound")
		}
	})
	t.Run("runs", func(t *testing.T) {
		h := New(Config{Horizon: time.Hour, MaxRuns: 100})
		// Each key flaps: a new stretch every other snapshot.
		every(t, h, 200, time.Second, func(i int, s *snapshot.Snapshot) {
			if i%2 == 0 {
				for j := range 5 {
					s.Blocks = append(s.Blocks, snapshot.Block{Key: fmt.Sprintf("k%d", j), Count: 10, Limit: 10})
				}
			}
		})
		if k := h.Kept(); k.Runs > 100 {
			t.Errorf("%d runs kept, bound 100", k.Runs)
		}
		// The keys marked longest ago go first: k0 of each snapshot.
		got, _ := h.KeyEvents("k4")
		if len(got) == 0 || got[0].At != t0.Add(198*time.Second) {
			t.Errorf("the newest stretch was forgotten: %+v", got)
		}
	})
	t.Run("runs per key", func(t *testing.T) {
		h := New(Config{Horizon: time.Hour})
		every(t, h, 200, time.Second, func(i int, s *snapshot.Snapshot) {
			if i%2 == 0 {
				s.Blocks = []snapshot.Block{{Key: "flap", Count: 10, Limit: 10}}
			}
		})
		if got, _ := h.KeyEvents("flap"); len(got) != maxRunsPerKey || got[0].At != t0.Add(198*time.Second) {
			t.Errorf("%d stretches kept, newest at %s; want %d, the newest at +198s", len(got), got[0].At, maxRunsPerKey)
		}
	})
	t.Run("detail", func(t *testing.T) {
		h := New(Config{Horizon: time.Hour})
		s := snap(1, t0)
		s.Violations = []snapshot.Violation{{Invariant: "hot_key", Subject: "k", Severity: "info", Message: strings.Repeat("é", 500)}}
		record(t, h, s)
		got, _ := h.KeyEvents("k")
		if len(got) != 1 || len(got[0].Detail) > maxDetailBytes || !strings.HasSuffix(got[0].Detail, "é…") {
			t.Errorf("detail of %d bytes: %q", len(got[0].Detail), got[0].Detail)
		}
	})
}

// TestKeyBlockedTenMinutesAgo is a key blocked once, then ten minutes of
// snapshots at a 2 s interval without it: the hour kept still says when.
func TestKeyBlockedTenMinutesAgo(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	every(t, h, 1+300, 2*time.Second, func(i int, s *snapshot.Snapshot) {
		if i == 0 {
			s.Blocks = []snapshot.Block{{Key: "k", Count: 10, Limit: 10}}
			s.BlocksTotal = 1
		}
	})
	got, since := h.KeyEvents("k")
	want := []snapshot.KeyEvent{{At: t0, Until: t0, State: snapshot.KeyBlocked, Detail: "count 10 of limit 10"}}
	if diff := cmp.Diff(want, got); diff != "" || !since.Equal(t0) {
		t.Errorf("events of k since %v (-want +got):\n%s", since, diff)
	}
}

// TestKeyBlockedOnlyInNearLimit: the blocks list keeps the keys with the
// highest counts, the near-limit list those nearest their own limit, so
// a key at a small limit of its own may be in the second only. It was
// blocked all the same.
func TestKeyBlockedOnlyInNearLimit(t *testing.T) {
	h := New(Config{Horizon: time.Hour})
	every(t, h, 1, 2*time.Second, func(i int, s *snapshot.Snapshot) {
		s.Counters.NearLimit = []snapshot.NearLimitKey{{Key: "zero", Count: 0, Limit: 0}, {Key: "small", Count: 5, Limit: 5}, {Key: "near", Count: 8, Limit: 10}}
	})
	for key, want := range map[string]string{"zero": snapshot.KeyBlocked, "small": snapshot.KeyBlocked, "near": snapshot.KeyNearLimit} {
		got, _ := h.KeyEvents(key)
		if len(got) != 1 || got[0].State != want {
			t.Errorf("events of %s: %+v, want one %s", key, got, want)
		}
	}
}
