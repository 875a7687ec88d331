package ratelimiter

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/observerd/observerd/internal/timestamp"
)

// Endpoint paths of the node HTTP API, as used in errors and as the keys
// of a node's endpoint errors.
const (
	PathCheck    = "/check"
	PathHealth   = "/health"
	PathNodes    = "/api/nodes"
	PathCounters = "/api/counters"
	PathLimits   = "/api/limits"
	PathBlocks   = "/api/blocks"
)

// StatusHealthy is the status of a healthy node's /health answer.
const StatusHealthy = "healthy"

// Peer is one entry of a node's /api/nodes answer: a node it sees in the
// registry.
type Peer struct {
	ID           string
	Address      string
	State        string
	RegisteredAt *time.Time // nil when null or absent
}

// Counter is one key as a node's /api/counters or /api/blocks shows it,
// without the key prefix.
type Counter struct {
	Key       string
	Count     int64
	Limit     int64
	Remaining int64
}

// Limits is a node's /api/limits answer.
type Limits struct {
	DefaultLimit  int64
	DefaultWindow time.Duration
}

// Health is a node's /health answer.
type Health struct {
	Status string
	NodeID string
}

// Healthy reports whether the node says it is healthy.
func (h Health) Healthy() bool { return h.Status == StatusHealthy }

// Health asks GET /health. Both status and node_id are required: a node
// that cannot name itself cannot be told apart from its peers.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var w wireHealth
	if err := c.get(ctx, PathHealth, &w); err != nil {
		return Health{}, err
	}
	var f fields
	h := Health{Status: need(&f, "status", w.Status), NodeID: need(&f, "node_id", w.NodeID)}
	if err := f.err(); err != nil {
		return Health{}, c.errorf(http.MethodGet, PathHealth, err)
	}
	return h, nil
}

// Nodes asks GET /api/nodes: the nodes the answering node sees in the
// registry. A registered_at that is null or absent is nil; one that is
// neither RFC 3339 nor isoformat() fails the call.
func (c *Client) Nodes(ctx context.Context) ([]Peer, error) {
	var w wireNodes
	if err := c.get(ctx, PathNodes, &w); err != nil {
		return nil, err
	}
	var f fields
	list := need(&f, "nodes", w.Nodes)
	peers := make([]Peer, 0, len(list))
	for i, wp := range list {
		p := Peer{
			ID:      need(&f, fmt.Sprintf("nodes[%d].id", i), wp.ID),
			Address: need(&f, fmt.Sprintf("nodes[%d].address", i), wp.Address),
		}
		if wp.State != nil {
			p.State = *wp.State
		}
		if wp.RegisteredAt != nil && *wp.RegisteredAt != "" {
			t, err := timestamp.Parse(*wp.RegisteredAt, c.loc)
			if err != nil {
				return nil, c.errorf(http.MethodGet, PathNodes, fmt.Errorf("%w: nodes[%d].registered_at: %w", ErrBadAnswer, i, err))
			}
			p.RegisteredAt = &t
		}
		peers = append(peers, p)
	}
	if err := f.err(); err != nil {
		return nil, c.errorf(http.MethodGet, PathNodes, err)
	}
	return peers, nil
}

// Counters asks GET /api/counters: a sample of at most 100 keys in Redis
// SCAN order, keys without their prefix.
func (c *Client) Counters(ctx context.Context) ([]Counter, error) {
	var w wireCounters
	if err := c.get(ctx, PathCounters, &w); err != nil {
		return nil, err
	}
	var f fields
	list := need(&f, "counters", w.Counters)
	out := make([]Counter, 0, len(list))
	for i, wc := range list {
		out = append(out, Counter{
			Key:       need(&f, fmt.Sprintf("counters[%d].key", i), wc.Key),
			Count:     need(&f, fmt.Sprintf("counters[%d].count", i), wc.Count),
			Limit:     need(&f, fmt.Sprintf("counters[%d].limit", i), wc.Limit),
			Remaining: need(&f, fmt.Sprintf("counters[%d].remaining", i), wc.Remaining),
		})
	}
	if err := f.err(); err != nil {
		return nil, c.errorf(http.MethodGet, PathCounters, err)
	}
	return out, nil
}

// Limits asks GET /api/limits: the node's default limit and window.
func (c *Client) Limits(ctx context.Context) (*Limits, error) {
	var w wireLimits
	if err := c.get(ctx, PathLimits, &w); err != nil {
		return nil, err
	}
	var f fields
	limit := need(&f, "default_limit", w.DefaultLimit)
	windowMs := need(&f, "default_window_ms", w.DefaultWindowMs)
	if err := f.err(); err != nil {
		return nil, c.errorf(http.MethodGet, PathLimits, err)
	}
	window, err := millis("default_window_ms", windowMs)
	if err != nil {
		return nil, c.errorf(http.MethodGet, PathLimits, err)
	}
	return &Limits{DefaultLimit: limit, DefaultWindow: window}, nil
}

// Blocks asks GET /api/blocks: keys at or over the node's default limit
// (quirk: per-key overrides are ignored). Remaining is derived as
// max(0, limit - count), the contract's definition.
func (c *Client) Blocks(ctx context.Context) ([]Counter, error) {
	var w wireBlocks
	if err := c.get(ctx, PathBlocks, &w); err != nil {
		return nil, err
	}
	var f fields
	list := need(&f, "blocked", w.Blocked)
	out := make([]Counter, 0, len(list))
	for i, wb := range list {
		b := Counter{
			Key:   need(&f, fmt.Sprintf("blocked[%d].key", i), wb.Key),
			Count: need(&f, fmt.Sprintf("blocked[%d].current_count", i), wb.CurrentCount),
			Limit: need(&f, fmt.Sprintf("blocked[%d].limit", i), wb.Limit),
		}
		b.Remaining = max(0, b.Limit-b.Count)
		out = append(out, b)
	}
	if err := f.err(); err != nil {
		return nil, c.errorf(http.MethodGet, PathBlocks, err)
	}
	return out, nil
}

// get asks GET path and decodes a 2xx answer into v.
func (c *Client) get(ctx context.Context, path string, v any) error {
	a, err := c.do(ctx, call{method: http.MethodGet, path: path})
	if err != nil {
		return err
	}
	if err := decode(a.body, v); err != nil {
		return c.errorf(http.MethodGet, path, err)
	}
	return nil
}

// errorf names the node and the endpoint in err.
func (c *Client) errorf(method, path string, err error) error {
	return fmt.Errorf("%s %s%s: %w", method, c.redacted, path, err)
}
