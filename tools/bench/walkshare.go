package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// walkCommands are the commands of a walk, whose Redis time its share
// is of.
var walkCommands = []string{"scan", "zcount", "pttl"}

// errNoWalkFigures is a /snapshot without counters.walk: an observerd
// from before the walk budget.
var errNoWalkFigures = errors.New("observerd's /snapshot has no counters.walk (its duration_ms, redis_share and budget come with " + budgetVar + "): rebuild observerd from a tree with the walk budget")

// walkFigures is counters.walk of /snapshot: the last walk as observerd
// saw it. A null reads as zero: a walk of unknown duration is refused,
// and a walk paced by keys per second has no budget.
type walkFigures struct {
	DurationMS      float64 `json:"duration_ms"`
	KeysPerSecond   float64 `json:"keys_per_second"`
	RedisShare      float64 `json:"redis_share"`
	ShareMeasuredBy string  `json:"share_measured_by"`
	Budget          float64 `json:"budget"`
	PacedBy         string  `json:"paced_by"`
}

// walkView is what the bench reads of /snapshot.
type walkView struct {
	Counters struct {
		WalkedBy string       `json:"walked_by"`
		WalkedAt *time.Time   `json:"walked_at"`
		Walk     *walkFigures `json:"walk"`
	} `json:"counters"`
}

// walkShare is the share of Redis's time the walks of the walking
// observer took, summed over windows that each hold one whole walk: from
// just after one walk was published to just after the next. mu guards
// the totals and err: watch runs beside the load.
type walkShare struct {
	mu     sync.Mutex
	totals walkTotals
	err    error
}

// walkTotals are the windows' sums.
type walkTotals struct {
	walks int
	// usec is the Redis time of walkCommands in the windows; took the
	// walks' own durations, from observerd.
	usec int64
	took time.Duration
	// reported is Σ redis_share × duration of the walks, to weigh
	// observerd's own figure as the bench's is; budgets and pacedBy the
	// distinct values seen.
	reported   float64
	budgets    []float64
	pacedBy    []string
	measuredBy []string
}

// result is the totals so far and the error that ended the watch, if any.
func (s *walkShare) result() (walkTotals, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.totals
	t.budgets, t.pacedBy, t.measuredBy = slices.Clone(t.budgets), slices.Clone(t.pacedBy), slices.Clone(t.measuredBy)
	return t, s.err
}

