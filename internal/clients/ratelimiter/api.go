package ratelimiter

import (
	"context"
	"net/http"
	"time"
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
	// Date is the answer's Date header, the node's clock to the second;
	// zero when absent or unparsable.
	Date time.Time
}

// Healthy reports whether the node says it is healthy.
func (h Health) Healthy() bool { return h.Status == "healthy" }

// Health asks GET /health. Both status and node_id are required: a node
// that cannot name itself cannot be told apart from its peers.
func (c *Client) Health(ctx context.Context) (Health, error) {
	return ask(ctx, c, call{method: http.MethodGet, path: PathHealth}, func(a *answer) (Health, error) {
		h, err := decodeHealth(a.body)
		if d, derr := http.ParseTime(a.header.Get("Date")); derr == nil {
			h.Date = d
		}
		return h, err
	})
}

// Nodes asks GET /api/nodes: the nodes the answering node sees in the
// registry. A registered_at that is null or absent is nil; one that is
// neither RFC 3339 nor isoformat(), or outside 1970 to 2262, fails the call.
func (c *Client) Nodes(ctx context.Context) ([]Peer, error) {
	return getAs(ctx, c, PathNodes, func(body []byte) ([]Peer, error) { return decodeNodes(body, c.loc) })
}

// Counters asks GET /api/counters: a sample of at most 100 keys in Redis
// SCAN order, keys without their prefix.
func (c *Client) Counters(ctx context.Context) ([]Counter, error) {
	return getAs(ctx, c, PathCounters, decodeCounters)
}

// Limits asks GET /api/limits: the node's default limit and window.
func (c *Client) Limits(ctx context.Context) (*Limits, error) {
	return getAs(ctx, c, PathLimits, decodeLimits)
}

// Blocks asks GET /api/blocks: keys at or over the node's default limit
// (quirk: per-key overrides are ignored). Remaining is derived as
// max(0, limit - count), the contract's definition.
func (c *Client) Blocks(ctx context.Context) ([]Counter, error) {
	return getAs(ctx, c, PathBlocks, decodeBlocks)
}

// getAs asks GET path and decodes a 2xx answer's body with dec.
func getAs[T any](ctx context.Context, c *Client, path string, dec func([]byte) (T, error)) (T, error) {
	return ask(ctx, c, call{method: http.MethodGet, path: path}, func(a *answer) (T, error) { return dec(a.body) })
}

// The decoders below are pure: a body in, a typed answer or ErrBadAnswer
// out, naming the field and the value that was wrong.

func decodeHealth(body []byte) (Health, error) {
	return decodeAs(body, func(w *wireHealth, f *fields) Health {
		return Health{Status: need(f, top("status"), w.Status), NodeID: f.text(top("node_id"), w.NodeID)}
	})
}

func decodeNodes(body []byte, loc *time.Location) ([]Peer, error) {
	return decodeAs(body, func(w *wireNodes, f *fields) []Peer {
		list := need(f, top("nodes"), w.Nodes)
		peers := make([]Peer, 0, len(list))
		for i, wp := range list {
			p := Peer{
				ID:           f.text(at("nodes", i, "id"), wp.ID),
				Address:      f.text(at("nodes", i, "address"), wp.Address),
				RegisteredAt: f.timestamp(at("nodes", i, "registered_at"), wp.RegisteredAt, loc),
			}
			if wp.State != nil {
				p.State = *wp.State
			}
			peers = append(peers, p)
		}
		return peers
	})
}

func decodeCounters(body []byte) ([]Counter, error) {
	return decodeAs(body, func(w *wireCounters, f *fields) []Counter {
		list := need(f, top("counters"), w.Counters)
		out := make([]Counter, 0, len(list))
		for i, wc := range list {
			c := Counter{
				Key:       need(f, at("counters", i, "key"), wc.Key),
				Count:     f.int(at("counters", i, "count"), wc.Count, countSpan),
				Limit:     f.int(at("counters", i, "limit"), wc.Limit, limitSpan),
				Remaining: f.int(at("counters", i, "remaining"), wc.Remaining, limitSpan),
			}
			// remaining = max(0, limit - count) can never exceed the limit.
			if wc.Remaining != nil && wc.Limit != nil {
				f.inSpan(at("counters", i, "remaining"), c.Remaining, span{0, max(0, c.Limit)})
			}
			out = append(out, c)
		}
		return out
	})
}

func decodeLimits(body []byte) (*Limits, error) {
	return decodeAs(body, func(w *wireLimits, f *fields) *Limits {
		return &Limits{
			DefaultLimit:  f.int(top("default_limit"), w.DefaultLimit, limitSpan),
			DefaultWindow: time.Duration(f.int(top("default_window_ms"), w.DefaultWindowMs, windowMsSpan)) * time.Millisecond,
		}
	})
}

func decodeBlocks(body []byte) ([]Counter, error) {
	return decodeAs(body, func(w *wireBlocks, f *fields) []Counter {
		list := need(f, top("blocked"), w.Blocked)
		out := make([]Counter, 0, len(list))
		for i, wb := range list {
			b := Counter{
				Key:   need(f, at("blocked", i, "key"), wb.Key),
				Count: f.int(at("blocked", i, "current_count"), wb.CurrentCount, countSpan),
				Limit: f.int(at("blocked", i, "limit"), wb.Limit, limitSpan),
			}
			b.Remaining = max(0, b.Limit-b.Count)
			out = append(out, b)
		}
		return out
	})
}
