// Package explain answers the on-call's first question about one key:
// its in-window count over its own window, its limit and where that comes
// from, whether the next check passes and if not when, its TTL, how its
// entries spread over the window, each node's view and what observerd's
// history remembers of it. It reads Redis and the nodes' APIs, never
// sends a /check and never writes.
package explain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/observerd/observerd/internal/clients/ratelimiter"
	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/snapshot"
)

// MaxKeyBytes bounds the key name Explain accepts: a key is a URL path or
// an argument, and Redis reads it in every command.
const MaxKeyBytes = 4096

// Buckets is how many slices of the window the spread counts.
const Buckets = 12

// DefaultNodeTimeout bounds each node's answers when Config sets none.
const DefaultNodeTimeout = 2 * time.Second

// ErrBadKey is wrapped by the errors of a key name that cannot be looked
// up: empty, too long, or a cut name.
var ErrBadKey = errors.New("bad key")

// ErrWrongType is wrapped by the error of a key that is not a sorted set.
var ErrWrongType = redisclient.ErrWrongType

// Reader reads one key from Redis; *redis.Client is one.
type Reader interface {
	ReadKey(ctx context.Context, q redisclient.KeyQuery) (*redisclient.KeyReading, error)
}

// NodeAPI is the part of a node's API Explain asks; *ratelimiter.Client
// is one.
type NodeAPI interface {
	Counters(ctx context.Context) ([]ratelimiter.Counter, error)
	Limits(ctx context.Context) (*ratelimiter.Limits, error)
}

// Node is one node to ask, by the name observerd gives it.
type Node struct {
	Name string
	API  NodeAPI
}

// History is observerd's memory of the keys: the stretches of time a key
// (by its published name) spent blocked, over or near its limit or named
// in a violation, and since when the memory reaches back.
type History interface {
	KeyEvents(key string) ([]snapshot.KeyEvent, time.Time)
}

// Config configures an Explainer.
type Config struct {
	// Redis reads the key. Required.
	Redis Reader
	// KeyPrefix is the counter key prefix ("ratelimit:").
	KeyPrefix string
	// Nodes gives the nodes to ask now; nil asks none.
	Nodes func() []Node
	// DefaultLimit and DefaultWindow judge a key without an override
	// while no node's /api/limits answers (OBSERVERD_DEFAULT_LIMIT and
	// OBSERVERD_DEFAULT_WINDOW).
	DefaultLimit  int64
	DefaultWindow time.Duration
	// FutureAfter is how far after Redis's clock an entry counts as in
	// the future (clock_skew's threshold).
	FutureAfter time.Duration
	// MaxNameBytes bounds the published name of the key
	// (OBSERVERD_MAX_NAME_BYTES); zero is names.DefaultMaxBytes.
	MaxNameBytes int
	// History, when set, gives the key's history; nil: HistoryError says
	// there is none.
	History History
	// NoHistory is what HistoryError says without a History; empty: a
	// sentence of its own.
	NoHistory string
	// NodeTimeout bounds each node's answers; zero: DefaultNodeTimeout.
	NodeTimeout time.Duration
}

// Explainer explains keys. It is safe for concurrent use.
type Explainer struct {
	cfg Config
}

// New returns an Explainer of cfg.
func New(cfg Config) *Explainer {
	cfg.MaxNameBytes = cmp.Or(cfg.MaxNameBytes, names.DefaultMaxBytes)
	cfg.NodeTimeout = cmp.Or(cfg.NodeTimeout, DefaultNodeTimeout)
	return &Explainer{cfg: cfg}
}

// CheckKey says whether key can be explained: not empty and at most
// MaxKeyBytes long.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: the key is empty", ErrBadKey)
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("%w: the key is %d bytes long, more than the %d bytes explain accepts", ErrBadKey, len(key), MaxKeyBytes)
	}
	return nil
}

// KeyFromName turns a key name as observerd publishes it (names.Clean:
// invalid bytes as \xHH) back into the key's bytes. A cut name stands for
// many keys and is ErrBadKey.
func KeyFromName(name string) (string, error) {
	if names.IsCut(name) {
		return "", fmt.Errorf("%w: %q is a name observerd cut to OBSERVERD_MAX_NAME_BYTES; the key it stands for cannot be looked up by it (use observerd explain with the whole key)", ErrBadKey, names.Cut(name, 80))
	}
	key := names.Unescape(name)
	return key, CheckKey(key)
}

// Explain explains key (without the prefix, any bytes): first the nodes
// (their /api/limits give the default limit and window that judge a key
// without an override), then Redis. A key that does not exist is
// explained, with Exists false. Errors: ErrBadKey, ErrWrongType, or
// Redis's.
func (e *Explainer) Explain(ctx context.Context, key string) (*Explanation, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	views, limits := e.askNodes(ctx, key)
	defLimit, defWindow, from := e.cfg.DefaultLimit, e.cfg.DefaultWindow, "config"
	if limits != nil {
		defLimit, defWindow, from = limits.DefaultLimit, limits.DefaultWindow, "api"
	}
	r, err := e.cfg.Redis.ReadKey(ctx, redisclient.KeyQuery{
		Key: key, KeyPrefix: e.cfg.KeyPrefix, DefaultLimit: defLimit, DefaultWindow: defWindow,
		FutureAfter: e.cfg.FutureAfter, Buckets: Buckets,
	})
	if err != nil {
		return nil, err
	}
	x := build(r, e.cfg.FutureAfter)
	x.Key = names.Clean(key, e.cfg.MaxNameBytes)
	x.KeyBytes = len(key)
	x.DefaultsFrom = from
	x.Nodes = views
	for i := range x.Nodes {
		if c := x.Nodes[i].Count; c != nil {
			x.Nodes[i].Drift = new(*c - x.Count)
		}
	}
	e.history(x)
	return x, nil
}

