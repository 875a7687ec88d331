package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/snapshot"
)

// The quiet phase runs the healthy cluster under the load generator's
// mixes with no fault injected, one node restarted gracefully in the
// middle, and fails when observerd reports anything: on a healthy cluster
// every invariant is silent, and a violation is a false alarm.
const (
	// nodeDownGrace is OBSERVERD_NODE_DOWN_GRACE of the soak's observerd,
	// the one invariant setting it takes off its default, as a production
	// sidecar does: a planned restart of a node (stopped, started again at
	// once) shorter than it is not reported. The soak's restart keeps the
	// node down until observerd shows it unreachable, a second or two,
	// and reportTimeout at most (see restartNode).
	nodeDownGrace = 10 * time.Second
	// quietEvery spaces the quiet phase's reads of /snapshot.
	quietEvery = time.Second
	// unknownBound is how long an invariant may stay unknown: a poll that
	// fails once, at its deadline, leaves the invariants its source feeds
	// unknown until its retry, at most the longest backoff later, answers;
	// plus one of the soak's reads. A healthy source fails no longer.
	//
	// The node restart needs no exception of its own: a node that does not
	// answer is data of a poll that succeeds (the ratelimiter source stays
	// ok while another node answers, and Prometheus while one target's
	// scrape fails), so no source goes stale for it. What observerd shows
	// meanwhile is the node unreachable, and node_down held back for its
	// grace; the soak counts the snapshots showing the node down.
	unknownBound = pollTimeout + maxBackoff + quietEvery
	// freshKeys are made over the phase, whatever its length; each leaves
	// an orphan :seq key behind (the nodes never expire sequence keys),
	// and sequence_key_leak reports from 10000 of them.
	freshKeys = 3000
	// freshWindowMS is the window of the fresh keys: they expire within
	// seconds, as the keys of short-lived clients do.
	freshWindowMS = 10000
)

// quietMixes are the quiet phase's loads beside steadyLoad, for a phase of
// d: three of 100 checks/s, 90% of them on two hot keys of their own;
// bursts of 150 checks over 30 keys every 15 s; and freshKeys fresh keys
// spread over the phase. Their hot keys take several hundred checks/s
// together, and the hottest key some 13% of the cluster's checks, far
// from the half from which hot_key reports one.
func quietMixes(d time.Duration) []mix {
	hot := func(name string) mix {
		return mix{name: "quiet-" + name, prefix: "quiet-" + name + "-", rate: 100, keys: 20, hotShare: 0.9, hotKeys: 2}
	}
	return []mix{
		hot("a"), hot("b"), hot("c"),
		{name: "quiet-bursts", prefix: "quiet-bursts-", rate: 2, keys: 30, burstEvery: 15 * time.Second, burstSize: 150},
		{name: "quiet-fresh", prefix: "quiet-", rate: freshKeys / d.Seconds(), fresh: true, windowMS: freshWindowMS},
	}
}

// minQuiet is the shortest quiet phase: the longest default grace period,
// or a condition that holds all along could never be reported within it.
func minQuiet() time.Duration {
	var longest time.Duration
	for _, inv := range health.Builtin() {
		longest = max(longest, inv.Grace)
	}
	return longest
}

