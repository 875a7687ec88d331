package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/loadgen"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// vkey names one violation.
type vkey struct{ invariant, subject string }

func (k vkey) String() string { return k.invariant + "{" + k.subject + "}" }

// wantViolation is a violation a fault must raise, with a regular
// expression its message must match (the figures included) when raised,
// and held, when set, the one it must match once the fault has held a
// while (a figure that a later poll adds).
type wantViolation struct {
	key     vkey
	message string
	held    string
}

// heldMessage is the expression the message must match while the fault
// holds.
func (w wantViolation) heldMessage() string {
	if w.held != "" {
		return w.held
	}
	return w.message
}

// checkEvidence checks that v carries evidence and causes, each figure
// with its source, time and name: every invariant gives both.
func checkEvidence(t *testing.T, k vkey, v snapshot.Violation, seq uint64) {
	t.Helper()
	if len(v.Evidence) == 0 {
		t.Errorf("%s in snapshot %d has no evidence", k, seq)
	}
	for _, e := range v.Evidence {
		if e.Source == "" || e.What == "" || e.At.IsZero() {
			t.Errorf("%s in snapshot %d: evidence %+v lacks its source, name or time", k, seq, e)
		}
	}
	if len(v.Causes) == 0 || slices.Contains(v.Causes, "") {
		t.Errorf("%s in snapshot %d: causes %q", k, seq, v.Causes)
	}
}

// expectation is exactly what one fault may show: the violations it must
// raise, those it may raise too because the fault implies them (with why),
// and the invariants that must be unknown once the wanted ones are raised.
// Anything else active or unknown is an error.
type expectation struct {
	want    []wantViolation
	allow   map[vkey]string
	unknown []string
}

func (e expectation) expects(k vkey) bool {
	if _, ok := e.allow[k]; ok {
		return true
	}
	return slices.ContainsFunc(e.want, func(w wantViolation) bool { return w.key == k })
}

func (e expectation) names() string {
	names := make([]string, len(e.want))
	for i, w := range e.want {
		names[i] = w.key.String()
	}
	return strings.Join(names, ", ")
}

// conform reports, once each, the violations and unknown invariants of s
// that e does not expect.
func (e expectation) conform(t *testing.T, s *snapshot.Snapshot, reported map[string]bool) {
	t.Helper()
	for k, v := range activeInvariants(s) {
		if !e.expects(k) && !reported[k.String()] {
			reported[k.String()] = true
			t.Errorf("unexpected violation %s in snapshot %d: %s", k, s.Sequence, v.Message)
		}
	}
	for _, u := range s.Unknown {
		if !slices.Contains(e.unknown, u.Invariant) && !reported["unknown "+u.Invariant] {
			reported["unknown "+u.Invariant] = true
			t.Errorf("unexpected unknown invariant %s in snapshot %d: %s", u.Invariant, s.Sequence, u.Reason)
		}
	}
}

// activeInvariants indexes the violations of s.
func activeInvariants(s *snapshot.Snapshot) map[vkey]snapshot.Violation {
	out := make(map[vkey]snapshot.Violation, len(s.Violations))
	for _, v := range s.Violations {
		out[vkey{v.Invariant, v.Subject}] = v
	}
	return out
}

func unknownNames(s *snapshot.Snapshot) []string {
	out := make([]string, len(s.Unknown))
	for i, u := range s.Unknown {
		out[i] = u.Invariant
	}
	slices.Sort(out)
	return out
}

func nodeOf(s *snapshot.Snapshot, id string) *snapshot.Node {
	for i := range s.Nodes {
		if s.Nodes[i].ID == id {
			return &s.Nodes[i]
		}
	}
	return nil
}

// healthy is nil when every source is fresh and nothing is violated or
// unknown.
func healthy(s *snapshot.Snapshot) error {
	for name, st := range s.Sources {
		if st.Status != snapshot.StatusOK {
			return fmt.Errorf("source %s is %s: %s", name, st.Status, st.Error)
		}
	}
	if len(s.Violations) > 0 || len(s.Unknown) > 0 {
		return fmt.Errorf("violations %+v, unknown %+v", s.Violations, s.Unknown)
	}
	return nil
}

