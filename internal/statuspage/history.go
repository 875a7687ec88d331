package statuspage

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/observerd/observerd/internal/human"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// Defaults of the history's bounds.
const (
	defaultTimelineWindow = time.Hour
	defaultTimelineMax    = 500
	defaultTrendWindow    = 15 * time.Minute
	defaultTrendPoints    = 300
)

// vkey names one violation: an invariant and its subject.
type vkey struct{ invariant, subject string }

func keyOf(v snapshot.Violation) vkey { return vkey{v.Invariant, v.Subject} }

// event is a violation raised or cleared, as of the snapshot that first
// showed the change.
type event struct {
	At     time.Time
	Raised bool
	// Violation is the violation as the raising snapshot had it, or, for
	// a clear, as the last snapshot that still had it.
	Violation snapshot.Violation
}

// sample is one point of the trend.
type sample struct {
	At               time.Time
	Allowed, Blocked snapshot.Float
	Keys             int64
	KeysKnown        bool // the Redis source has answered once at least
}

// historyConfig bounds what a history keeps.
type historyConfig struct {
	timelineWindow time.Duration
	timelineMax    int
	trendWindow    time.Duration
	trendStep      time.Duration // the least time between two samples
	trendPoints    int
}

func newHistoryConfig(o Options) historyConfig {
	c := historyConfig{
		timelineWindow: positive(o.TimelineWindow, defaultTimelineWindow),
		timelineMax:    positive(o.TimelineMax, defaultTimelineMax),
		trendWindow:    positive(o.TrendWindow, defaultTrendWindow),
		trendPoints:    positive(o.TrendPoints, defaultTrendPoints),
	}
	c.trendStep = c.trendWindow / time.Duration(c.trendPoints)
	return c
}

// positive is v, or def unless v is above zero.
func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// history is what the page remembers of past snapshots: the violations
// raised and cleared, and a trend of the traffic and the counter keys. It
// is fed every snapshot in sequence order; one it has seen, or older, is
// ignored, so that Run and ServeHTTP may both feed it.
type history struct {
	cfg historyConfig

	mu      sync.Mutex // guards everything below
	seen    bool
	seq     uint64    // the last snapshot observed
	started time.Time // when the first snapshot observed was generated
	active  map[vkey]snapshot.Violation
	events  []event  // oldest first, at most timelineMax
	dropped int      // events dropped, for age or for room
	trend   []sample // oldest first, at most trendPoints
}

func newHistory(cfg historyConfig) *history {
	return &history{cfg: cfg, active: map[vkey]snapshot.Violation{}}
}

// observe records s unless a snapshot as new was observed already.
func (h *history) observe(s *snapshot.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen && s.Sequence <= h.seq {
		return
	}
	if !h.seen {
		h.started = s.GeneratedAt
	}
	h.seen, h.seq = true, s.Sequence
	h.diff(s)
	var n int
	h.events, n = trim(h.events, s.GeneratedAt.Add(-h.cfg.timelineWindow), h.cfg.timelineMax)
	h.dropped += n
	h.sample(s)
}

// diff records the violations of s raised since the last snapshot, in the
// snapshot's order, then those cleared, in key order.
func (h *history) diff(s *snapshot.Snapshot) {
	next := make(map[vkey]snapshot.Violation, len(s.Violations))
	for _, v := range s.Violations {
		k := keyOf(v)
		if _, dup := next[k]; dup {
			continue
		}
		next[k] = v
		if _, ok := h.active[k]; !ok {
			h.events = append(h.events, event{At: s.GeneratedAt, Raised: true, Violation: v})
		}
	}
	var cleared []snapshot.Violation
	for k, v := range h.active {
		if _, ok := next[k]; !ok {
			cleared = append(cleared, v)
		}
	}
	slices.SortFunc(cleared, func(a, b snapshot.Violation) int {
		return cmp.Or(cmp.Compare(a.Invariant, b.Invariant), cmp.Compare(a.Subject, b.Subject))
	})
	for _, v := range cleared {
		h.events = append(h.events, event{At: s.GeneratedAt, Violation: v})
	}
	h.active = next
}

// sample adds s to the trend unless the last sample is younger than one
// step, and forgets samples older than the trend's window.
func (h *history) sample(s *snapshot.Snapshot) {
	if n := len(h.trend); n > 0 && s.GeneratedAt.Sub(h.trend[n-1].At) < h.cfg.trendStep {
		return
	}
	redis, ok := s.Sources[source.Redis]
	h.trend = append(h.trend, sample{
		At:        s.GeneratedAt,
		Allowed:   s.Traffic.AllowedPerSecond,
		Blocked:   s.Traffic.BlockedPerSecond,
		Keys:      s.Counters.Keys,
		KeysKnown: ok && redis.LastSuccess != nil,
	})
	h.trend, _ = trim(h.trend, s.GeneratedAt.Add(-h.cfg.trendWindow), h.cfg.trendPoints)
}

// timed is what trim keeps in time order.
type timed interface{ at() time.Time }

func (e event) at() time.Time  { return e.At }
func (s sample) at() time.Time { return s.At }

// trim drops the oldest elements of s, oldest first, beyond limit and
// before since, and returns the rest and how many it dropped.
func trim[T timed](s []T, since time.Time, limit int) ([]T, int) {
	n := max(0, len(s)-limit)
	for n < len(s) && s[n].at().Before(since) {
		n++
	}
	return slices.Delete(s, 0, n), n
}

// recorded is a copy of what a history holds, for one render.
type recorded struct {
	Started time.Time
	Events  []event // newest first
	Dropped int
	Trend   []sample // oldest first
}

func (h *history) copy() recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	events := slices.Clone(h.events)
	// Newest first; the events of one snapshot by severity.
	slices.Reverse(events)
	slices.SortStableFunc(events, func(a, b event) int {
		return cmp.Or(b.At.Compare(a.At), human.BySeverity(a.Violation, b.Violation))
	})
	return recorded{Started: h.started, Events: events, Dropped: h.dropped, Trend: slices.Clone(h.trend)}
}
