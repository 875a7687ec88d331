package server

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// busyLimit bounds the requests of the heavy endpoints answered at once.
// A request past the bound is refused at once rather than queued: a
// client that polls gets a fresh answer at its next poll, and memory does
// not grow with the number of clients waiting.
type busyLimit struct {
	max      int64 // 0: no bound
	inFlight *atomic.Int64
	body     []byte
}

func newBusyLimit(max int) busyLimit {
	if max <= 0 {
		return busyLimit{}
	}
	return busyLimit{
		max:      int64(max),
		inFlight: new(atomic.Int64),
		body:     []byte("observerd is answering " + strconv.Itoa(max) + " requests already (OBSERVERD_WEB_MAX_REQUESTS); retry in a second\n"),
	}
}

// wrap returns serve held to the bound: past it the answer is 503 with
// Retry-After.
func (b busyLimit) wrap(serve func(http.ResponseWriter, *http.Request) int) func(http.ResponseWriter, *http.Request) int {
	if b.max == 0 {
		return serve
	}
	return func(w http.ResponseWriter, r *http.Request) int {
		if !b.enter() {
			return refuse(w, b.body)
		}
		defer b.leave()
		return serve(w, r)
	}
}

// enter takes a slot, or reports false when every one is taken. One
// atomic add each way: cheaper than a channel on the path every poll of
// /snapshot takes.
func (b busyLimit) enter() bool {
	if b.max == 0 {
		return true
	}
	if b.inFlight.Add(1) > b.max {
		b.inFlight.Add(-1)
		return false
	}
	return true
}

// leave gives back the slot enter took.
func (b busyLimit) leave() {
	if b.max != 0 {
		b.inFlight.Add(-1)
	}
}

// refuse answers 503 with Retry-After and body, which names the bound.
func refuse(w http.ResponseWriter, body []byte) int {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Retry-After"] = []string{"1"}
	h["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(body)
	return http.StatusServiceUnavailable
}