// watchUntil waits until cond accepts a snapshot, checking every snapshot
// it sees against e.
func (r *chaosRig) watchUntil(t *testing.T, what string, timeout time.Duration, e expectation, cond func(*snapshot.Snapshot) error) *snapshot.Snapshot {
	t.Helper()
	reported := map[string]bool{}
	return r.d.waitSnapshot(t, timeout, what, func(s *snapshot.Snapshot) error {
		e.conform(t, s, reported)
		return cond(s)
	})
}

// waitRaised waits, at most bound after since (when the fault was
// injected), until every wanted violation is active, and checks them: the
// severity, the message, first_seen after the fault (or before it for an
// unknown invariant's frozen violation) and at least the grace period
// before the snapshot, and the unknown invariants exactly.
func (r *chaosRig) waitRaised(t *testing.T, e expectation, since time.Time, bound time.Duration) *snapshot.Snapshot {
	t.Helper()
	s := r.watchUntil(t, e.names()+" raised", max(bound-time.Since(since), 0), e, func(s *snapshot.Snapshot) error {
		active := activeInvariants(s)
		for _, w := range e.want {
			if _, ok := active[w.key]; !ok {
				return fmt.Errorf("%s not active; violations %+v", w.key, s.Violations)
			}
		}
		return nil
	})
	t.Logf("%s raised %s after the fault (bound %s)", e.names(), s.GeneratedAt.Sub(since).Round(time.Millisecond), bound)
	active := activeInvariants(s)
	for _, w := range e.want {
		v := active[w.key]
		if want := severityOf(v.Invariant); v.Severity != want {
			t.Errorf("%s severity %q, want %q", w.key, v.Severity, want)
		}
		if !regexp.MustCompile(w.message).MatchString(v.Message) {
			t.Errorf("%s message %q does not match %q", w.key, v.Message, w.message)
		}
		checkEvidence(t, w.key, v, s.Sequence)
		if v.FirstSeen.Before(since) && !slices.Contains(e.unknown, v.Invariant) {
			t.Errorf("%s first seen at %s, before the fault at %s", w.key, v.FirstSeen, since)
		}
		if held := s.GeneratedAt.Sub(v.FirstSeen); held < graceOf(v.Invariant) {
			t.Errorf("%s reported after holding %s, less than its grace period %s", w.key, held, graceOf(v.Invariant))
		}
		if v.LastSeen.Before(v.FirstSeen) || v.LastSeen.After(s.GeneratedAt) {
			t.Errorf("%s first seen %s, last seen %s, snapshot at %s", w.key, v.FirstSeen, v.LastSeen, s.GeneratedAt)
		}
	}
	if got, want := unknownNames(s), slices.Sorted(slices.Values(e.unknown)); !slices.Equal(got, want) {
		t.Errorf("unknown invariants %v, want %v", got, want)
	}
	return s
}

// holds waits for a snapshot two polls after raised, checking every
// snapshot on the way, and checks that each wanted violation is still there
// with the same first_seen, a message that still matches, and a last_seen
// that moved on, or did not move for an unknown invariant (frozen). It
// returns that later snapshot.
func (r *chaosRig) holds(t *testing.T, e expectation, raised *snapshot.Snapshot) *snapshot.Snapshot {
	t.Helper()
	return r.holdsFor(t, e, raised, twoPolls)
}

// holdsFor is holds with a snapshot at least d after raised.
func (r *chaosRig) holdsFor(t *testing.T, e expectation, raised *snapshot.Snapshot, d time.Duration) *snapshot.Snapshot {
	t.Helper()
	later := r.watchUntil(t, e.names()+" still held", d+pollInterval+chaosSlack, e, func(s *snapshot.Snapshot) error {
		if s.GeneratedAt.Sub(raised.GeneratedAt) < d {
			return fmt.Errorf("snapshot %d only %s after the raise", s.Sequence, s.GeneratedAt.Sub(raised.GeneratedAt))
		}
		return nil
	})
	before, after := activeInvariants(raised), activeInvariants(later)
	for _, w := range e.want {
		a, ok := after[w.key]
		b := before[w.key]
		frozen := slices.Contains(e.unknown, w.key.invariant)
		switch {
		case !ok:
			t.Errorf("%s cleared while the fault holds (snapshot %d)", w.key, later.Sequence)
		case !a.FirstSeen.Equal(b.FirstSeen):
			t.Errorf("%s first_seen moved from %s to %s while it held", w.key, b.FirstSeen, a.FirstSeen)
		case frozen && !a.LastSeen.Equal(b.LastSeen):
			t.Errorf("%s is unknown yet was confirmed: last_seen moved from %s to %s", w.key, b.LastSeen, a.LastSeen)
		case !frozen && !a.LastSeen.After(b.LastSeen):
			t.Errorf("%s last_seen stuck at %s in snapshot %d", w.key, a.LastSeen, later.Sequence)
		case !regexp.MustCompile(w.heldMessage()).MatchString(a.Message):
			t.Errorf("%s message %q does not match %q in snapshot %d", w.key, a.Message, w.heldMessage(), later.Sequence)
		}
		if ok {
			checkEvidence(t, w.key, a, later.Sequence)
		}
	}
	return later
}

