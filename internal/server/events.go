package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryHint is how long a browser's EventSource waits before it connects
// again after the stream ends, sent as the stream's retry field.
const retryHint = 2 * time.Second

// keepAlive is the heartbeat: a comment, which EventSource ignores.
var keepAlive = []byte(": keep-alive\n\n")

// events streams every published snapshot as a Server-Sent Event numbered
// by its sequence, until the client leaves or the server shuts down. A slow
// client is sent the newest snapshot once it has taken the last one, never
// a queue of those it missed.
func (e *reads) events(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	e.cors.apply(h, r.Header)
	h.Set("Cache-Control", "no-cache")
	q, err := parseQuery(r.URL.RawQuery, e.sel, false, 0)
	if err != nil {
		err.write(w)
		return
	}
	h.Set("Content-Type", "text/event-stream")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	if !e.held.take(w) {
		return
	}
	defer e.held.release()
	e.streams.Inc()
	defer e.streams.Dec()
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(chunks ...[]byte) error {
		// Each write moves the deadline on (see writeTimeout), beyond
		// the gap to the next write, the heartbeat at most.
		_ = rc.SetWriteDeadline(time.Now().Add(e.heartbeat + writeTimeout))
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				return err
			}
		}
		return rc.Flush()
	}
	if send([]byte("retry: "+strconv.FormatInt(retryHint.Milliseconds(), 10)+"\n\n")) == nil {
		e.stream(r.Context(), send, lastEventID(r.Header), q.sel)
	}
}

// stream sends each snapshot other than number last, beginning with the
// current one, and a heartbeat comment between them so that proxies keep
// the connection open. JSON from encoding/json has no raw newline, so a
// snapshot fits on the one data line of its event.
func (e *reads) stream(ctx context.Context, send func(...[]byte) error, last uint64, sel selection) {
	tick := time.NewTicker(e.heartbeat)
	defer tick.Stop()
	drain := draining(ctx)
	for {
		p, ch := other(e.store, last)
		if p != nil {
			last = p.Snapshot.Sequence
			if send([]byte("id: "+strconv.FormatUint(last, 10)+"\nevent: snapshot\ndata: "), e.sel.get(p, sel).json, []byte("\n\n")) != nil {
				return
			}
			continue
		}
		select {
		case <-ch:
		case <-tick.C:
			if send(keepAlive) != nil {
				return
			}
		case <-drain:
			return
		case <-ctx.Done():
			return
		}
	}
}

// lastEventID is the sequence in Last-Event-ID, which a browser sends
// when it connects again; 0 when absent or not a sequence.
func lastEventID(h http.Header) uint64 {
	n, err := strconv.ParseUint(strings.TrimSpace(h.Get("Last-Event-ID")), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
