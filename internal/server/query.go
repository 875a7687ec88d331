package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// snapshotQuery is what a request to /snapshot or /events asks beyond the
// path. Parameters it does not know, such as a cache buster, are ignored.
type snapshotQuery struct {
	sel selection // 0: the whole snapshot
	// poll is set by after: wait up to wait for a snapshot other than
	// the one numbered after.
	poll  bool
	after uint64
	wait  time.Duration
	// at, when set, asks for the kept summary in force at that time
	// (history.ParseTime reads it), not for the current snapshot.
	at    string
	hasAt bool
}

// paramError is a query parameter with a bad value.
type paramError struct {
	param string
	err   error
	valid []string // the values it takes, when they are few
}

func (e *paramError) Error() string { return e.param + ": " + e.err.Error() }

// parseQuery reads the parameters of raw: sections always, after, wait
// and at when poll is set (on /snapshot). A wait above maxWait is cut to it.
func parseQuery(raw string, sections *selector, poll bool, maxWait time.Duration) (snapshotQuery, *paramError) {
	var q snapshotQuery
	values, err := url.ParseQuery(raw)
	if err != nil {
		return q, &paramError{param: "query", err: err}
	}
	if v, ok := values["sections"]; ok {
		if q.sel, err = sections.parse(v); err != nil {
			return q, &paramError{param: "sections", err: err, valid: sections.names}
		}
	}
	if !poll {
		return q, nil
	}
	if _, ok := values["after"]; ok {
		if q.after, err = strconv.ParseUint(values.Get("after"), 10, 64); err != nil {
			return q, &paramError{param: "after", err: fmt.Errorf("%q is not a snapshot sequence number", values.Get("after"))}
		}
		q.poll, q.wait = true, min(defaultPollWait, maxWait)
	}
	if _, ok := values["at"]; ok {
		if q.poll || values.Has("wait") {
			return q, &paramError{param: "at", err: errors.New("not with after or wait: a summary of the past never changes, there is nothing to wait for")}
		}
		q.at, q.hasAt = values.Get("at"), true
	}
	if _, ok := values["wait"]; ok {
		if !q.poll {
			return q, &paramError{param: "wait", err: errors.New("needs after, the sequence of the snapshot the client has")}
		}
		if q.wait, err = parseWait(values.Get("wait")); err != nil {
			return q, &paramError{param: "wait", err: err}
		}
		q.wait = min(q.wait, maxWait)
	}
	return q, nil
}

// parseWait reads a wait as a Go duration (30s, 1m) or a number of
// seconds (30, 2.5).
func parseWait(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is neither a duration (30s) nor a number of seconds", v)
		}
		d = time.Duration(min(f, math.MaxInt64/float64(time.Second)) * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

// write answers 400 with a JSON error naming the parameter.
func (e *paramError) write(w http.ResponseWriter) {
	body := map[string]any{"error": e.Error(), "parameter": e.param}
	if e.valid != nil {
		body["valid"] = e.valid
	}
	writeJSON(w, http.StatusBadRequest, body)
}
