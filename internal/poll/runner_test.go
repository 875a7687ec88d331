package poll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// scripted is a Poller whose answers the test decides: each Poll takes the
// next step, or repeats the last one.
type scripted struct {
	name  string
	mu    sync.Mutex // guards steps and calls
	steps []step
	calls int
}

type step struct {
	err   error
	block bool // wait for the poll's deadline
}

func (s *scripted) Name() string { return s.name }

func (s *scripted) Poll(ctx context.Context) (snapshot.Section, error) {
	s.mu.Lock()
	st := s.steps[min(s.calls, len(s.steps)-1)]
	s.calls++
	s.mu.Unlock()
	if st.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if st.err != nil {
		return nil, st.err
	}
	return &snapshot.RedisSection{}, nil
}

// started is how many polls have begun.
func (s *scripted) started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// gate is a Poller whose first free polls succeed at once; the next ones
// wait until the test opens the gate, then succeed. Unless ignoreCtx, a
// waiting poll also ends with its context.
type gate struct {
	name      string
	free      int
	ignoreCtx bool
	entered   chan struct{} // closed when the first waiting poll begins
	open      chan struct{} // closed by release
	mu        sync.Mutex    // guards calls
	calls     int
	enterOnce sync.Once
	openOnce  sync.Once
}

func newGate(name string, free int, ignoreCtx bool) *gate {
	return &gate{name: name, free: free, ignoreCtx: ignoreCtx, entered: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) Name() string { return g.name }

func (g *gate) Poll(ctx context.Context) (snapshot.Section, error) {
	g.mu.Lock()
	g.calls++
	free := g.calls <= g.free
	g.mu.Unlock()
	if free {
		return &snapshot.RedisSection{}, nil
	}
	g.enterOnce.Do(func() { close(g.entered) })
	if g.ignoreCtx {
		<-g.open
		return &snapshot.RedisSection{}, nil
	}
	select {
	case <-g.open:
		return &snapshot.RedisSection{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release opens the gate; it may be called more than once.
func (g *gate) release() { g.openOnce.Do(func() { close(g.open) }) }

// isClosed reports whether ch is closed, as a condition for testenv.WaitFor.
func isClosed(ch <-chan struct{}, what string) func() error {
	return func() error {
		select {
		case <-ch:
			return nil
		default:
			return errors.New(what + " not yet")
		}
	}
}

// delayLog keeps the state and delay the runner reports after each poll.
type delayLog struct {
	mu      sync.Mutex // guards entries
	entries []delayEntry
}

type delayEntry struct {
	failures int
	delay    time.Duration
}

func (l *delayLog) afterPoll(st snapshot.SourceState, delay time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, delayEntry{failures: st.ConsecutiveFailures, delay: delay})
}

func (l *delayLog) all() []delayEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]delayEntry(nil), l.entries...)
}

// recorder keeps every published state.
type recorder struct {
	mu     sync.Mutex // guards states
	states []snapshot.SourceState
}

func (r *recorder) publish(st snapshot.SourceState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, st)
}

func (r *recorder) all() []snapshot.SourceState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]snapshot.SourceState(nil), r.states...)
}

func (r *recorder) waitN(t *testing.T, n int) []snapshot.SourceState {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "published states", func() error {
		if got := len(r.all()); got < n {
			return errors.New("fewer states than wanted")
		}
		return nil
	})
	return r.all()
}