// quietPhase runs the quiet phase for d and returns what observerd
// reported on the healthy cluster, each already printed; err is a phase
// that could not run.
func (c *cluster) quietPhase(ctx context.Context, d time.Duration, stdout io.Writer) (problems []error, err error) {
	mixes := quietMixes(d)
	victim := c.nodes[0] // the sidecar's own node, a configured URL
	restartAfter := d / 2
	describeQuiet(stdout, d, mixes, victim.id, restartAfter)

	logFrom, err := logSize(c.obs.LogPath())
	if err != nil {
		return nil, err
	}
	loads := &quietLoads{mixes: mixes}
	defer loads.stop()
	for _, m := range mixes {
		l, err := c.startMix(m)
		if err != nil {
			return nil, err
		}
		loads.children = append(loads.children, l)
	}

	start := time.Now()
	w := newQuietWatch(start, victim.id)
	restarted := make(chan restart, 1)
	go func() {
		if err := sleepCtx(ctx, restartAfter); err != nil {
			restarted <- restart{err: err}
			return
		}
		restarted <- c.restartNode(ctx, victim)
	}()
	if err := c.watchQuiet(ctx, w, start.Add(d), stdout); err != nil {
		<-restarted
		return w.problems, err
	}
	r := <-restarted
	if r.err != nil {
		return w.problems, fmt.Errorf("restart of %s in the quiet phase: %w", victim.id, r.err)
	}
	w.judgeRestart(stdout, start, victim.id, r)
	if err := w.judgeLog(stdout, c.obs.LogPath(), logFrom); err != nil {
		return w.problems, err
	}

	all, fresh, err := loads.stop()
	if err != nil {
		return w.problems, fmt.Errorf("quiet phase's loads: %w", err)
	}
	blocked := 0.0
	if all.decided() > 0 {
		blocked = float64(all.blocked) / float64(all.decided())
	}
	fmt.Fprintf(stdout, "quiet  checks sent %d (%.0f/s; blocked %.1f%%, failed %d), fresh keys %d, peak keys %d, snapshots read %d (%d failed), violations seen %d, longest unknown %s\n",
		all.sent, float64(all.sent)/d.Seconds(), 100*blocked, all.failed, fresh.decided(), w.peakKeys,
		w.snapshots, w.failedReads, len(w.seen), w.longestUnknown.Round(time.Second))
	return w.problems, nil
}

// quietLoads are the load generators of the quiet phase, one per mix.
type quietLoads struct {
	mixes    []mix
	children []*procs.Child
}

// stop stops them, once, and sums what they sent: all of it, and the fresh
// keys' part.
func (q *quietLoads) stop() (all, fresh totals, err error) {
	var errs []error
	for i, l := range q.children {
		if err := l.Stop(); err != nil {
			errs = append(errs, err)
			continue
		}
		t, err := readTotals(l.LogPath())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = all.add(t)
		if q.mixes[i].fresh {
			fresh = fresh.add(t)
		}
	}
	q.children = nil
	return all, fresh, errors.Join(errs...)
}

// watchQuiet reads /snapshot every quietEvery until end, printing a line a
// minute; err is only the context's.
func (c *cluster) watchQuiet(ctx context.Context, w *quietWatch, end time.Time, stdout io.Writer) error {
	tick := time.NewTicker(quietEvery)
	defer tick.Stop()
	start := time.Now()
	nextLine := start.Add(time.Minute)
	for now := start; now.Before(end); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now = <-tick.C:
		}
		s, err := c.snapshot()
		w.observe(now, s, err, stdout)
		if !now.Before(nextLine) {
			w.line(now, stdout)
			nextLine = nextLine.Add(time.Minute)
		}
	}
	return nil
}

// judgeRestart prints how the node's restart went and fails the phase if
// observerd did not show it, or if it lasted longer than node_down's grace.
func (w *quietWatch) judgeRestart(stdout io.Writer, start time.Time, victim string, r restart) {
	fmt.Fprintf(stdout, "quiet  restart of %s at %s: stopped in %s, shown unreachable %s after SIGTERM, started again at once, answering /health %s after SIGTERM; unreachable in %d of the phase's snapshots\n",
		victim, r.at.Sub(start).Round(time.Second), r.stopped.Round(10*time.Millisecond),
		r.shown.Round(10*time.Millisecond), r.down.Round(10*time.Millisecond), w.victimDown)
	if r.shownErr != nil {
		w.fail(stdout, r.at, "observerd did not show %s unreachable within %s of its stop: %v", victim, reportTimeout, r.shownErr)
	}
	if r.down >= nodeDownGrace {
		w.fail(stdout, r.at, "the restart of %s took %s, not shorter than OBSERVERD_NODE_DOWN_GRACE=%s: node_down may report it rightly, and the phase proves nothing of a planned restart",
			victim, r.down.Round(10*time.Millisecond), nodeDownGrace)
	}
}

