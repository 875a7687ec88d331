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
	cl := call{
		method:   http.MethodPost,
		path:     PathCheck,
		body:     wireCheckRequest{Key: r.Key, Limit: r.Limit, WindowMs: r.Window.Milliseconds()},
		okStatus: []int{http.StatusOK, http.StatusTooManyRequests},
	}
	if err := checkRequest(r.Key, r.Window); err != nil {
		return CheckResult{}, c.errorf(cl.method, cl.path, err)
	}
	return ask(ctx, c, cl, func(a *answer) (CheckResult, error) { return decodeCheck(a.status, a.header, a.body) })
}

// checkRequest refuses, before any request, an empty key and a window
// that whole milliseconds cannot carry.
func checkRequest(key string, window time.Duration) error {
	switch {
	case key == "":
		return ErrEmptyKey
	case window < 0 || (window > 0 && window < time.Millisecond):
		return fmt.Errorf("window %s: want 0 or at least 1ms", window)
	}
	return nil
}

// decodeCheck decodes a /check answer of the given status and headers.
func decodeCheck(status int, header http.Header, body []byte) (CheckResult, error) {
	res, err := decodeAs(body, func(w *wireCheck, f *fields) CheckResult {
		res := CheckResult{
			Allowed:      need(f, top("allowed"), w.Allowed),
			CurrentCount: f.int(top("current_count"), w.CurrentCount, countSpan),
			Remaining:    f.int(top("remaining"), w.Remaining, limitSpan),
		}
		if w.RetryAfterSeconds != nil {
			f.inSpan(top("retry_after_seconds"), *w.RetryAfterSeconds, retrySpan)
			res.RetryAfter = time.Duration(*w.RetryAfterSeconds) * time.Second
		}
		res.HeaderLimit = headerInt(f, header, "X-RateLimit-Limit", limitSpan)
		res.HeaderRemaining = headerInt(f, header, "X-RateLimit-Remaining", limitSpan)
		if reset := headerInt(f, header, "X-RateLimit-Reset", retrySpan); reset != nil {
			d := time.Duration(*reset) * time.Second
			res.HeaderReset = &d
		}
		return res
	})
	if err == nil && res.Allowed != (status == http.StatusOK) {
		return CheckResult{}, fmt.Errorf("%w: status %d with allowed=%t", ErrBadAnswer, status, res.Allowed)
	}
	return res, err
}

// headerInt reads an optional integer header within s; nil when absent or
// bad (and then recorded in f).
func headerInt(f *fields, h http.Header, key string, s span) *int64 {
	raw := h.Get(key)
	if raw == "" {
		return nil
	}
	n := top("header " + key)
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
	cl := call{method: http.MethodPost, path: PathCounters + "/" + url.PathEscape(key) + "/reset"}
	if err := checkRequest(key, 0); err != nil {
		return ResetResult{}, c.errorf(cl.method, cl.path, err)
	}
	return ask(ctx, c, cl, func(a *answer) (ResetResult, error) { return decodeReset(a.body) })
}

// SetLimit asks PUT /api/limits/{key} to store a per-key override. A zero
// window is left out of the request, so the node picks its default.
func (c *Client) SetLimit(ctx context.Context, key string, limit int64, window time.Duration) (LimitOverride, error) {
	cl := call{
		method: http.MethodPut,
		path:   PathLimits + "/" + url.PathEscape(key),
		body:   wireSetLimitRequest{Limit: limit, WindowMs: window.Milliseconds()},
	}
	if err := checkRequest(key, window); err != nil {
		return LimitOverride{}, c.errorf(cl.method, cl.path, err)
	}
	return ask(ctx, c, cl, func(a *answer) (LimitOverride, error) { return decodeLimitOverride(a.body) })
}

func decodeReset(body []byte) (ResetResult, error) {
	return decodeAs(body, func(w *wireReset, f *fields) ResetResult {
		return ResetResult{Key: need(f, top("key"), w.Key), Reset: need(f, top("reset"), w.Reset)}
	})
}

func decodeLimitOverride(body []byte) (LimitOverride, error) {
	return decodeAs(body, func(w *wireLimitUpdate, f *fields) LimitOverride {
		return LimitOverride{
			Key:     need(f, top("key"), w.Key),
			Limit:   f.int(top("limit"), w.Limit, limitSpan),
			Window:  time.Duration(f.int(top("window_ms"), w.WindowMs, windowMsSpan)) * time.Millisecond,
			Updated: need(f, top("updated"), w.Updated),
		}
	})
}