// startRunner runs r until the test ends, or until the returned stop, which
// cancels Run and waits for it to return.
func startRunner(t *testing.T, r *Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

func TestRunnerStatus(t *testing.T) {
	boom := errors.New("boom")
	p := &scripted{name: "redis", steps: []step{{}, {err: boom}, {err: boom}, {block: true}, {}}}
	rec := &recorder{}
	core, logs := observer.New(zap.InfoLevel)
	start := time.Now()
	startRunner(t, &Runner{Poller: p, Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond, MaxBackoff: 80 * time.Millisecond, Publish: rec.publish, Logger: zap.New(core)})
	states := rec.waitN(t, 5)

	first := states[0]
	if first.Err != nil || first.Section == nil || first.ConsecutiveFailures != 0 || first.LastSuccess.IsZero() {
		t.Errorf("first state %+v, want a success", first)
	}
	if first.LastAttempt.Sub(start) > time.Second {
		t.Errorf("first poll %s after start, want at once", first.LastAttempt.Sub(start))
	}
	// Failures keep the last good section and count up.
	for i, want := range []int{1, 2, 3} {
		st := states[i+1]
		if st.Err == nil || st.ConsecutiveFailures != want || st.Section != first.Section || !st.LastSuccess.Equal(first.LastSuccess) {
			t.Errorf("state %d = %+v, want failure %d keeping the first section", i+1, st, want)
		}
	}
	if st := states[3]; !strings.Contains(st.Err.Error(), "timed out after 50ms") {
		t.Errorf("blocked poll error = %v, want the deadline named", st.Err)
	}
	if st := states[4]; st.Err != nil || st.ConsecutiveFailures != 0 || st.FailuresTotal != 3 || !st.LastSuccess.After(first.LastSuccess) {
		t.Errorf("recovered state %+v", st)
	}
	// State changes are logged, not every poll.
	var msgs []string
	for _, e := range logs.All() {
		msgs = append(msgs, e.Message)
	}
	if got := strings.Join(msgs, ","); !strings.HasPrefix(got, "source up,source down,source back") {
		t.Errorf("logs %q, want up, down, back once each", got)
	}
}

func TestRunnerBackoff(t *testing.T) {
	r := &Runner{Interval: 100 * time.Millisecond, MaxBackoff: time.Second}
	tests := []struct {
		give     int
		min, max time.Duration
	}{
		{give: 0, min: 100 * time.Millisecond, max: 100 * time.Millisecond},
		{give: 1, min: 50 * time.Millisecond, max: 100 * time.Millisecond},
		{give: 2, min: 100 * time.Millisecond, max: 200 * time.Millisecond},
		{give: 3, min: 200 * time.Millisecond, max: 400 * time.Millisecond},
		{give: 10, min: 500 * time.Millisecond, max: time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			if d := r.nextDelay(tt.give); d < tt.min || d > tt.max {
				t.Errorf("nextDelay(%d) = %s, want within [%s, %s]", tt.give, d, tt.min, tt.max)
				break
			}
		}
	}
}

// TestRunnerBackoffResetsAfterRecovery follows the delays the runner picks
// through fail, fail, fail, success, fail: they grow with the failures in a
// row, and a success starts the count again, so the last failure waits as
// long as a first one.
func TestRunnerBackoffResetsAfterRecovery(t *testing.T) {
	const interval = 10 * time.Millisecond
	boom := errors.New("boom")
	// The sixth poll waits for shutdown, so the schedule ends there.
	p := &scripted{name: "redis", steps: []step{{err: boom}, {err: boom}, {err: boom}, {}, {err: boom}, {block: true}}}
	log := &delayLog{}
	startRunner(t, &Runner{Poller: p, Interval: interval, Timeout: time.Minute, MaxBackoff: time.Second, Publish: func(snapshot.SourceState) {}, Logger: zaptest.NewLogger(t), afterPoll: log.afterPoll})
	testenv.WaitFor(t, 10*time.Second, "five polls", func() error {
		if n := len(log.all()); n < 5 {
			return fmt.Errorf("%d polls", n)
		}
		return nil
	})
	got := log.all()
	tests := []struct {
		give         string
		wantFailures int
		min, max     time.Duration
	}{
		{give: "first failure", wantFailures: 1, min: interval / 2, max: interval},
		{give: "second failure", wantFailures: 2, min: interval, max: 2 * interval},
		{give: "third failure", wantFailures: 3, min: 2 * interval, max: 4 * interval},
		{give: "recovery", wantFailures: 0, min: interval, max: interval},
		{give: "failure after recovery", wantFailures: 1, min: interval / 2, max: interval},
	}
	for i, tt := range tests {
		if e := got[i]; e.failures != tt.wantFailures || e.delay < tt.min || e.delay > tt.max {
			t.Errorf("poll %d (%s): %d failures in a row, next poll after %s; want %d, after [%s, %s]",
				i+1, tt.give, e.failures, e.delay, tt.wantFailures, tt.min, tt.max)
		}
	}
}

// TestSlowSourceDoesNotHoldUpFast runs a source that does not answer until
// released beside one that does: the fast one keeps polling meanwhile.
func TestSlowSourceDoesNotHoldUpFast(t *testing.T) {
	slow := newGate("prometheus", 0, false)
	fast := &scripted{name: "redis", steps: []step{{}}}
	slowRec, fastRec := &recorder{}, &recorder{}
	log := zaptest.NewLogger(t)
	// The slow poll's deadline only guards against a hung test.
	startRunner(t, &Runner{Poller: slow, Interval: 10 * time.Millisecond, Timeout: time.Minute, MaxBackoff: time.Second, Publish: slowRec.publish, Logger: log})
	testenv.WaitFor(t, 10*time.Second, "the slow poll to begin", isClosed(slow.entered, "the slow poll"))
	startRunner(t, &Runner{Poller: fast, Interval: time.Millisecond, Timeout: time.Second, MaxBackoff: time.Second, Publish: fastRec.publish, Logger: log})

	const n = 10
	for i, st := range fastRec.waitN(t, n) {
		if st.Err != nil {
			t.Errorf("fast state %d: %v", i, st.Err)
		}
	}
	if got := len(slowRec.all()); got != 0 {
		t.Fatalf("the slow source published %d states while blocked", got)
	}
	slow.release()
	if st := slowRec.waitN(t, 1)[0]; st.Err != nil || st.Section == nil {
		t.Errorf("slow state after release = %+v, want a success", st)
	}
}

func TestRunnerCheckBeforeRun(t *testing.T) {
	r := &Runner{Poller: &scripted{name: "redis", steps: []step{{}}}, Interval: time.Second, Timeout: time.Second}
	if err := r.Check(time.Now().Add(24 * time.Hour)); err != nil {
		t.Errorf("Check before Run = %v, want nil", err)
	}
}

// TestRunnerCheckHealthy checks the liveness bound of a runner that has
// just polled: LivenessIntervals of its longest gap between polls, the
// longer of interval and backoff plus the timeout.
func TestRunnerCheckHealthy(t *testing.T) {
	tests := []struct {
		give                       string
		interval, backoff, timeout time.Duration
		wantGap                    time.Duration
	}{
		{give: "backoff longer than interval", interval: 10 * time.Second, backoff: 20 * time.Second, timeout: time.Second, wantGap: 21 * time.Second},
		{give: "backoff shorter than interval", interval: 30 * time.Second, backoff: 5 * time.Second, timeout: 3 * time.Second, wantGap: 33 * time.Second},
		{give: "no backoff", interval: 10 * time.Second, timeout: 2 * time.Second, wantGap: 12 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			rec := &recorder{}
			r := &Runner{Poller: &scripted{name: "redis", steps: []step{{}}}, Interval: tt.interval, Timeout: tt.timeout, MaxBackoff: tt.backoff, Publish: rec.publish, Logger: zaptest.NewLogger(t)}
			startRunner(t, r)
			// The first poll's end is the last progress until the next
			// poll, an interval later.
			last := rec.waitN(t, 1)[0].LastAttempt
			limit := LivenessIntervals * tt.wantGap
			if err := r.Check(last.Add(limit)); err != nil {
				t.Errorf("Check %s after the poll = %v, want nil", limit, err)
			}
			want := fmt.Sprintf("poll redis: no poll started or finished for %s, expected one at least every %s", limit+time.Second, tt.wantGap)
			err := r.Check(last.Add(limit + time.Second))
			if err == nil {
				t.Fatalf("Check %s after the poll = nil, want %q", limit+time.Second, want)
			}
			if diff := cmp.Diff(want, err.Error()); diff != "" {
				t.Errorf("Check error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunnerCheckTimedOutPollsAreProgress: a source whose every poll times
// out is down, not stuck; its runner stays alive.
func TestRunnerCheckTimedOutPollsAreProgress(t *testing.T) {
	rec := &recorder{}
	r := &Runner{Poller: &scripted{name: "redis", steps: []step{{block: true}}}, Interval: time.Millisecond, Timeout: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Publish: rec.publish, Logger: zaptest.NewLogger(t)}
	startRunner(t, r)
	limit := LivenessIntervals * (2*time.Millisecond + time.Millisecond)
	var first time.Time
	testenv.WaitFor(t, 10*time.Second, "a poll ending past the first one's liveness bound", func() error {
		states := rec.all()
		if len(states) == 0 {
			return errors.New("no poll yet")
		}
		first = states[0].LastAttempt
		if last := states[len(states)-1]; !last.LastAttempt.After(first.Add(limit + time.Millisecond)) {
			return fmt.Errorf("%d polls within %s", len(states), last.LastAttempt.Sub(first))
		}
		return nil
	})
	if err := r.Check(first.Add(limit + time.Millisecond)); err != nil {
		t.Errorf("Check of a runner whose polls time out = %v, want nil", err)
	}
}

// TestRunnerCheckStuckPoller runs a poller that answers once, then ignores
// its deadline and never answers (until the test ends): Check counts from
// the stuck poll's start and then reports the runner stuck.
func TestRunnerCheckStuckPoller(t *testing.T) {
	const interval, gap = 20 * time.Millisecond, 21 * time.Millisecond
	g := newGate("redis", 1, true)
	rec := &recorder{}
	r := &Runner{Poller: g, Interval: interval, Timeout: time.Millisecond, MaxBackoff: time.Millisecond, Publish: rec.publish, Logger: zaptest.NewLogger(t)}
	startRunner(t, r)
	t.Cleanup(g.release) // runs before startRunner's cleanup waits for Run
	testenv.WaitFor(t, 10*time.Second, "the second poll to begin", isClosed(g.entered, "the second poll"))
	after := time.Now()

	// The second poll began at least an interval after the first ended.
	firstEnd := rec.all()[0].LastAttempt
	if err := r.Check(firstEnd.Add(LivenessIntervals*gap + interval/2)); err != nil {
		t.Errorf("Check within the bound of the second poll's start = %v, want nil", err)
	}
	err := r.Check(after.Add(time.Hour))
	if err == nil {
		t.Fatal("Check an hour into a stuck poll = nil, want an error")
	}
	prefix, suffix := "poll redis: no poll started or finished for 1h0m", ", expected one at least every 21ms"
	if got := err.Error(); !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, suffix) {
		t.Errorf("Check = %q, want %q...%q", got, prefix, suffix)
	}
}

// TestRunnerRecordsPollDuration runs three polls, good and bad, and a
// fourth that shutdown cuts short: three durations are recorded.
func TestRunnerRecordsPollDuration(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics: %v", err)
	}
	p := &scripted{name: "redis", steps: []step{{}, {err: errors.New("boom")}, {}, {block: true}}}
	rec := &recorder{}
	stop := startRunner(t, &Runner{Poller: p, Interval: time.Millisecond, Timeout: time.Minute, MaxBackoff: time.Millisecond, Publish: rec.publish, Logger: zaptest.NewLogger(t), Metrics: m})
	rec.waitN(t, 3)
	testenv.WaitFor(t, 10*time.Second, "the fourth poll to begin", func() error {
		if n := p.started(); n < 4 {
			return fmt.Errorf("%d polls begun", n)
		}
		return nil
	})
	stop()

	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	got := histogramCounts(t, reg, "observerd_poll_duration_seconds")
	if diff := cmp.Diff(map[string]uint64{"redis": 3}, got); diff != "" {
		t.Errorf("poll duration counts by source (-want +got):\n%s", diff)
	}
}

// histogramCounts gathers reg and returns the sample count of the
// histogram name by its source label.
func histogramCounts(t *testing.T, reg *prometheus.Registry, name string) map[string]uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	got := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" {
					got[l.GetValue()] = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return got
}

func TestRunnerMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatalf("first NewMetrics: %v", err)
	}
	_, err := NewMetrics(reg)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) || !strings.Contains(err.Error(), "observerd_poll_duration_seconds") {
		t.Errorf("second NewMetrics = %v, want an already-registered error naming the metric", err)
	}
	if _, err := NewMetrics(nil); err == nil {
		t.Error("NewMetrics(nil) succeeded")
	}
}

func TestRunnerRejectsBadTiming(t *testing.T) {
	r := &Runner{Poller: &scripted{name: "redis", steps: []step{{}}}, Publish: func(snapshot.SourceState) {}, Logger: zaptest.NewLogger(t)}
	if err := r.Run(context.Background()); err == nil {
		t.Error("Run with zero interval and timeout succeeded")
	}
}
