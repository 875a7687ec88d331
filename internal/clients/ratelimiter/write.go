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
	res, err := decodeCheck(a.status, a.header, a.body)
	if err != nil {
		return CheckResult{}, c.errorf(http.MethodPost, PathCheck, err)
	}
	return res, nil
}

// decodeCheck decodes a /check answer of the given status and headers.
func decodeCheck(status int, header http.Header, body []byte) (CheckResult, error) {
	var w wireCheck
	if err := decode(body, &w); err != nil {
		return CheckResult{}, err
	}
	var f fields
	res := CheckResult{
		Allowed:      need(&f, top("allowed"), w.Allowed),
		CurrentCount: f.int(top("current_count"), w.CurrentCount, countSpan),
		Remaining:    f.int(top("remaining"), w.Remaining, limitSpan),
	}
	if w.RetryAfterSeconds != nil {
		f.inSpan(top("retry_after_seconds"), *w.RetryAfterSeconds, retrySpan)
		res.RetryAfter = time.Duration(*w.RetryAfterSeconds) * time.Second
	}
	res.HeaderLimit = headerInt(&f, header, "X-RateLimit-Limit", limitSpan)
	res.HeaderRemaining = headerInt(&f, header, "X-RateLimit-Remaining", limitSpan)
	if reset := headerInt(&f, header, "X-RateLimit-Reset", retrySpan); reset != nil {
		d := time.Duration(*reset) * time.Second
		res.HeaderReset = &d
	}
	if err := f.err(); err != nil {
		return CheckResult{}, err
	}
	if res.Allowed != (status == http.StatusOK) {
		return CheckResult{}, fmt.Errorf("%w: status %d with allowed=%t", ErrBadAnswer, status, res.Allowed)
	}
	return res, nil
}

// headerInt reads an optional integer header within s; nil when absent or
// bad (and then recorded in f).
func headerInt(f *fields, h http.Header, key string, s span) *int64 {
	raw := h.Get(key)
	if raw == "" {
		return nil
	}
	n := name{index: -1, field: "header " + key}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		f.report(func() string { return n.String() + ": " + err.Error() })
		return nil
	}
	f.inSpan(n, v, s)
	return &v
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
	res, err := decodeReset(a.body)
	if err != nil {
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
	res, err := decodeLimitOverride(a.body)
	if err != nil {
		return LimitOverride{}, c.errorf(http.MethodPut, path, err)
	}
	return res, nil
}

func decodeReset(body []byte) (ResetResult, error) {
	var w wireReset
	if err := decode(body, &w); err != nil {
		return ResetResult{}, err
	}
	var f fields
	res := ResetResult{Key: need(&f, top("key"), w.Key), Reset: need(&f, top("reset"), w.Reset)}
	if err := f.err(); err != nil {
		return ResetResult{}, err
	}
	return res, nil
}

func decodeLimitOverride(body []byte) (LimitOverride, error) {
	var w wireLimitUpdate
	if err := decode(body, &w); err != nil {
		return LimitOverride{}, err
	}
	var f fields
	res := LimitOverride{
		Key:     need(&f, top("key"), w.Key),
		Limit:   f.int(top("limit"), w.Limit, limitSpan),
		Window:  millis(f.int(top("window_ms"), w.WindowMs, windowMsSpan)),
		Updated: need(&f, top("updated"), w.Updated),
	}
	if err := f.err(); err != nil {
		return LimitOverride{}, err
	}
	return res, nil
}