// judgeLog fails the phase for every violation observerd's log says it
// raised since from that no read of /snapshot showed.
func (w *quietWatch) judgeLog(stdout io.Writer, path string, from int64) error {
	raised, err := raisedSince(path, from)
	if err != nil {
		return err
	}
	for _, line := range raised {
		if !w.seen[line.key()] {
			w.seen[line.key()] = true
			at := line.at
			if at.IsZero() {
				at = time.Now()
			}
			w.fail(stdout, at, "observerd's log says it raised a violation no read of /snapshot showed: %s", line)
		}
	}
	return nil
}

// describeQuiet prints what the quiet phase runs.
func describeQuiet(w io.Writer, d time.Duration, mixes []mix, victim string, restartAfter time.Duration) {
	defaults := health.Defaults(health.Builtin())
	total, hottest := steadyLoad.perSecond(), steadyLoad.hottest()
	for _, m := range mixes {
		total += m.perSecond()
		hottest = max(hottest, m.hottest())
	}
	fmt.Fprintf(w, "quiet  %s of the healthy cluster, no fault injected; observerd's invariants at their defaults but OBSERVERD_NODE_DOWN_GRACE=%s, so that a planned restart of a node shorter than that is not reported\n",
		d, nodeDownGrace)
	for _, m := range mixes {
		fmt.Fprintf(w, "quiet  load %-12s loadgen %s\n", m.name, strings.Join(m.args(nil)[2:], " "))
	}
	fmt.Fprintf(w, "quiet  about %.0f checks/s with the steady load, the hottest key %.0f/s (%.0f%%; hot_key reports from %.0f%%); %d fresh keys with window_ms %d; %s restarted at %s; any violation, or an invariant unknown for more than %s, fails\n",
		total, hottest, 100*hottest/total, 100*defaults.Of("hot_key").Share(), freshKeys, freshWindowMS,
		victim, restartAfter, unknownBound)
}

// restart is how a node's graceful restart went.
type restart struct {
	at       time.Time
	stopped  time.Duration // from SIGTERM to its end
	shown    time.Duration // from SIGTERM to a snapshot showing it unreachable
	shownErr error         // why no snapshot showed it within reportTimeout
	down     time.Duration // from SIGTERM to its new process's /health
	err      error
}

// restartNode stops n gracefully and starts it again as soon as observerd
// shows it unreachable (or after reportTimeout if it does not): a node
// back within a poll interval would often not be seen down at all, and
// the restart would then test nothing of node_down's grace. Either way it
// is down for less than nodeDownGrace.
func (c *cluster) restartNode(ctx context.Context, n *node) restart {
	r := restart{at: time.Now()}
	if err := n.child.Stop(); err != nil {
		r.err = err
		return r
	}
	r.stopped = time.Since(r.at)
	r.shownErr = procs.WaitFor(ctx, reportTimeout, n.id+" shown unreachable", func() error {
		s, err := c.snapshot()
		if err != nil {
			return err
		}
		for _, sn := range s.Nodes {
			if sn.ID == n.id && !sn.Reachable {
				return nil
			}
		}
		return fmt.Errorf("%s not shown unreachable", n.id)
	})
	r.shown = time.Since(r.at)
	if err := ctx.Err(); err != nil {
		r.err = err
		return r
	}
	if err := c.startNode(n); err != nil {
		r.err = err
		return r
	}
	r.down = time.Since(r.at)
	return r
}

// quietWatch judges the snapshots of the quiet phase.
type quietWatch struct {
	start  time.Time
	victim string
	// seen are the violations reported, by invariant and subject.
	seen         map[string]bool
	unknownSince map[string]time.Time
	unknownFail  map[string]bool
	problems     []error

	snapshots, failedReads int
	victimDown             int // snapshots showing the restarted node unreachable
	peakKeys               int64
	longestUnknown         time.Duration
	last                   *snapshot.Snapshot
}

