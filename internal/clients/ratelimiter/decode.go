package ratelimiter

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/timestamp"
)

// maxProblemsNamed bounds how many problems an error lists, so that a list
// of a hundred broken entries still makes a short message and a huge one
// costs no memory beyond a counter.
const maxProblemsNamed = 5

// maxCount is the most members a Redis sorted set holds (2^32 - 1): a count
// of requests in a window above it cannot come from the contract's layout.
const maxCount = 1<<32 - 1

// maxWindow bounds a plausible sliding window. A longer one is a unit
// mistake rather than a setting: the default 60 s written in nanoseconds
// reads as 694 days of milliseconds.
const maxWindow = 366 * 24 * time.Hour

// maxTimestampLen bounds a registered_at string: isoformat() with
// microseconds and an offset is 32 bytes, and an error quotes the value.
const maxTimestampLen = 64

// Plausible timestamps are those a time.Time holds in Unix nanoseconds
// (1970 to 2262): an earlier registration is a zero or garbage value, and
// consumers compute ages in nanoseconds.
var (
	minTimestamp = time.Unix(0, 0).UTC()
	maxTimestamp = time.Unix(0, math.MaxInt64).UTC()
)

// span is the plausible range of an integer field, inclusive.
type span struct{ min, max int64 }

var (
	// countSpan is a number of requests in a window.
	countSpan = span{0, maxCount}
	// limitSpan is a limit or a remaining allowance. A huge limit is a
	// legitimate "unlimited"; only a negative one is nonsense.
	limitSpan = span{0, math.MaxInt64}
	// windowMsSpan is a window in milliseconds: 0 would block nothing and
	// count nothing, so no node runs with it.
	windowMsSpan = span{1, maxWindow.Milliseconds()}
	// retrySpan is a wait in seconds, never longer than a window.
	retrySpan = span{0, int64(maxWindow / time.Second)}
)

// decodeAs unmarshals body into the wire struct W and builds the answer
// from it with build, which records in f every field that is missing or
// implausible. Unknown fields are ignored (the contract allows them);
// anything else that is not the expected JSON, or any field recorded, is
// ErrBadAnswer.
func decodeAs[W, T any](body []byte, build func(w *W, f *fields) T) (T, error) {
	var (
		w    W
		f    fields
		zero T
	)
	if err := json.Unmarshal(body, &w); err != nil {
		return zero, fmt.Errorf("%w: decode JSON: %w", ErrBadAnswer, err)
	}
	v := build(&w, &f)
	if err := f.err(); err != nil {
		return zero, err
	}
	return v, nil
}

// name is a field's path in an answer, such as counters[3].count. It is
// formatted only when a problem is reported, so that checking a long list
// allocates nothing per entry.
type name struct {
	list  string // "" for a top-level field
	index int
	field string
}

// top names a top-level field.
func top(field string) name { return name{field: field} }

// at names a field of entry i of list.
func at(list string, i int, field string) name { return name{list: list, index: i, field: field} }

func (n name) String() string {
	if n.list == "" {
		return n.field
	}
	return n.list + "[" + strconv.Itoa(n.index) + "]." + n.field
}

// fields collects what is wrong with an answer: required fields that are
// missing (wire structs hold pointers so that a missing field or null is
// told apart from a zero) and values no node can mean.
type fields struct {
	problems []string // the first maxProblemsNamed
	n        int      // all of them
}

// report records a problem; text is called only while it will be shown.
func (f *fields) report(text func() string) {
	f.n++
	if len(f.problems) < maxProblemsNamed {
		f.problems = append(f.problems, text())
	}
}

// need returns *p, or records n as missing when p is nil.
func need[T any](f *fields, n name, p *T) T {
	if p == nil {
		f.report(func() string { return n.String() + " missing" })
		var zero T
		return zero
	}
	return *p
}

// int returns the required *p, recording it when missing or outside s.
func (f *fields) int(n name, p *int64, s span) int64 {
	v := need(f, n, p)
	if p != nil {
		f.inSpan(n, v, s)
	}
	return v
}

// inSpan records v unless it lies in s.
func (f *fields) inSpan(n name, v int64, s span) {
	if v < s.min || v > s.max {
		f.report(func() string { return fmt.Sprintf("%s = %d, want %s", n, v, s) })
	}
}

func (s span) String() string {
	if s.max == math.MaxInt64 {
		return fmt.Sprintf("at least %d", s.min)
	}
	return fmt.Sprintf("%d to %d", s.min, s.max)
}

// text returns the required *p, recording it when missing or empty.
func (f *fields) text(n name, p *string) string {
	v := need(f, n, p)
	if p != nil && v == "" {
		f.report(func() string { return n.String() + " is empty" })
	}
	return v
}

// timestamp parses an optional registered_at; nil when null, absent or
// empty (quirk: a node may not know when it registered).
func (f *fields) timestamp(n name, p *string, loc *time.Location) *time.Time {
	if p == nil || *p == "" {
		return nil
	}
	if len(*p) > maxTimestampLen {
		f.report(func() string { return fmt.Sprintf("%s: %d bytes, longer than any timestamp", n, len(*p)) })
		return nil
	}
	t, err := timestamp.Parse(*p, loc)
	if err != nil {
		f.report(func() string { return n.String() + ": " + err.Error() })
		return nil
	}
	if t.Before(minTimestamp) || t.After(maxTimestamp) {
		f.report(func() string { return fmt.Sprintf("%s = %s, want between 1970 and 2262", n, t.Format(time.RFC3339)) })
		return nil
	}
	return &t
}

// err reports the problems, if any, as ErrBadAnswer.
func (f *fields) err() error {
	if f.n == 0 {
		return nil
	}
	msg := strings.Join(f.problems, "; ")
	if more := f.n - len(f.problems); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return fmt.Errorf("%w: %s", ErrBadAnswer, msg)
}