// watch follows the walker's /snapshot until ctx ends. A window opens
// when a new walk is seen and closes at the next: its walk began after
// the window opened (a walk a poll interval later), so the Redis time of
// the window is the walk's, and the sample of keys after it, a fixed few
// dozen commands. The other sidecars read the shared walk with no
// command of walkCommands, and the rate limiter's script uses none
// either.
func (s *walkShare) watch(ctx context.Context, r *benchRedis, obs []*observer) {
	err := s.follow(ctx, r, obs)
	if err != nil && ctx.Err() == nil {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
}

func (s *walkShare) follow(ctx context.Context, r *benchRedis, obs []*observer) error {
	client := &http.Client{Timeout: 5 * time.Second}
	var w walkWindows
	found := false
	usec := func() (int64, error) { return walkUsec(ctx, r) }
	// Every 200 ms: a new walk is seen long before the next begins
	// (seconds later at the default interval), and the reads cost the
	// machine under load little.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if !found {
			var err error
			if w, found, err = findWalker(ctx, client, obs); err != nil {
				return err
			}
		} else {
			v, err := readWalk(ctx, client, w.url)
			if err != nil {
				return err
			}
			if err := w.see(v, usec, s); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// findWalker is the windows of the observer whose own snapshot names it
// the walker; found is false while none does.
func findWalker(ctx context.Context, client *http.Client, obs []*observer) (w walkWindows, found bool, err error) {
	for _, o := range obs {
		v, err := readWalk(ctx, client, o.url)
		if err != nil {
			return w, false, err
		}
		if v.Counters.WalkedBy == o.id {
			return walkWindows{walker: o.id, url: o.url, last: v.Counters.WalkedAt}, true, nil
		}
	}
	return w, false, nil
}

// walkWindows cuts the walker's snapshots into windows of one walk each.
type walkWindows struct {
	walker string
	url    string     // the walker's
	last   *time.Time // walked_at of the last walk seen
	open   bool       // a window is open since the last walk
	base   int64      // Redis's walk time when it opened, in µs
}

// see takes one snapshot of the walker. At a new walk it reads Redis's
// time in walkCommands with usec, closes the open window into s, and
// opens the next.
func (w *walkWindows) see(v walkView, usec func() (int64, error), s *walkShare) error {
	c := v.Counters
	if c.WalkedAt == nil || (w.last != nil && c.WalkedAt.Equal(*w.last)) {
		return nil
	}
	if c.Walk == nil {
		return errNoWalkFigures
	}
	if c.Walk.DurationMS <= 0 {
		return fmt.Errorf("the walk of %s has no duration_ms", c.WalkedAt.Format(time.RFC3339Nano))
	}
	if c.WalkedBy != w.walker {
		return fmt.Errorf("the walk moved from %s to %q during the run", w.walker, c.WalkedBy)
	}
	now, err := usec()
	if err != nil {
		return err
	}
	if w.open {
		s.add(now-w.base, *c.Walk)
	}
	w.last, w.open, w.base = c.WalkedAt, true, now
	return nil
}

// add records one window.
func (s *walkShare) add(usec int64, w walkFigures) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.totals
	took := time.Duration(w.DurationMS * float64(time.Millisecond))
	t.walks++
	t.usec += usec
	t.took += took
	t.reported += w.RedisShare * took.Seconds()
	if !slices.Contains(t.budgets, w.Budget) {
		t.budgets = append(t.budgets, w.Budget)
	}
	if !slices.Contains(t.pacedBy, w.PacedBy) {
		t.pacedBy = append(t.pacedBy, w.PacedBy)
	}
	if !slices.Contains(t.measuredBy, w.ShareMeasuredBy) {
		t.measuredBy = append(t.measuredBy, w.ShareMeasuredBy)
	}
}

// readWalk reads the walk figures of the observer at url.
func readWalk(ctx context.Context, client *http.Client, url string) (walkView, error) {
	var v walkView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/snapshot", nil)
	if err != nil {
		return v, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET %s/snapshot answered %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&v); err != nil {
		return v, fmt.Errorf("GET %s/snapshot: %w", url, err)
	}
	if v.Counters.Walk == nil {
		return v, errNoWalkFigures
	}
	return v, nil
}

// walkUsec is Redis's time in walkCommands since its statistics were
// reset, in microseconds.
func walkUsec(ctx context.Context, r *benchRedis) (int64, error) {
	stats, err := r.commandStats(ctx)
	if err != nil {
		return 0, err
	}
	var usec int64
	for _, c := range walkCommands {
		usec += stats[c].usec
	}
	return usec, nil
}

// walkShareRow is the row of the walks' share of Redis's time beside the
// budget and observerd's own figure; err is what ended the watch.
func (b *bench) walkShareRow(size int, s walkTotals, err error) {
	const what = "walk's share of Redis's time, 5 observers, default settings (during the B runs)"
	switch {
	case err != nil:
		b.t.fail("b", what, fmtKeys(size), err)
		return
	case s.walks == 0 || s.took <= 0:
		b.t.fail("b", what, fmtKeys(size), fmt.Errorf("no whole walk in %d runs of %s: a window needs two walks a poll interval apart", latencyRounds, b.s.loadDuration))
		return
	}
	share := float64(s.usec) / float64(s.took.Microseconds())
	r := row{part: "b", what: what, size: fmtKeys(size), value: fmt.Sprintf("%.3f", share),
		notes: fmt.Sprintf("Redis usec of %s %s over %d walks that took %s in all (observerd's duration_ms), each walk measured alone; observerd's own redis_share %.3f (weighted by duration, measured by %s); paced_by %s",
			strings.Join(walkCommands, "+"), fmtDur(time.Duration(s.usec)*time.Microsecond), s.walks, fmtDur(s.took),
			s.reported/s.took.Seconds(), strings.Join(s.measuredBy, ", "), strings.Join(s.pacedBy, ", "))}
	if len(s.budgets) != 1 || s.budgets[0] <= 0 {
		r.notes += fmt.Sprintf("; budgets seen %v (0: none, the walk paced by keys per second)", s.budgets)
		b.t.add(r)
		return
	}
	budget := s.budgets[0]
	r.baseline = fmt.Sprintf("%.3f budget", budget)
	verdict := "within the budget"
	if share > budget {
		verdict = "OVER THE BUDGET"
	}
	r.ratio = fmtRatio(share, budget) + " of the budget, " + verdict
	b.t.add(r)
}