func newQuietWatch(start time.Time, victim string) *quietWatch {
	return &quietWatch{
		start: start, victim: victim,
		seen: make(map[string]bool), unknownSince: make(map[string]time.Time), unknownFail: make(map[string]bool),
	}
}

// fail records a problem seen at at and prints it.
func (w *quietWatch) fail(out io.Writer, at time.Time, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	when := fmt.Sprintf("%s (%s into the quiet phase)", at.UTC().Format("15:04:05"), at.Sub(w.start).Round(time.Second))
	fmt.Fprintf(out, "quiet  FAIL at %s: %s\n", when, msg)
	first, _, _ := strings.Cut(msg, "\n")
	w.problems = append(w.problems, fmt.Errorf("quiet phase, at %s: %s", when, first))
}

// observe judges the snapshot read at at, or the error reading it.
func (w *quietWatch) observe(at time.Time, s *snapshot.Snapshot, readErr error, out io.Writer) {
	if readErr != nil {
		w.failedReads++
		w.fail(out, at, "read /snapshot: %v", readErr)
		return
	}
	w.snapshots++
	w.last = s
	w.peakKeys = max(w.peakKeys, s.Counters.Keys)
	for _, v := range s.Violations {
		k := violationKey(v.Invariant, v.Subject)
		if w.seen[k] {
			continue
		}
		w.seen[k] = true
		w.fail(out, at, "%s", describeViolation(v))
	}
	unknown := make(map[string]bool, len(s.Unknown))
	for _, u := range s.Unknown {
		unknown[u.Invariant] = true
		since, ok := w.unknownSince[u.Invariant]
		if !ok {
			since = at
			w.unknownSince[u.Invariant] = at
		}
		held := at.Sub(since)
		w.longestUnknown = max(w.longestUnknown, held)
		if held > unknownBound && !w.unknownFail[u.Invariant] {
			w.unknownFail[u.Invariant] = true
			w.fail(out, at, "invariant %s unknown since %s, for more than %s: %s",
				u.Invariant, since.UTC().Format("15:04:05"), unknownBound, u.Reason)
		}
	}
	for inv := range w.unknownSince {
		if !unknown[inv] {
			delete(w.unknownSince, inv)
			delete(w.unknownFail, inv)
		}
	}
	for _, n := range s.Nodes {
		if n.ID == w.victim && !n.Reachable {
			w.victimDown++
		}
	}
}

// line prints the minute's summary.
func (w *quietWatch) line(at time.Time, out io.Writer) {
	var traffic, keys string
	if s := w.last; s != nil {
		a, b := s.Traffic.AllowedPerSecond, s.Traffic.BlockedPerSecond
		traffic = "checks/s unknown"
		if a.Valid() && b.Valid() && a+b > 0 {
			traffic = fmt.Sprintf("%.0f checks/s (blocked %.0f%%)", a+b, 100*b/(a+b))
		}
		keys = fmt.Sprintf("keys %d, orphan :seq %d", s.Counters.Keys, s.Counters.OrphanSequenceKeys)
	}
	fmt.Fprintf(out, "quiet  %6s: %s, %s, snapshots %d, violations %d, unknown now %d (longest %s)\n",
		at.Sub(w.start).Round(time.Second), traffic, keys, w.snapshots, len(w.seen),
		len(w.unknownSince), w.longestUnknown.Round(time.Second))
}

// describeViolation names a violation with its evidence, one figure a
// line.
func describeViolation(v snapshot.Violation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s violation %s on %q (first seen %s): %s", v.Severity, v.Invariant, v.Subject,
		v.FirstSeen.UTC().Format("15:04:05.000"), v.Message)
	for _, e := range v.Evidence {
		fmt.Fprintf(&b, "\n         evidence: %s at %s: %s = %s", e.Source, e.At.UTC().Format("15:04:05.000"), e.What, formatValue(e.Value))
	}
	return b.String()
}

func formatValue(f snapshot.Float) string {
	if !f.Valid() {
		return "null"
	}
	return fmt.Sprintf("%g", float64(f))
}
