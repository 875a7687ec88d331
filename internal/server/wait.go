package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

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

// bound holds a number of requests at once, and refuses one past it at
// once with 503 and Retry-After rather than queueing it: a client that
// polls gets a fresh answer at its next poll, and memory does not grow
// with the clients waiting. A nil bound holds any number.
type bound struct {
	slots   chan struct{}
	refusal string // names the setting
}

// newBound returns a bound of n requests, nil for n <= 0; refusal is the
// text of a refused answer, formatted with n.
func newBound(n int, refusal string) *bound {
	if n <= 0 {
		return nil
	}
	return &bound{slots: make(chan struct{}, n), refusal: fmt.Sprintf(refusal, n)}
}

// take takes a slot, or refuses w and reports false when every slot is
// taken. A slot taken is given back with release.
func (b *bound) take(w http.ResponseWriter) bool {
	if b == nil {
		return true
	}
	select {
	case b.slots <- struct{}{}:
		return true
	default:
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Retry-After", "1")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, b.refusal)
	return false
}

func (b *bound) release() {
	if b != nil {
		<-b.slots
	}
}

// wrap returns next held to b.
func (b *bound) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.take(w) {
			defer b.release()
			next.ServeHTTP(w, r)
		}
	})
}

// newer returns the current snapshot once it is not the one numbered
// after: at once when it is not (a newer one, or an older number after
// observerd restarted), else when a snapshot is published. Past wait, or
// once the server shuts down, it returns the current one, nil before the
// first; when ctx ends (the client left) it returns nil.
func newer(ctx context.Context, store Loader, after uint64, wait time.Duration) *snapshot.Published {
	timeout, drain := time.After(wait), draining(ctx)
	for {
		p, ch := other(store, after)
		if p != nil {
			return p
		}
		select {
		case <-ch:
		case <-timeout:
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
