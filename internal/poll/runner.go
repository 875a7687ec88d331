// Package poll runs the per-source pollers (see docs/design.md, "Pollers
// and the runner"), and holds one poller per source, each turning its
// client's answers into a snapshot section.
package poll

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
)

// Poller polls one source once.
type Poller interface {
	// Name is the source name (source.Redis, ...).
	Name() string
	// Poll asks the source once, within ctx's deadline. A nil error means
	// the section is good data; an error means the source failed and the
	// section is ignored. A Runner calls it one poll at a time.
	Poll(ctx context.Context) (snapshot.Section, error)
}

// Runner polls one source on its own schedule: the first poll at once, then
// every Interval, after failures exponential backoff with jitter up to
// MaxBackoff. Each poll runs under its own Timeout, and every result, good
// or bad, is handed to Publish with the source's whole state. A Runner
// must not be copied once Run starts.
type Runner struct {
	Poller     Poller
	Interval   time.Duration
	Timeout    time.Duration
	MaxBackoff time.Duration
	// Publish receives the state after every poll. It must not block for
	// long: the runner calls it inline.
	Publish func(snapshot.SourceState)
	Logger  *zap.Logger
	// Metrics, when not nil, records the duration of every finished poll.
	Metrics *Metrics

	// progress is the UnixNano time of the last sign of life: Run's start,
	// a poll's start or a poll's end; 0 before Run starts. Check reads it
	// from another goroutine.
	progress atomic.Int64
	// afterPoll, when not nil, is told each published state and the delay
	// chosen before the next poll: tests see the schedule without timing it.
	afterPoll func(state snapshot.SourceState, delay time.Duration)
}

// LivenessIntervals is how many of its longest expected gaps between polls
// a runner may go without starting or finishing one before Check reports it
// stuck.
const LivenessIntervals = 3

// Run polls until ctx ends, then returns nil. A poll error is data, recorded
// in the state; it never ends Run.
func (r *Runner) Run(ctx context.Context) error {
	if r.Interval <= 0 || r.Timeout <= 0 {
		return fmt.Errorf("poll %s: interval %s and timeout %s must be positive", r.Poller.Name(), r.Interval, r.Timeout)
	}
	name := r.Poller.Name()
	log := r.Logger.With(zap.String("source", name))
	r.Metrics.addSource(name)
	r.markProgress(time.Now())
	state := snapshot.SourceState{Source: name}
	timer := time.NewTimer(0) // the first poll at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		prev := state
		if state = r.pollOnce(ctx, state); !r.publish(ctx, state) {
			return nil
		}
		logTransition(log, prev, state)
		delay := r.nextDelay(state.ConsecutiveFailures)
		if r.afterPoll != nil {
			r.afterPoll(state, delay)
		}
		timer.Reset(delay)
	}
}

// Once polls a single time, as a first poll of Run, publishes the state and
// returns it: the poll of a one-shot check. When ctx ends during the poll
// nothing is published and Once returns ctx's error. Not beside Run.
func (r *Runner) Once(ctx context.Context) (snapshot.SourceState, error) {
	name := r.Poller.Name()
	if r.Timeout <= 0 {
		return snapshot.SourceState{}, fmt.Errorf("poll %s: timeout %s must be positive", name, r.Timeout)
	}
	state := r.pollOnce(ctx, snapshot.SourceState{Source: name})
	if !r.publish(ctx, state) {
		return state, fmt.Errorf("poll %s: %w", name, ctx.Err())
	}
	return state, nil
}

// Check reports an error once the runner has neither started nor finished a
// poll for LivenessIntervals times its longest expected gap (see
// docs/design.md): a poller that blocks past its deadline stalls it, and
// /healthz asks so that such an observerd is restarted. Safe beside Run.
func (r *Runner) Check(now time.Time) error {
	last := r.progress.Load()
	if last == 0 {
		return nil
	}
	gap := max(r.Interval, r.MaxBackoff) + r.Timeout
	if idle := now.Sub(time.Unix(0, last)); idle > LivenessIntervals*gap {
		return fmt.Errorf("poll %s: no poll started or finished for %s, expected one at least every %s", r.Poller.Name(), idle, gap)
	}
	return nil
}