// checkMetrics checks /metrics against e: one series of value 1 per wanted
// violation, no series outside e, per-invariant counts equal to the series,
// and the unknown gauges exactly e's.
func (r *chaosRig) checkMetrics(t *testing.T, e expectation) {
	t.Helper()
	m := parseMetrics(t, r.d.metrics(t))
	perInvariant := map[string]float64{}
	exported := map[vkey]float64{}
	for _, s := range m["observerd_invariant_violation"] {
		k := vkey{s.labels["invariant"], s.labels["subject"]}
		exported[k] = s.value
		perInvariant[k.invariant]++
		if !e.expects(k) {
			t.Errorf("unexpected series observerd_invariant_violation%v %v", s.labels, s.value)
		} else if s.labels["severity"] != severityOf(k.invariant) {
			t.Errorf("series of %s has severity %q", k, s.labels["severity"])
		}
	}
	for _, w := range e.want {
		if v := exported[w.key]; v != 1 {
			t.Errorf("observerd_invariant_violation of %s = %v, want 1", w.key, v)
		}
	}
	gauge := func(name, invariant string) float64 {
		for _, s := range m[name] {
			if s.labels["invariant"] == invariant {
				return s.value
			}
		}
		t.Errorf("no %s{invariant=%q}", name, invariant)
		return -1
	}
	for _, inv := range health.Builtin() {
		name := inv.Name
		if got := gauge("observerd_invariant_violations", name); got != perInvariant[name] {
			t.Errorf("observerd_invariant_violations{invariant=%q} = %v, want %v", name, got, perInvariant[name])
		}
		want := 0.0
		if slices.Contains(e.unknown, name) {
			want = 1
		}
		if got := gauge("observerd_invariant_unknown", name); got != want {
			t.Errorf("observerd_invariant_unknown{invariant=%q} = %v, want %v", name, got, want)
		}
	}
}

// waitCleared waits, at most bound after since (the repair), until none of
// e's wanted violations is active in /snapshot, then checks that their
// series are gone from /metrics.
func (r *chaosRig) waitCleared(t *testing.T, e expectation, since time.Time, bound time.Duration) {
	t.Helper()
	s := r.d.waitSnapshot(t, max(bound-time.Since(since), 0), e.names()+" cleared", func(s *snapshot.Snapshot) error {
		active := activeInvariants(s)
		for _, w := range e.want {
			if _, ok := active[w.key]; ok {
				return fmt.Errorf("%s still active", w.key)
			}
		}
		return nil
	})
	t.Logf("%s cleared %s after the repair (bound %s)", e.names(), s.GeneratedAt.Sub(since).Round(time.Millisecond), bound)
	for _, sr := range parseMetrics(t, r.d.metrics(t))["observerd_invariant_violation"] {
		if k := (vkey{sr.labels["invariant"], sr.labels["subject"]}); slices.ContainsFunc(e.want, func(w wantViolation) bool { return w.key == k }) {
			t.Errorf("series of %s still exported after it cleared: %v", k, sr.value)
		}
	}
}

// waitHealthy waits until the cluster is healthy again, in /snapshot and in
// /metrics.
func (r *chaosRig) waitHealthy(t *testing.T) {
	t.Helper()
	r.d.waitSnapshot(t, 30*time.Second, "a healthy cluster", healthy)
	r.checkMetrics(t, expectation{})
}

