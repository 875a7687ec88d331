package poll

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/observerd/observerd/internal/clients/ratelimiter"
	"github.com/observerd/observerd/internal/snapshot"
)

// pollNode asks one node every read endpoint and reports whether it
// answered at all. /health comes first: a node that does not answer it is
// not asked the rest. The other endpoints are asked at once, and each
// failure blanks only its own field (quirk: any single endpoint may answer
// 5xx while the others work).
func pollNode(ctx context.Context, t target) (snapshot.NodeReport, bool) {
	r := snapshot.NodeReport{URL: t.url, Address: t.address}
	errs := map[string]string{}
	statuses := map[string]int{}
	answered, err := false, t.err
	if err == nil {
		answered, err = askHealth(ctx, t.client, &r)
	}
	if err != nil {
		errs[ratelimiter.PathHealth] = err.Error()
	}
	if answered {
		eps := readEndpoints()
		failed := make([]error, len(eps))
		var wg sync.WaitGroup
		// Each endpoint writes only its own field of r.
		for i, ep := range eps {
			wg.Go(func() { failed[i] = ep.read(ctx, t.client, &r) })
		}
		wg.Wait()
		for i, err := range failed {
			if err != nil {
				errs[eps[i].path] = err.Error()
			}
			if he, ok := errors.AsType[*ratelimiter.HTTPError](err); ok {
				statuses[eps[i].path] = he.Status
			}
		}
	}
	if len(errs) > 0 {
		r.Errors = errs
	}
	if len(statuses) > 0 {
		r.ErrorStatus = statuses
	}
	return r, answered
}

// askHealth asks /health and fills r's identity, reachability and latency.
// It returns false when the node did not answer at all, and the
// endpoint's error.
func askHealth(ctx context.Context, c *ratelimiter.Client, r *snapshot.NodeReport) (bool, error) {
	start := time.Now()
	h, err := c.Health(ctx)
	end := time.Now()
	latency := end.Sub(start)
	if err != nil && !answeredWith(err) {
		return false, err
	}
	r.HealthLatency = latency
	if !h.Date.IsZero() {
		r.Clock = snapshot.ClockReading{Clock: h.Date, Resolution: time.Second, Read: snapshot.Interval{Start: start, End: end}}
	}
	if err != nil {
		return true, err
	}
	r.ID, r.Reachable = h.NodeID, h.Healthy()
	if !r.Reachable {
		return true, fmt.Errorf("GET %s%s: node reports status %q", c.BaseURL(), ratelimiter.PathHealth, h.Status)
	}
	return true, nil
}

// readEndpoint is one read endpoint besides /health and the field of a
// report its answer fills. A failed endpoint leaves its field nil: it says
// nothing, which is not the same as an empty answer.
type readEndpoint struct {
	path string
	read func(context.Context, *ratelimiter.Client, *snapshot.NodeReport) error
}

// readEndpoints lists them in the order of the contract.
func readEndpoints() []readEndpoint {
	return []readEndpoint{
		{ratelimiter.PathNodes, func(ctx context.Context, c *ratelimiter.Client, r *snapshot.NodeReport) error {
			v, err := c.Nodes(ctx)
			r.Peers = mapSlice(v, peerNode)
			return err
		}},
		{ratelimiter.PathCounters, func(ctx context.Context, c *ratelimiter.Client, r *snapshot.NodeReport) error {
			start := time.Now()
			v, err := c.Counters(ctx)
			r.Counters, r.CountersRead = mapSlice(v, apiCounter), snapshot.Interval{Start: start, End: time.Now()}
			return err
		}},
		{ratelimiter.PathLimits, func(ctx context.Context, c *ratelimiter.Client, r *snapshot.NodeReport) error {
			v, err := c.Limits(ctx)
			if v != nil {
				r.Limits = &snapshot.APILimits{DefaultLimit: v.DefaultLimit, DefaultWindow: v.DefaultWindow}
			}
			return err
		}},
		{ratelimiter.PathBlocks, func(ctx context.Context, c *ratelimiter.Client, r *snapshot.NodeReport) error {
			v, err := c.Blocks(ctx)
			r.Blocked = mapSlice(v, apiCounter)
			return err
		}},
	}
}

func peerNode(p ratelimiter.Peer) snapshot.PeerNode {
	return snapshot.PeerNode{ID: p.ID, Address: p.Address, State: p.State, RegisteredAt: p.RegisteredAt}
}

func apiCounter(c ratelimiter.Counter) snapshot.APICounter {
	return snapshot.APICounter{Key: c.Key, Count: c.Count, Limit: c.Limit, Remaining: c.Remaining}
}

// mapSlice maps in with f, keeping nil as nil (an endpoint that failed)
// apart from empty (an endpoint that answered nothing).
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// answeredWith reports whether err came from an answer (an error status or
// a bad body) rather than from a node that did not answer at all.
func answeredWith(err error) bool {
	var he *ratelimiter.HTTPError
	return errors.As(err, &he) || errors.Is(err, ratelimiter.ErrBadAnswer) || errors.Is(err, ratelimiter.ErrBodyTooLarge)
}
