package ratelimiter

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of the read endpoints.
const (
	// maxCounters is how many counters /api/counters lists (contract).
	maxCounters = 100
	// scanCount is the COUNT hint of each SCAN call.
	scanCount = 1000
	// requestTimeout bounds the Redis work of one API request.
	requestTimeout = 10 * time.Second
)

type healthResponse struct {
	Status string `json:"status"`
	NodeID string `json:"node_id"`
}

func (n *Node) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, healthResponse{Status: "healthy", NodeID: n.cfg.NodeID})
}

type nodeEntry struct {
	ID           string  `json:"id"`
	Address      *string `json:"address"`
	State        string  `json:"state"`
	RegisteredAt *string `json:"registered_at"`
}

func (n *Node) handleNodes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	nodes := []nodeEntry{}
	err := n.scan(ctx, registryPrefix+"*", func(keys []string) (bool, error) {
		cmds := make([]*redis.MapStringStringCmd, len(keys))
		_, err := n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.HGetAll(ctx, k)
			}
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("read registry: %w", err)
		}
		for i, c := range cmds {
			h := c.Val()
			if len(h) == 0 {
				continue // expired between SCAN and HGETALL
			}
			// Quirk: every entry still present is "Up"; the service
			// never reports another state.
			nodes = append(nodes, nodeEntry{
				ID:           strings.TrimPrefix(keys[i], registryPrefix),
				Address:      field(h, "address"),
				State:        "Up",
				RegisteredAt: field(h, "registered_at"),
			})
		}
		return false, nil
	})
	if err != nil {
		n.serverError(w, r, fmt.Errorf("/api/nodes: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": nodes})
}

// field returns h[name] as stored, or nil when it is absent.
func field(h map[string]string, name string) *string {
	if v, ok := h[name]; ok {
		return &v
	}
	return nil
}

type counterEntry struct {
	Key       string `json:"key"`
	Count     int64  `json:"count"`
	Limit     int64  `json:"limit"`
	Remaining int64  `json:"remaining"`
}

func (n *Node) handleCounters(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	now := n.now().UnixMilli()
	counters := []counterEntry{}
	// A sample, not the keyspace: the first maxCounters in SCAN order.
	err := n.scanCounters(ctx, func(keys []string) (bool, error) {
		keys = keys[:min(len(keys), maxCounters-len(counters))]
		limits, windows, err := n.limits(ctx, keys)
		if err != nil {
			return false, err
		}
		counts, err := n.counts(ctx, keys, now, windows)
		if err != nil {
			return false, err
		}
		for i, k := range keys {
			if counts[i] < 0 {
				continue
			}
			counters = append(counters, counterEntry{
				Key:       strings.TrimPrefix(k, keyPrefix),
				Count:     counts[i],
				Limit:     limits[i],
				Remaining: max(0, limits[i]-counts[i]),
			})
		}
		return len(counters) >= maxCounters, nil
	})
	if err != nil {
		n.serverError(w, r, fmt.Errorf("/api/counters: %w", err))
		return
	}
	n.metrics.activeCounters.Set(float64(len(counters)))
	writeJSON(w, http.StatusOK, map[string]any{"counters": counters})
}

type limitsResponse struct {
	DefaultLimit    int64 `json:"default_limit"`
	DefaultWindowMS int64 `json:"default_window_ms"`
}

func (n *Node) handleLimits(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, limitsResponse{DefaultLimit: n.cfg.DefaultLimit, DefaultWindowMS: n.cfg.DefaultWindowMS})
}

type blockEntry struct {
	Key          string `json:"key"`
	CurrentCount int64  `json:"current_count"`
	Limit        int64  `json:"limit"`
}

