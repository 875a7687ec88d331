package server

import (
	"net/http"
	"strconv"
)

// busyLimit bounds the requests of the heavy endpoints answered at once.
// A request past the bound is refused at once rather than queued: a
// client that polls gets a fresh answer at its next poll, and memory does
// not grow with the number of clients waiting.
type busyLimit struct {
	slots chan struct{} // nil: no bound
	body  []byte
}

func newBusyLimit(max int) busyLimit {
	if max <= 0 {
		return busyLimit{}
	}
	return busyLimit{
		slots: make(chan struct{}, max),
		body:  []byte("observerd is answering " + strconv.Itoa(max) + " requests already (OBSERVERD_WEB_MAX_REQUESTS); retry in a second\n"),
	}
}

// wrap returns serve held to the bound: past it the answer is 503 with
// Retry-After.
func (b busyLimit) wrap(serve func(http.ResponseWriter, *http.Request) int) func(http.ResponseWriter, *http.Request) int {
	if b.slots == nil {
		return serve
	}
	return func(w http.ResponseWriter, r *http.Request) int {
		select {
		case b.slots <- struct{}{}:
		default:
			h := w.Header()
			h["Content-Type"] = []string{"text/plain; charset=utf-8"}
			h["Retry-After"] = []string{"1"}
			h["Cache-Control"] = []string{"no-store"}
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(b.body)
			return http.StatusServiceUnavailable
		}
		defer func() { <-b.slots }()
		return serve(w, r)
	}
}
