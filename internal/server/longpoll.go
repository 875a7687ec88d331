package server

import "net/http"

// statusClientClosed is the code counted for a request whose client left
// before its answer, as nginx logs it; nothing is written.
const statusClientClosed = 499

// longPoll answers /snapshot?after=N: as soon as a snapshot other than
// number N is current, or at the end of the wait (or of the server) with
// the current one. It holds a slot of waiting for its whole life, none of
// busy: a publish wakes every waiting client at once, and a bound on
// answers under way would refuse most of them.
func (s *snapshotHandler) longPoll(w http.ResponseWriter, r *http.Request, q snapshotQuery) int {
	if !s.waiting.enter(s.gauge) {
		return s.waiting.refuse(w)
	}
	defer s.waiting.leave(s.gauge)
	extendDeadlines(w, q.wait+writeTimeout)
	p := newer(r.Context(), s.store, q.after, q.wait)
	if r.Context().Err() != nil {
		return statusClientClosed
	}
	return s.answer(w, r, p, q.sel)
}