func (r *Runner) markProgress(t time.Time) { r.progress.Store(t.UnixNano()) }

// logTransition logs a source's state changes, not every poll: the first
// success, the first failure after success, and the recovery.
func logTransition(log *zap.Logger, prev, cur snapshot.SourceState) {
	switch {
	case cur.Err != nil && (prev.Err == nil || prev.LastAttempt.IsZero()):
		log.Warn("source down", zap.Error(cur.Err))
	case cur.Err == nil && prev.Err != nil:
		log.Info("source back", zap.Int("failed_polls", prev.ConsecutiveFailures))
	case cur.Err == nil && prev.LastSuccess.IsZero():
		log.Info("source up", zap.Duration("poll_duration", cur.Duration))
	}
}

// pollOnce runs one poll under its deadline and returns the new state.
func (r *Runner) pollOnce(ctx context.Context, state snapshot.SourceState) snapshot.SourceState {
	pctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	start := time.Now()
	r.markProgress(start)
	section, err := r.Poller.Poll(pctx)
	end := time.Now()
	r.markProgress(end)
	state.LastAttempt, state.Duration = end, end.Sub(start)
	if err == nil && section == nil {
		err = fmt.Errorf("poll %s: no data", r.Poller.Name())
	}
	if err == nil {
		state.Err, state.ConsecutiveFailures = nil, 0
		state.LastSuccess, state.Section = end, section
		return state
	}
	if pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("poll %s: timed out after %s: %w", r.Poller.Name(), r.Timeout, err)
	}
	state.Err = err
	state.ConsecutiveFailures++
	state.FailuresTotal++
	return state
}

// publish hands a finished poll on, unless ctx ended during it: a poll cut
// short by shutdown says nothing about the source.
func (r *Runner) publish(ctx context.Context, state snapshot.SourceState) bool {
	if ctx.Err() != nil {
		return false
	}
	r.Metrics.observePoll(state.Source, state.Duration)
	r.Publish(state)
	return true
}

// nextDelay is Interval while the source is healthy; after n consecutive
// failures it doubles per failure up to MaxBackoff, and is drawn at random
// from its upper half so that many observers do not retry in step.
func (r *Runner) nextDelay(failures int) time.Duration {
	if failures == 0 {
		return r.Interval
	}
	d := r.Interval
	for i := 1; i < failures && d < r.MaxBackoff; i++ {
		d *= 2
	}
	if r.MaxBackoff > r.Interval {
		d = min(d, r.MaxBackoff)
	}
	return d/2 + rand.N(d-d/2+1)
}

// Metrics are the runners' own metrics, shared by every runner of one
// observerd. A nil *Metrics records nothing.
type Metrics struct {
	pollDuration *prometheus.HistogramVec
}

// NewMetrics creates the runners' metrics and registers them on reg. It
// fails, rather than panicking, when they are registered there already.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("poll metrics: no registerer")
	}
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "observerd",
		Name:      "poll_duration_seconds",
		Help:      "Duration of each poll of a source, successful or not.",
		// From a loopback answer in a millisecond to a keyspace walk that
		// takes most of a long deadline.
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"source"})
	if err := reg.Register(h); err != nil {
		return nil, fmt.Errorf("poll metrics: register observerd_poll_duration_seconds: %w", err)
	}
	return &Metrics{pollDuration: h}, nil
}

// addSource creates source's series, so that it is exported with a zero
// count before its first poll ends.
func (m *Metrics) addSource(source string) {
	if m == nil {
		return
	}
	m.pollDuration.WithLabelValues(source)
}

// observePoll records one finished poll of source.
func (m *Metrics) observePoll(source string, d time.Duration) {
	if m == nil {
		return
	}
	m.pollDuration.WithLabelValues(source).Observe(d.Seconds())
}
