package server

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/observerd/observerd/internal/snapshot"
)

// Defaults of the waits, where Config leaves them zero.
const (
	defaultMaxWaiting = 256
	defaultMaxWait    = 60 * time.Second
	// defaultPollWait is the wait of a long-poll that names no wait.
	defaultPollWait  = 30 * time.Second
	defaultHeartbeat = 15 * time.Second
	// writeTimeout bounds the write of one answer or one event once its
	// wait is over, in place of the server's WriteTimeout, which counts
	// from the request and would cut every wait longer than it.
	writeTimeout = 30 * time.Second
)

// waitLimit bounds the requests that wait for a new snapshot, long-polls
// and /events streams together. Like busyLimit it refuses past the bound
// rather than queueing. Each handler counts its own in a gauge.
type waitLimit struct {
	max  int64
	held atomic.Int64
	body []byte
}

func newWaitLimit(max int) *waitLimit {
	if max <= 0 {
		max = defaultMaxWaiting
	}
	return &waitLimit{
		max:  int64(max),
		body: []byte("observerd holds " + strconv.Itoa(max) + " waiting clients already (OBSERVERD_WEB_MAX_WAITING); retry in a second\n"),
	}
}

// enter takes a slot and counts it in gauge, or reports false when every
// slot is taken.
func (l *waitLimit) enter(gauge prometheus.Gauge) bool {
	if l.held.Add(1) > l.max {
		l.held.Add(-1)
		return false
	}
	gauge.Inc()
	return true
}

// leave gives back the slot enter took.
func (l *waitLimit) leave(gauge prometheus.Gauge) {
	gauge.Dec()
	l.held.Add(-1)
}

// refuse answers a request past the bound.
func (l *waitLimit) refuse(w http.ResponseWriter) int { return refuse(w, l.body) }

// newer returns the current snapshot once it is not the one numbered
// after: at once when it is not (a newer one, or an older number after
// observerd restarted), else when a snapshot is published. Past wait, or
// once the server shuts down, it returns the current one, nil before the
// first; when ctx ends (the client left) it returns nil.
func newer(ctx context.Context, store Loader, after uint64, wait time.Duration) *snapshot.Published {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	drain := draining(ctx)
	for {
		p, ch := other(store, after)
		if p != nil {
			return p
		}
		select {
		case <-ch:
		case <-timer.C:
			return store.Load()
		case <-drain:
			return store.Load()
		case <-ctx.Done():
			return nil
		}
	}
}

// other returns the current snapshot when it is not the one numbered
// after, else nil and a channel closed at the next publish. The channel
// is taken before the snapshot is loaded: a publish in between is then
// either the snapshot returned or one that closes the channel.
func other(store Loader, after uint64) (*snapshot.Published, <-chan struct{}) {
	ch := store.Changed()
	if p := store.Load(); p != nil && p.Snapshot.Sequence != after {
		return p, nil
	}
	return nil, ch
}

// extendDeadlines lets the answer to w take d from now: the server's
// WriteTimeout counts from the request, and would cut every wait longer
// than it. (Its ReadTimeout does not matter: net/http lifts the read
// deadline once the request is read.) A writer that cannot set deadlines,
// such as a test recorder, has none to extend.
func extendDeadlines(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}
