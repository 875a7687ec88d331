package poll

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/observerd/observerd/internal/clients/ratelimiter"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// ErrNoNodes is returned by a poll that has no node to ask: no configured
// URL and nothing discovered.
var ErrNoNodes = errors.New("no rate limiter nodes to poll")

// NodesConfig configures a NodesPoller.
type NodesConfig struct {
	// URLs are the configured node base URLs.
	URLs []string
	// Discover gives the host:port addresses of the nodes in the Redis
	// registry (snapshot.Hints.RegistryAddrs); nil disables discovery. It
	// is asked once per poll and must not block.
	Discover snapshot.HintSource
	// DiscoverScheme is the scheme of the discovered nodes' base URLs,
	// http or https; empty means http.
	DiscoverScheme string
	// Client configures every node client (per-request timeout, body
	// limit, HTTP client, time zone).
	Client ratelimiter.Options
	// Logger receives node reachability changes; nil discards them.
	Logger *zap.Logger
}

// NodesPoller asks every rate limiter node's HTTP API once per poll.
type NodesPoller struct {
	opts       ratelimiter.Options
	discover   snapshot.HintSource
	scheme     string
	log        *zap.Logger
	configured []*ratelimiter.Client
	discovered map[string]*ratelimiter.Client // by base URL, nodes found in the registry
	reachable  map[string]bool                // by address, as of the last poll
}

var _ Poller = (*NodesPoller)(nil)

// NewNodesPoller checks cfg and returns the poller. A configured URL that
// is not a valid node base URL is an error.
func NewNodesPoller(cfg NodesConfig) (*NodesPoller, error) {
	p := &NodesPoller{
		opts:       cfg.Client,
		discover:   cfg.Discover,
		scheme:     cmp.Or(cfg.DiscoverScheme, "http"),
		log:        cmp.Or(cfg.Logger, zap.NewNop()).Named("nodes"),
		discovered: make(map[string]*ratelimiter.Client),
		reachable:  make(map[string]bool),
	}
	for _, u := range cfg.URLs {
		c, err := ratelimiter.New(u, p.opts)
		if err != nil {
			return nil, fmt.Errorf("nodes poller: %w", err)
		}
		p.configured = append(p.configured, c)
	}
	return p, nil
}

// Name implements Poller.
func (*NodesPoller) Name() string { return source.Ratelimiter }

// Close closes the idle connections of every node client, once polls have
// ended.
func (p *NodesPoller) Close() {
	for _, c := range p.configured {
		c.CloseIdleConnections()
	}
	for _, c := range p.discovered {
		c.CloseIdleConnections()
	}
}

// target is one node to ask: a client, or why there is none.
type target struct {
	client  *ratelimiter.Client
	address string
	url     string
	err     error
}

// Poll asks every node concurrently and returns a *snapshot.NodesSection
// with one report per node, sorted by address. Unreachable nodes are data;
// the poll fails only when there is no node at all, or when ctx ended before
// any node answered.
func (p *NodesPoller) Poll(ctx context.Context) (snapshot.Section, error) {
	targets := p.targets()
	if len(targets) == 0 {
		return nil, ErrNoNodes
	}
	reports := make([]snapshot.NodeReport, len(targets))
	answered := make([]bool, len(targets))
	// Members never return an error, so one node's failure cancels nothing.
	var g errgroup.Group
	g.SetLimit(8) // a bound however many nodes the registry names
	for i, t := range targets {
		g.Go(func() error {
			reports[i], answered[i] = pollNode(ctx, t)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil && !slices.Contains(answered, true) {
		return nil, fmt.Errorf("poll %d rate limiter nodes: no answer before %w", len(targets), err)
	}
	slices.SortFunc(reports, func(a, b snapshot.NodeReport) int {
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.URL, b.URL))
	})
	p.logChanges(reports)
	return &snapshot.NodesSection{Nodes: reports}, nil
}

// targets is this poll's node set: the configured URLs, then each
// discovered address not already present (by host:port; a configured URL
// wins). Clients of discovered nodes are kept across polls and dropped
// once their node leaves the set, which bounds the cache.
func (p *NodesPoller) targets() []target {
	var addrs []string
	if p.discover != nil {
		addrs = p.discover.Hints().RegistryAddrs
	}
	seen := make(map[string]bool, len(p.configured)+len(addrs))
	first := func(addr string) bool { // by host:port, whatever its case
		key := strings.ToLower(addr)
		was := seen[key]
		seen[key] = true
		return !was
	}
	out := make([]target, 0, len(p.configured)+len(addrs))
	for _, c := range p.configured {
		if first(c.Address()) {
			out = append(out, target{client: c, address: c.Address(), url: c.BaseURL()})
		}
	}
	keep := make(map[string]*ratelimiter.Client, len(addrs))
	for _, addr := range addrs {
		addr = strings.TrimSpace(addr)
		if addr == "" || !first(addr) {
			continue
		}
		base := p.scheme + "://" + addr
		c, err := p.discoveredClient(base, addr)
		if err != nil {
			out = append(out, target{address: addr, url: base, err: err})
			continue
		}
		keep[base] = c
		out = append(out, target{client: c, address: c.Address(), url: c.BaseURL()})
	}
	for base, c := range p.discovered {
		if keep[base] == nil {
			c.CloseIdleConnections()
		}
	}
	p.discovered = keep
	return out
}

// discoveredClient returns the cached client of base, or a new one.
func (p *NodesPoller) discoveredClient(base, addr string) (*ratelimiter.Client, error) {
	if c := p.discovered[base]; c != nil {
		return c, nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return nil, fmt.Errorf("registry address %q: not host:port", addr)
	}
	return ratelimiter.New(base, p.opts)
}

// logChanges logs nodes that became reachable or unreachable, and nodes
// first seen unreachable, rather than every poll.
func (p *NodesPoller) logChanges(reports []snapshot.NodeReport) {
	now := make(map[string]bool, len(reports))
	for _, r := range reports {
		now[r.Address] = r.Reachable
		was, known := p.reachable[r.Address]
		switch {
		case r.Reachable && known && !was:
			p.log.Info("node reachable", zap.String("address", r.Address), zap.String("node", r.ID))
		case !r.Reachable && (!known || was):
			p.log.Warn("node unreachable", zap.String("address", r.Address), zap.String("url", r.URL),
				zap.String("error", r.Errors[ratelimiter.PathHealth]))
		}
	}
	p.reachable = now
}
