package ratelimiter

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// maxMissingNamed bounds how many missing fields an error lists, so that a
// list of a hundred broken entries still makes a short message.
const maxMissingNamed = 5

// decode unmarshals an answer's body into v. Unknown fields are ignored (the
// contract allows them); anything else that is not the expected JSON fails.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: decode JSON: %w", ErrBadAnswer, err)
	}
	return nil
}

// fields collects the required fields an answer lacks. Wire structs hold
// pointers so that a missing field (or null) is told apart from a zero.
type fields struct {
	missing []string
}

// need returns *p, or records name as missing when p is nil.
func need[T any](f *fields, name string, p *T) T {
	if p == nil {
		f.missing = append(f.missing, name)
		var zero T
		return zero
	}
	return *p
}

// err reports the missing fields, if any.
func (f *fields) err() error {
	n := len(f.missing)
	if n == 0 {
		return nil
	}
	names := f.missing
	if n > maxMissingNamed {
		names = names[:maxMissingNamed]
	}
	msg := strings.Join(names, ", ")
	if n > maxMissingNamed {
		msg += fmt.Sprintf(" and %d more", n-maxMissingNamed)
	}
	return fmt.Errorf("%w: missing required field(s): %s", ErrBadAnswer, msg)
}

// millis converts a window in milliseconds, refusing values no window has.
func millis(name string, ms int64) (time.Duration, error) {
	if ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, fmt.Errorf("%w: %s %d out of range", ErrBadAnswer, name, ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// seconds converts a whole number of seconds, refusing values out of range.
func seconds(name string, s int64) (time.Duration, error) {
	if s < 0 || s > math.MaxInt64/int64(time.Second) {
		return 0, fmt.Errorf("%w: %s %d out of range", ErrBadAnswer, name, s)
	}
	return time.Duration(s) * time.Second, nil
}

type wireHealth struct {
	Status *string `json:"status"`
	NodeID *string `json:"node_id"`
}

type wireNodes struct {
	Nodes *[]wirePeer `json:"nodes"`
}

type wirePeer struct {
	ID           *string `json:"id"`
	Address      *string `json:"address"`
	State        *string `json:"state"`
	RegisteredAt *string `json:"registered_at"` // null or absent: unknown
}

type wireCounters struct {
	Counters *[]wireCounter `json:"counters"`
}

type wireCounter struct {
	Key       *string `json:"key"`
	Count     *int64  `json:"count"`
	Limit     *int64  `json:"limit"`
	Remaining *int64  `json:"remaining"`
}

type wireLimits struct {
	DefaultLimit    *int64 `json:"default_limit"`
	DefaultWindowMs *int64 `json:"default_window_ms"`
}

type wireBlocks struct {
	Blocked *[]wireBlock `json:"blocked"`
}

type wireBlock struct {
	Key          *string `json:"key"`
	CurrentCount *int64  `json:"current_count"`
	Limit        *int64  `json:"limit"`
}

type wireCheckRequest struct {
	Key      string `json:"key"`
	Limit    *int64 `json:"limit,omitempty"`
	WindowMs int64  `json:"window_ms,omitempty"`
}

type wireCheck struct {
	Allowed           *bool  `json:"allowed"`
	CurrentCount      *int64 `json:"current_count"`
	Remaining         *int64 `json:"remaining"`
	RetryAfterSeconds *int64 `json:"retry_after_seconds"`
}

type wireReset struct {
	Key   *string `json:"key"`
	Reset *bool   `json:"reset"`
}

type wireSetLimitRequest struct {
	Limit    int64 `json:"limit"`
	WindowMs int64 `json:"window_ms,omitempty"`
}

type wireLimitUpdate struct {
	Key      *string `json:"key"`
	Limit    *int64  `json:"limit"`
	WindowMs *int64  `json:"window_ms"`
	Updated  *bool   `json:"updated"`
}