// send makes n allowed checks of one key (prefix+"key-0") through targets,
// all nodes by default, and returns the key.
func (r *chaosRig) send(t *testing.T, prefix string, n int64, targets ...string) string {
	t.Helper()
	if len(targets) == 0 {
		targets = r.c.urls()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tot, err := loadgen.Run(ctx, loadgen.Config{Targets: targets, Rate: 50, Count: n, Keys: 1, KeyPrefix: prefix})
	if err != nil || tot.Allowed != n {
		t.Fatalf("%d checks of %skey-0: %+v, %v", n, prefix, tot, err)
	}
	return prefix + "key-0"
}

// redisDo runs fn against the test's Redis under a deadline.
func (r *chaosRig) redisDo(t *testing.T, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fn(ctx); err != nil {
		t.Fatalf("redis: %v", err)
	}
}

// forget deletes a key's counter, sequence key and override, so that it
// leaves no orphan behind.
func (r *chaosRig) forget(t *testing.T, key string) {
	t.Helper()
	r.redisDo(t, func(ctx context.Context) error {
		return r.c.rdb.Del(ctx, "ratelimit:"+key, "ratelimit:"+key+":seq", "ratelimit:limit:"+key).Err()
	})
}

// dropFuture removes from every counter the entries scored more than a
// second after Redis's clock, as a node whose clock ran ahead scored them:
// left alone they count in every window, and show as clock_skew{redis},
// until Redis's clock passes them. It goes over the counters until a pass
// finds none, since a check that read the node's clock before it was set
// right may add one after a pass.
func (r *chaosRig) dropFuture(t *testing.T) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, "no counter entry scored in the future", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		now, err := r.c.rdb.Time(ctx).Result()
		if err != nil {
			return fmt.Errorf("time: %w", err)
		}
		after := "(" + strconv.FormatInt(now.Add(time.Second).UnixMilli(), 10)
		var removed int64
		iter := r.c.rdb.ScanType(ctx, 0, "ratelimit:*", 500, "zset").Iterator()
		for iter.Next(ctx) {
			n, err := r.c.rdb.ZRemRangeByScore(ctx, iter.Val(), after, "+inf").Result()
			if err != nil {
				return fmt.Errorf("zremrangebyscore %s: %w", iter.Val(), err)
			}
			removed += n
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if removed > 0 {
			return fmt.Errorf("removed %d entries", removed)
		}
		return nil
	})
}

// stallScript keeps Redis busy for ARGV[1] microseconds: Redis runs one
// command at a time, so every other client waits for it.
var stallScript = goredis.NewScript(`
local t = redis.call('TIME')
local stop = t[1] * 1000000 + t[2] + tonumber(ARGV[1])
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop
return 0
`)

// stallRedis stalls Redis for d, then lets it work for pause, and again,
// until the returned stop is called or the test ends. stop returns once
// the last stall has ended.
func (r *chaosRig) stallRedis(t *testing.T, d, pause time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for {
			if err := stallScript.Run(ctx, r.c.rdb, nil, d.Microseconds()).Err(); err != nil {
				if ctx.Err() != nil {
					err = nil // a stall cut short by stop
				}
				done <- err
				return
			}
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-time.After(pause):
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("stall redis: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// orphanSequenceKeys counts the sequence keys whose sorted set is gone,
// deleting them when asked.
func (r *chaosRig) orphanSequenceKeys(ctx context.Context, del bool) (int64, error) {
	var n int64
	iter := r.c.rdb.Scan(ctx, 0, "ratelimit:*:seq", 500).Iterator()
	for iter.Next(ctx) {
		seq := iter.Val()
		exists, err := r.c.rdb.Exists(ctx, strings.TrimSuffix(seq, ":seq")).Result()
		if err != nil {
			return n, fmt.Errorf("exists: %w", err)
		}
		if exists == 1 {
			continue
		}
		n++
		if del {
			if err := r.c.rdb.Del(ctx, seq).Err(); err != nil {
				return n, fmt.Errorf("del %s: %w", seq, err)
			}
		}
	}
	return n, iter.Err()
}

// series is one sample of an exposition.
type series struct {
	labels map[string]string
	value  float64
}

// parseMetrics parses an exposition into each metric's samples.
func parseMetrics(t *testing.T, exposition string) map[string][]series {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(exposition))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := make(map[string][]series, len(families))
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[name] = append(out[name], series{labels: labels, value: m.GetGauge().GetValue()})
		}
	}
	return out
}