func (n *Node) handleBlocks(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	now := n.now().UnixMilli()
	blocked := []blockEntry{}
	err := n.scanCounters(ctx, func(keys []string) (bool, error) {
		// Quirk: every key is judged by the default limit and window,
		// overrides ignored.
		counts, err := n.counts(ctx, keys, now, slices.Repeat([]int64{n.cfg.DefaultWindowMS}, len(keys)))
		if err != nil {
			return false, err
		}
		for i, k := range keys {
			if counts[i] >= n.cfg.DefaultLimit && counts[i] >= 0 {
				blocked = append(blocked, blockEntry{Key: strings.TrimPrefix(k, keyPrefix), CurrentCount: counts[i], Limit: n.cfg.DefaultLimit})
			}
		}
		return false, nil
	})
	if err != nil {
		n.serverError(w, r, fmt.Errorf("/api/blocks: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"blocked": blocked})
}

func (n *Node) handleReset(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	key := r.PathValue("key")
	// Two DELs rather than one, so that a Redis Cluster may hold the keys
	// in different slots.
	_, err := n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, keyPrefix+key)
		p.Del(ctx, keyPrefix+key+seqSuffix)
		return nil
	})
	if err != nil {
		n.serverError(w, r, fmt.Errorf("reset counter %q: %w", key, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "reset": true})
}

type setLimitRequest struct {
	Limit    *int64 `json:"limit"`
	WindowMS *int64 `json:"window_ms"`
}

type setLimitResponse struct {
	Key      string `json:"key"`
	Limit    int64  `json:"limit"`
	WindowMS int64  `json:"window_ms"`
	Updated  bool   `json:"updated"`
}

func (n *Node) handleSetLimit(w http.ResponseWriter, r *http.Request) {
	var req setLimitRequest
	if !readBody(w, r, &req, "limit", func() bool { return req.Limit != nil }) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	key := r.PathValue("key")
	window := or(req.WindowMS, n.cfg.DefaultWindowMS)
	if err := n.rdb.HSet(ctx, overridePrefix+key, "limit", *req.Limit, "window_ms", window).Err(); err != nil {
		n.serverError(w, r, fmt.Errorf("set limit of %q: %w", key, err))
		return
	}
	writeJSON(w, http.StatusOK, setLimitResponse{Key: key, Limit: *req.Limit, WindowMS: window, Updated: true})
}

// scan calls fn with each page of keys matching pattern until the cursor
// comes back to 0 or fn says stop. Keys come in SCAN order, which may
// repeat a key, as the original's iteration does.
func (n *Node) scan(ctx context.Context, pattern string, fn func(keys []string) (stop bool, err error)) error {
	var cursor uint64
	for {
		keys, next, err := n.rdb.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return fmt.Errorf("scan %s: %w", pattern, err)
		}
		if len(keys) > 0 {
			stop, err := fn(keys)
			if err != nil || stop {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// scanCounters is scan over the counter sorted sets: the sequence keys and
// the override hashes share the prefix and are skipped.
func (n *Node) scanCounters(ctx context.Context, fn func(keys []string) (bool, error)) error {
	return n.scan(ctx, keyPrefix+"*", func(keys []string) (bool, error) {
		counters := slices.DeleteFunc(keys, func(k string) bool {
			return strings.HasSuffix(k, seqSuffix) || strings.HasPrefix(k, overridePrefix)
		})
		if len(counters) == 0 {
			return false, nil
		}
		return fn(counters)
	})
}

// limits reads the override hash of each counter key, and returns each
// key's limit and window: its override's, or the node's default where the
// override lacks one or holds no integer.
func (n *Node) limits(ctx context.Context, keys []string) (limits, windows []int64, err error) {
	cmds := make([]*redis.SliceCmd, len(keys))
	_, err = n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HMGet(ctx, overridePrefix+strings.TrimPrefix(k, keyPrefix), "limit", "window_ms")
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read overrides: %w", err)
	}
	limits, windows = make([]int64, len(keys)), make([]int64, len(keys))
	for i, c := range cmds {
		v := c.Val()
		limits[i], windows[i] = decimal(v[0], n.cfg.DefaultLimit), decimal(v[1], n.cfg.DefaultWindowMS)
	}
	return limits, windows, nil
}

// decimal reads an override field, or returns def when it is absent or
// does not parse.
func decimal(v any, def int64) int64 {
	s, _ := v.(string)
	if i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		return i
	}
	return def
}

// counts reads, without pruning, each key's members inside its window
// [now-window, +inf). A key that is not a sorted set counts -1.
func (n *Node) counts(ctx context.Context, keys []string, now int64, windows []int64) ([]int64, error) {
	cmds := make([]*redis.IntCmd, len(keys))
	_, err := n.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.ZCount(ctx, k, strconv.FormatInt(now-windows[i], 10), "+inf")
		}
		return nil
	})
	if err != nil && !isWrongType(err) {
		return nil, fmt.Errorf("count counters: %w", err)
	}
	out := make([]int64, len(keys))
	for i, c := range cmds {
		switch err := c.Err(); {
		case err == nil:
			out[i] = c.Val()
		case isWrongType(err):
			out[i] = -1
		default:
			return nil, fmt.Errorf("count %s: %w", keys[i], err)
		}
	}
	return out, nil
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}
