package poll

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

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

func startRunner(t *testing.T, r *Runner) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return cancel
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

// TestSlowSourceDoesNotHoldUpFast runs a source that never answers beside
// one that does: the fast one keeps its pace.
func TestSlowSourceDoesNotHoldUpFast(t *testing.T) {
	slow := &scripted{name: "prometheus", steps: []step{{block: true}}}
	fast := &scripted{name: "redis", steps: []step{{}}}
	slowRec, fastRec := &recorder{}, &recorder{}
	log := zaptest.NewLogger(t)
	startRunner(t, &Runner{Poller: slow, Interval: 10 * time.Millisecond, Timeout: 5 * time.Second, MaxBackoff: time.Second, Publish: slowRec.publish, Logger: log})
	startRunner(t, &Runner{Poller: fast, Interval: 10 * time.Millisecond, Timeout: time.Second, MaxBackoff: time.Second, Publish: fastRec.publish, Logger: log})
	fastRec.waitN(t, 10)
	if n := len(slowRec.all()); n != 0 {
		t.Errorf("the slow source published %d states within its deadline", n)
	}
}

func TestRunnerRejectsBadTiming(t *testing.T) {
	r := &Runner{Poller: &scripted{name: "redis", steps: []step{{}}}, Publish: func(snapshot.SourceState) {}, Logger: zaptest.NewLogger(t)}
	if err := r.Run(context.Background()); err == nil {
		t.Error("Run with zero interval and timeout succeeded")
	}
}
