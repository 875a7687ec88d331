package poll

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
)

// Runner polls one source on its own schedule: the first poll at once, then
// every Interval; after a failure it waits longer (exponential backoff with
// jitter, at most MaxBackoff) so that a struggling source is not hammered.
// Each poll runs under its own deadline, and every result, good or bad, is
// handed to Publish with the source's whole state. Check tells whether it
// is still making progress. A Runner must not be copied once Run starts.
type Runner struct {
	Poller     Poller
	Interval   time.Duration
	Timeout    time.Duration
	MaxBackoff time.Duration
	// Publish receives the state after every poll. It must not block for
	// long: the runner calls it inline.
	Publish func(snapshot.SourceState)
	Logger  *zap.Logger
	// Metrics, when not nil, records the duration of every finished poll
	// under the source's name.
	Metrics *Metrics

	// progress is the UnixNano time of the last sign of life: Run's start,
	// a poll's start or a poll's end; 0 before Run starts. Check reads it
	// from another goroutine.
	progress atomic.Int64
	// afterPoll, when not nil, is told each published state and the delay
	// chosen before the next poll. It lets tests see the schedule without
	// timing it.
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
		state = r.pollOnce(ctx, state)
		if ctx.Err() != nil {
			// A poll cut short by shutdown says nothing about the source.
			return nil
		}
		r.Metrics.observePoll(name, state.Duration)
		r.Publish(state)
		logTransition(log, prev, state)
		delay := r.nextDelay(state.ConsecutiveFailures)
		if r.afterPoll != nil {
			r.afterPoll(state, delay)
		}
		timer.Reset(delay)
	}
}

// Once polls a single time under the runner's deadline, publishes the
// state and returns it: the poll of a one-shot check. The state starts
// afresh, as a runner's first poll does, and Interval is not needed. When
// ctx ends during the poll nothing is published and Once returns ctx's
// error: a poll cut short says nothing about the source. Once must not run
// beside Run on the same runner.
func (r *Runner) Once(ctx context.Context) (snapshot.SourceState, error) {
	name := r.Poller.Name()
	if r.Timeout <= 0 {
		return snapshot.SourceState{}, fmt.Errorf("poll %s: timeout %s must be positive", name, r.Timeout)
	}
	state := r.pollOnce(ctx, snapshot.SourceState{Source: name})
	if err := ctx.Err(); err != nil {
		return state, fmt.Errorf("poll %s: %w", name, err)
	}
	r.Metrics.observePoll(name, state.Duration)
	r.Publish(state)
	return state, nil
}

// Check reports whether the runner is alive: nil before Run starts and
// while polls keep starting or ending, an error once nothing happened for
// longer than LivenessIntervals times the longest expected gap between
// polls (the longest delay, Interval or MaxBackoff, plus one poll's
// Timeout). A poller that blocks past its deadline stalls the runner; this
// is what /healthz asks so that such an observerd gets restarted. It is
// safe to call while Run runs.
func (r *Runner) Check(now time.Time) error {
	last := r.progress.Load()
	if last == 0 {
		return nil
	}
	gap := r.expectedGap()
	if idle := now.Sub(time.Unix(0, last)); idle > LivenessIntervals*gap {
		return fmt.Errorf("poll %s: no poll started or finished for %s, expected one at least every %s", r.Poller.Name(), idle, gap)
	}
	return nil
}

// expectedGap is the longest a healthy runner waits between two signs of
// life: its longest delay between polls plus one poll's deadline.
func (r *Runner) expectedGap() time.Duration {
	return max(r.Interval, r.MaxBackoff) + r.Timeout
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
	state.LastAttempt = end
	state.Duration = end.Sub(start)
	if err == nil && section == nil {
		err = fmt.Errorf("poll %s: no data", r.Poller.Name())
	}
	if err != nil {
		if pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = fmt.Errorf("poll %s: timed out after %s: %w", r.Poller.Name(), r.Timeout, err)
		}
		state.Err = err
		state.ConsecutiveFailures++
		state.FailuresTotal++
		return state
	}
	state.Err = nil
	state.ConsecutiveFailures = 0
	state.LastSuccess = end
	state.Section = section
	return state
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
	if r.MaxBackoff > r.Interval && d > r.MaxBackoff {
		d = r.MaxBackoff
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
