package ratelimiter

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// checkLua decides one check atomically, as docs/contract.md describes.
// KEYS[1] the counter; ARGV: now (ms), window (ms), limit, member, TTL (s),
// and the exclusive lower bound of the window ("(now-window").
// It returns {allowed 0/1, count after the decision, retry after (s)}.
const checkLua = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[6])
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  return {1, count + 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry
if oldest[2] then
  retry = math.ceil((tonumber(oldest[2]) + window - now) / 1000)
else
  retry = math.ceil(window / 1000)
end
return {0, count, retry}
`

// checkRequest is the body of POST /check.
type checkRequest struct {
	Key      *string `json:"key"`
	Limit    *int64  `json:"limit"`
	WindowMS *int64  `json:"window_ms"`
}

// checkResponse is the answer of POST /check.
type checkResponse struct {
	Allowed           bool  `json:"allowed"`
	CurrentCount      int64 `json:"current_count"`
	Remaining         int64 `json:"remaining"`
	RetryAfterSeconds int64 `json:"retry_after_seconds"`
}

func (n *Node) handleCheck(w http.ResponseWriter, r *http.Request) {
	var req checkRequest
	if !readBody(w, r, &req, "key", func() bool { return req.Key != nil }) {
		return
	}
	// Quirk: the per-key override is not consulted; only the request's
	// limit or the node default applies.
	limit, window := or(req.Limit, n.cfg.DefaultLimit), or(req.WindowMS, n.cfg.DefaultWindowMS)

	defer prometheus.NewTimer(n.metrics.checkDuration).ObserveDuration()
	if d := time.Duration(n.checkDelay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}

	res, err := n.check(r.Context(), *req.Key, limit, window)
	if err != nil && n.failOpen.Load() && r.Context().Err() == nil {
		res, err = checkResponse{Allowed: true, Remaining: limit}, nil
	}
	if err != nil {
		n.serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.FormatInt(limit, 10))
	h.Set("X-RateLimit-Remaining", strconv.FormatInt(res.Remaining, 10))
	status := http.StatusOK
	if res.Allowed {
		n.metrics.allowed.Inc()
	} else {
		n.metrics.blocked.Inc()
		h.Set("X-RateLimit-Reset", strconv.FormatInt(res.RetryAfterSeconds, 10))
		status = http.StatusTooManyRequests
	}
	writeJSON(w, status, res)
}

// check runs the decision for key at the node's clock.
func (n *Node) check(ctx context.Context, key string, limit, window int64) (checkResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	zkey := keyPrefix + key
	// The sequence key is incremented outside the script, so that the
	// script touches one key only and works on a Redis Cluster.
	seq, err := n.rdb.Incr(ctx, zkey+seqSuffix).Result()
	if err != nil {
		return checkResponse{}, fmt.Errorf("check %q: incr sequence: %w", key, err)
	}
	now := n.now().UnixMilli()
	ttl := int64(math.Ceil(float64(window)/1000)) + 1
	vals, err := n.script.Run(ctx, n.rdb, []string{zkey},
		now, window, limit,
		strconv.FormatInt(now, 10)+":"+strconv.FormatInt(seq, 10),
		ttl,
		"("+strconv.FormatInt(now-window, 10),
	).Int64Slice()
	if err != nil {
		return checkResponse{}, fmt.Errorf("check %q: run script: %w", key, err)
	}
	if len(vals) != 3 {
		return checkResponse{}, fmt.Errorf("check %q: script answered %d values, want 3", key, len(vals))
	}
	res := checkResponse{Allowed: vals[0] == 1, CurrentCount: vals[1], RetryAfterSeconds: vals[2]}
	if res.Allowed {
		res.Remaining = max(0, limit-res.CurrentCount)
	}
	return res, nil
}