// askNodes asks every node's /api/counters and /api/limits concurrently,
// each under the node timeout, and returns each node's view of key and
// the first answering node's limits in node order, nil when none answers.
func (e *Explainer) askNodes(ctx context.Context, key string) ([]NodeView, *ratelimiter.Limits) {
	if e.cfg.Nodes == nil {
		return []NodeView{}, nil
	}
	nodes := e.cfg.Nodes()
	views := make([]NodeView, len(nodes))
	limits := make([]*ratelimiter.Limits, len(nodes))
	var g errgroup.Group
	g.SetLimit(8) // a bound however many nodes there are
	for i, n := range nodes {
		g.Go(func() error {
			nctx, cancel := context.WithTimeout(ctx, e.cfg.NodeTimeout)
			defer cancel()
			views[i] = viewOf(nctx, n, key)
			if l, err := n.API.Limits(nctx); err == nil {
				limits[i] = l
			}
			return nil
		})
	}
	_ = g.Wait()
	for _, l := range limits {
		if l != nil {
			return views, l
		}
	}
	return views, nil
}

// viewOf is node n's view of key from its /api/counters.
func viewOf(ctx context.Context, n Node, key string) NodeView {
	v := NodeView{Node: n.Name}
	counters, err := n.API.Counters(ctx)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	for _, c := range counters {
		if c.Key == key {
			v.Count, v.Limit = new(c.Count), new(c.Limit)
			return v
		}
	}
	v.Note = NotShownByNode
	return v
}

// NotShownByNode is a node view's note for a key its /api/counters does
// not list.
const NotShownByNode = "not shown by the node's API (it lists at most 100 keys)"

// history fills x's history from the History, by the published name.
func (e *Explainer) history(x *Explanation) {
	x.History = []snapshot.KeyEvent{}
	if e.cfg.History == nil {
		x.HistoryError = cmp.Or(e.cfg.NoHistory, "no history: this process keeps none")
		return
	}
	events, since := e.cfg.History.KeyEvents(x.Key)
	if events != nil {
		x.History = events
	}
	if !since.IsZero() {
		x.HistorySince = new(since.UTC())
	}
}

// build turns a reading into the explanation, names and nodes aside.
func build(r *redisclient.KeyReading, futureAfter time.Duration) *Explanation {
	nowMs := r.Now.UnixMilli()
	winMs := r.Window.Milliseconds()
	x := &Explanation{
		Exists: r.Exists, At: r.Now.UTC(),
		Count: r.InWindow, Limit: r.Limit, LimitSource: SourceDefault, WindowMs: winMs, WindowSource: SourceDefault,
		OverrideProblem: r.OverrideProblem,
		Remaining:       max(0, r.Limit-r.InWindow),
		AllowedNext:     r.Limit > 0 && r.InWindow < r.Limit,
		TTLCeilingMs:    snapshot.TTLCeiling(r.Window).Milliseconds(),
		FutureEntries:   r.Future, FutureAfterMs: futureAfter.Milliseconds(),
		EntriesTotal: r.Total, EntriesBeforeWindow: r.Before,
		Spread: make([]Bucket, len(r.Spread)),
		Notes:  []string{},
	}
	if r.Override != nil {
		x.LimitSource = SourceOverride
		if r.Override.Window > 0 {
			x.WindowSource = SourceOverride
		}
	}
	for i, b := range r.Spread {
		x.Spread[i] = Bucket{FromMs: b.FromMs, ToMs: b.ToMs, Entries: b.Entries}
	}
	if r.HasSeq {
		x.AllowedTotal = new(r.Seq)
	}
	switch {
	case !r.Exists:
	case r.TTL == redisclient.NoTTL:
		x.TTLMs, x.TTLFitsWindow = new(int64(-1)), new(false)
	default:
		x.TTLMs = new(r.TTL.Milliseconds())
		x.TTLFitsWindow = new(r.TTL <= snapshot.TTLCeiling(r.Window))
	}
	if !x.AllowedNext && r.Limit > 0 && !math.IsNaN(r.Release) {
		at := int64(r.Release) + winMs
		x.RetryAt = new(time.UnixMilli(at).UTC())
		x.RetryAfterMs = new(max(0, at-nowMs))
	}
	if !x.AllowedNext && r.Limit > 0 && !math.IsNaN(r.Oldest) {
		ms := int64(r.Oldest) + winMs - nowMs
		x.ServiceRetryAfterSeconds = new((ms + 999) / 1000)
	}
	x.Notes = notes(x, r)
	return x
}
