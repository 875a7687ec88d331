package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// retryHint is how long a browser's EventSource waits before it connects
// again after the stream ends, sent as the stream's retry field.
const retryHint = 2 * time.Second

// keepAlive is the heartbeat: a comment, which EventSource ignores.
var keepAlive = []byte(": keep-alive\n\n")

// eventsHandler streams every published snapshot as a Server-Sent Event
// numbered by its sequence. A slow client is sent the newest snapshot
// once it has taken the last one, never a queue of those it missed.
type eventsHandler struct {
	store     Loader
	cors      *corsPolicy
	sel       *selector
	held      *bound           // long-polls and /events streams
	gauge     prometheus.Gauge // streams open now
	heartbeat time.Duration
}

// ServeHTTP streams until the client leaves or the server shuts down.
func (e *eventsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	e.cors.apply(h, r.Header)
	h.Set("Cache-Control", "no-cache")
	q, err := parseQuery(r.URL.RawQuery, e.sel, false, 0)
	if err != nil {
		writeParamError(w, err)
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
	e.gauge.Inc()
	defer e.gauge.Dec()
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// Each write moves the deadline on (see eventStream), past the
	// server's WriteTimeout, which would cut the stream.
	st := &eventStream{w: w, rc: http.NewResponseController(w), timeout: e.heartbeat + writeTimeout}
	if st.send([]byte("retry: "+strconv.FormatInt(retryHint.Milliseconds(), 10)+"\n\n")) == nil {
		e.stream(r.Context(), st, lastEventID(r.Header), q.sel)
	}
}

// stream sends each snapshot other than number last, beginning with the
// current one, and a heartbeat comment between them so that proxies keep
// the connection open.
func (e *eventsHandler) stream(ctx context.Context, st *eventStream, last uint64, sel selection) {
	tick := time.NewTicker(e.heartbeat)
	defer tick.Stop()
	drain := draining(ctx)
	for {
		p, ch := other(e.store, last)
		if p != nil {
			data := p.JSON
			if sel != 0 {
				data = e.sel.get(p, sel).json
			}
			if st.event(p.Snapshot.Sequence, data) != nil {
				return
			}
			last = p.Snapshot.Sequence
			continue
		}
		select {
		case <-ch:
		case <-tick.C:
			if st.send(keepAlive) != nil {
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

// eventStream writes Server-Sent Events to one client.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// timeout bounds each write; it outlasts the gap to the next write,
	// the heartbeat at most, so the deadline moves on before it passes.
	timeout time.Duration
}

// event writes one snapshot event. JSON from encoding/json has no raw
// newline, so data fits on one line.
func (s *eventStream) event(seq uint64, data []byte) error {
	return s.send([]byte("id: "+strconv.FormatUint(seq, 10)+"\nevent: snapshot\ndata: "), data, []byte("\n\n"))
}

// send writes chunks under a fresh write deadline and flushes them.
func (s *eventStream) send(chunks ...[]byte) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	for _, c := range chunks {
		if _, err := s.w.Write(c); err != nil {
			return err
		}
	}
	return s.rc.Flush()
}
