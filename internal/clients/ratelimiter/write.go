package ratelimiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrEmptyKey is returned, before any request, for an empty key.
var ErrEmptyKey = errors.New("empty key")

// CheckRequest is the body of POST /check.
type CheckRequest struct {
	Key string
	// Limit is the limit to apply; nil means the node's default. A limit of
	// 0 is a real value (it blocks everything), hence the pointer.
	Limit *int64
	// Window is the sliding window, sent in whole milliseconds; 0 means the
	// node's default.
	Window time.Duration
}

// CheckResult is a node's decision. A blocked request (status 429) is an
// answer, not an error.
type CheckResult struct {
	Allowed      bool
	CurrentCount int64
	Remaining    int64
	RetryAfter   time.Duration
	// The X-RateLimit-* headers; nil when the node did not send them
	// (Reset is sent only when blocked).
	HeaderLimit     *int64
	HeaderRemaining *int64
	HeaderReset     *time.Duration
}

// ResetResult is the answer of POST /api/counters/{key}/reset.
type ResetResult struct {
	Key   string
	Reset bool
}

// LimitOverride is the answer of PUT /api/limits/{key}.
type LimitOverride struct {
	Key     string
	Limit   int64
	Window  time.Duration
	Updated bool
}

// Check asks POST /check. It counts as a request against the key.
func (c *Client) Check(ctx context.Context, r CheckRequest) (CheckResult, error) {
	if r.Key == "" {
		return CheckResult{}, c.errorf(http.MethodPost, PathCheck, ErrEmptyKey)
	}
	if r.Window < 0 || (r.Window > 0 && r.Window < time.Millisecond) {
		return CheckResult{}, c.errorf(http.MethodPost, PathCheck, fmt.Errorf("window %s: want 0 or at least 1ms", r.Window))
	}
	body := wireCheckRequest{Key: r.Key, Limit: r.Limit, WindowMs: r.Window.Milliseconds()}
	a, err := c.do(ctx, call{
		method:   http.MethodPost,
		path:     PathCheck,
		body:     body,
		okStatus: []int{http.StatusOK, http.StatusTooManyRequests},
	})
	if err != nil {
		return CheckResult{}, err
	}
	res, err := c.checkResult(a)
	if err != nil {
		return CheckResult{}, c.errorf(http.MethodPost, PathCheck, err)
	}
	return res, nil
}

func (c *Client) checkResult(a *answer) (CheckResult, error) {
	var w wireCheck
	if err := decode(a.body, &w); err != nil {
		return CheckResult{}, err
	}
	var f fields
	res := CheckResult{
		Allowed:      need(&f, "allowed", w.Allowed),
		CurrentCount: need(&f, "current_count", w.CurrentCount),
		Remaining:    need(&f, "remaining", w.Remaining),
	}
	if err := f.err(); err != nil {
		return CheckResult{}, err
	}
	if res.Allowed != (a.status == http.StatusOK) {
		return CheckResult{}, fmt.Errorf("%w: status %d with allowed=%t", ErrBadAnswer, a.status, res.Allowed)
	}
	if w.RetryAfterSeconds != nil {
		d, err := seconds("retry_after_seconds", *w.RetryAfterSeconds)
		if err != nil {
			return CheckResult{}, err
		}
		res.RetryAfter = d
	}
	var err error
	if res.HeaderLimit, err = headerInt(a.header, "X-RateLimit-Limit"); err != nil {
		return CheckResult{}, err
	}
	if res.HeaderRemaining, err = headerInt(a.header, "X-RateLimit-Remaining"); err != nil {
		return CheckResult{}, err
	}
	reset, err := headerInt(a.header, "X-RateLimit-Reset")
	if err != nil {
		return CheckResult{}, err
	}
	if reset != nil {
		d, err := seconds("X-RateLimit-Reset", *reset)
		if err != nil {
			return CheckResult{}, err
		}
		res.HeaderReset = &d
	}
	return res, nil
}

// headerInt reads an integer header; nil when absent.
func headerInt(h http.Header, name string) (*int64, error) {
	s := h.Get(name)
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: header %s: %w", ErrBadAnswer, name, err)
	}
	return &v, nil
}

// ResetCounter asks POST /api/counters/{key}/reset, which deletes the key's
// counter and its sequence key.
func (c *Client) ResetCounter(ctx context.Context, key string) (ResetResult, error) {
	path := PathCounters + "/" + url.PathEscape(key) + "/reset"
	if key == "" {
		return ResetResult{}, c.errorf(http.MethodPost, path, ErrEmptyKey)
	}
	a, err := c.do(ctx, call{method: http.MethodPost, path: path})
	if err != nil {
		return ResetResult{}, err
	}
	var w wireReset
	if err := decode(a.body, &w); err != nil {
		return ResetResult{}, c.errorf(http.MethodPost, path, err)
	}
	var f fields
	res := ResetResult{Key: need(&f, "key", w.Key), Reset: need(&f, "reset", w.Reset)}
	if err := f.err(); err != nil {
		return ResetResult{}, c.errorf(http.MethodPost, path, err)
	}
	return res, nil
}

// SetLimit asks PUT /api/limits/{key} to store a per-key override. A zero
// window is left out of the request, so the node picks its default.
func (c *Client) SetLimit(ctx context.Context, key string, limit int64, window time.Duration) (LimitOverride, error) {
	path := PathLimits + "/" + url.PathEscape(key)
	if key == "" {
		return LimitOverride{}, c.errorf(http.MethodPut, path, ErrEmptyKey)
	}
	if window < 0 || (window > 0 && window < time.Millisecond) {
		return LimitOverride{}, c.errorf(http.MethodPut, path, fmt.Errorf("window %s: want 0 or at least 1ms", window))
	}
	a, err := c.do(ctx, call{
		method: http.MethodPut,
		path:   path,
		body:   wireSetLimitRequest{Limit: limit, WindowMs: window.Milliseconds()},
	})
	if err != nil {
		return LimitOverride{}, err
	}
	res, err := limitOverride(a.body)
	if err != nil {
		return LimitOverride{}, c.errorf(http.MethodPut, path, err)
	}
	return res, nil
}

func limitOverride(body []byte) (LimitOverride, error) {
	var w wireLimitUpdate
	if err := decode(body, &w); err != nil {
		return LimitOverride{}, err
	}
	var f fields
	res := LimitOverride{
		Key:     need(&f, "key", w.Key),
		Limit:   need(&f, "limit", w.Limit),
		Updated: need(&f, "updated", w.Updated),
	}
	windowMs := need(&f, "window_ms", w.WindowMs)
	if err := f.err(); err != nil {
		return LimitOverride{}, err
	}
	window, err := millis("window_ms", windowMs)
	if err != nil {
		return LimitOverride{}, err
	}
	res.Window = window
	return res, nil
}
