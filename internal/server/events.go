package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
)

// Header values of /events, shared as those of /snapshot are.
var (
	eventStreamValue = []string{"text/event-stream"}
	noBufferingValue = []string{"no"}
	originValue      = []string{"Origin"}
)

// retryHint is how long a browser's EventSource waits before it connects
// again after the stream ends, sent as the stream's retry field.
const retryHint = 2 * time.Second

// eventsHandler streams every published snapshot as a Server-Sent Event
// numbered by its sequence. A slow client is sent the newest snapshot
// once it has taken the last one, never a queue of those it missed.
type eventsHandler struct {
	store     Loader
	cors      corsPolicy
	waiting   *waitLimit
	gauge     prometheus.Gauge // streams open now
	fields    *snapshotFields
	sel       *selections
	heartbeat time.Duration
	logger    *zap.Logger
}

// serve streams until the client leaves or the server shuts down, and
// returns the status code it wrote, for the request counter.
func (e *eventsHandler) serve(w http.ResponseWriter, r *http.Request) int {
	h := w.Header()
	e.cors.apply(h, r.Header)
	if e.cors.enabled() {
		h["Vary"] = originValue
	}
	h["Cache-Control"] = noCacheValue
	q, err := parseQuery(r.URL.RawQuery, e.fields, false, 0)
	if err != nil {
		return writeParamError(w, err)
	}
	if r.Method == http.MethodHead {
		h["Content-Type"] = eventStreamValue
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	}
	if !e.waiting.enter(e.gauge) {
		return e.waiting.refuse(w)
	}
	defer e.waiting.leave(e.gauge)
	h["Content-Type"] = eventStreamValue
	h["X-Accel-Buffering"] = noBufferingValue
	w.WriteHeader(http.StatusOK)
	extendDeadlines(w, e.heartbeat+writeTimeout)
	st := &eventStream{w: w, rc: http.NewResponseController(w), timeout: e.heartbeat + writeTimeout}
	if st.send([]byte("retry: "+strconv.FormatInt(retryHint.Milliseconds(), 10)+"\n\n")) != nil {
		return http.StatusOK
	}
	e.stream(r.Context(), st, lastEventID(r.Header), q.sel)
	return http.StatusOK
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
			if e.send(st, p, sel) != nil {
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

// send writes p, or sel of it, as one event.
func (e *eventsHandler) send(st *eventStream, p *snapshot.Published, sel selection) error {
	data := p.JSON
	if sel != 0 {
		a, err := e.sel.get(p, sel)
		if err != nil {
			e.logger.Error("encode snapshot sections", zap.Error(err))
			return err
		}
		data = a.json
	}
	return st.event(p.Snapshot.Sequence, data)
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

// keepAlive is the heartbeat: a comment, which EventSource ignores.
var keepAlive = []byte(": keep-alive\n\n")

// eventStream writes Server-Sent Events to one client.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	// timeout bounds each write; it outlasts the gap to the next write,
	// the heartbeat at most, so the deadline moves on before it passes.
	timeout time.Duration
	head    []byte // reused
}

// event writes one snapshot event. JSON from encoding/json has no raw
// newline, so data fits on one line.
func (s *eventStream) event(seq uint64, data []byte) error {
	s.head = append(s.head[:0], "id: "...)
	s.head = strconv.AppendUint(s.head, seq, 10)
	s.head = append(s.head, "\nevent: snapshot\ndata: "...)
	return s.send(s.head, data, []byte("\n\n"))
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
