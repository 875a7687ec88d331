package poll

import (
	"cmp"
	"container/heap"
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
)

// Defaults of RedisConfig.
const (
	DefaultRedisKeyPrefix         = "ratelimit:"
	DefaultRedisNodePrefix        = "ratelimiter:nodes:"
	DefaultRedisTopN              = 20
	DefaultRedisListCap           = 100
	DefaultRedisMaxKeysOfInterest = 5000
	// The contract's usual defaults, used when RedisConfig.Defaults is nil.
	redisFallbackLimit  = 100
	redisFallbackWindow = time.Minute
)

// RedisConfig configures a RedisPoller.
type RedisConfig struct {
	// Client is required; the poller does not close it.
	Client *redisclient.Client
	// KeyPrefix is the counter key prefix; overrides live under
	// KeyPrefix+"limit:". NodePrefix is the node registry prefix.
	KeyPrefix  string
	NodePrefix string
	// TopN is how many of the hottest keys to publish.
	TopN int
	// ListCap caps the Blocks, OverLimit, ZeroLimitActive and WithoutTTL
	// lists; their totals stay exact.
	ListCap int
	// Defaults returns the cluster's default limit and window, which judge
	// every key without an override (an override without a window takes
	// the default window). Nil means 100 per minute.
	Defaults func() (limit int64, window time.Duration)
	// KeysOfInterest returns keys (without prefix) whose in-window counts
	// go into RedisSection.KeyCounts; nil asks for none. At most
	// MaxKeysOfInterest are counted, the first ones in key order.
	KeysOfInterest    func() []string
	MaxKeysOfInterest int
	// Logger receives changes in the number of malformed overrides; nil
	// discards them.
	Logger *zap.Logger
}

// RedisPoller reads Redis directly: server info, the node registry, the
// overrides, and every counter key, judged by its own limit.
type RedisPoller struct {
	cfg           RedisConfig
	lastMalformed atomic.Int64 // malformed overrides seen by the last poll, to log changes only
}

var _ Poller = (*RedisPoller)(nil)

// NewRedisPoller fills cfg's defaults and returns the poller.
func NewRedisPoller(cfg RedisConfig) *RedisPoller {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultRedisKeyPrefix
	}
	if cfg.NodePrefix == "" {
		cfg.NodePrefix = DefaultRedisNodePrefix
	}
	if cfg.TopN <= 0 {
		cfg.TopN = DefaultRedisTopN
	}
	if cfg.ListCap <= 0 {
		cfg.ListCap = DefaultRedisListCap
	}
	if cfg.MaxKeysOfInterest <= 0 {
		cfg.MaxKeysOfInterest = DefaultRedisMaxKeysOfInterest
	}
	if cfg.Defaults == nil {
		cfg.Defaults = func() (int64, time.Duration) { return redisFallbackLimit, redisFallbackWindow }
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &RedisPoller{cfg: cfg}
}

// Name implements Poller.
func (*RedisPoller) Name() string { return snapshot.SourceRedis }

// Poll implements Poller. A failing PING, INFO, SCAN or count is an error;
// malformed overrides and keys of the wrong type are counted, not fatal.
func (p *RedisPoller) Poll(ctx context.Context) (snapshot.Section, error) {
	c := p.cfg.Client
	rtt, err := c.Ping(ctx)
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	registry, err := c.Registry(ctx, p.cfg.NodePrefix)
	if err != nil {
		return nil, err
	}
	ov, err := c.Overrides(ctx, p.cfg.KeyPrefix+"limit:")
	if err != nil {
		return nil, err
	}
	p.logMalformed(ov)
	lim := newRedisLimits(p.cfg.Defaults, ov.Overrides)
	t := newRedisTally(p.cfg.TopN, p.cfg.ListCap)
	stats, err := c.WalkCounters(ctx, redisclient.Walk{
		Prefix: p.cfg.KeyPrefix,
		Window: lim.window,
		Visit:  func(cn redisclient.Counter) { t.visit(cn, lim.limit(cn.Key)) },
	})
	if err != nil {
		return nil, err
	}
	keyCounts, err := c.Counts(ctx, p.cfg.KeyPrefix, p.keysOfInterest(), lim.window)
	if err != nil {
		return nil, err
	}
	sec := &snapshot.RedisSection{
		Info: snapshot.RedisInfo{
			Connected:        true,
			PingMs:           snapshot.Float(snapshot.Millis(rtt)),
			Version:          info.Version,
			Role:             info.Role,
			UsedMemoryBytes:  info.UsedMemory,
			ConnectedClients: info.ConnectedClients,
			DBKeys:           info.DBKeys,
		},
		Registry:      redisRegistry(registry),
		Overrides:     redisOverrides(ov.Overrides),
		KeyCounts:     keyCounts,
		DefaultLimit:  lim.defLimit,
		DefaultWindow: lim.defWindow,
	}
	t.fill(sec)
	sec.Counters.OrphanSequenceKeys = stats.OrphanSequenceKeys
	sec.Counters.WrongTypeKeys = stats.WrongTypeKeys
	return sec, nil
}

// keysOfInterest de-duplicates, orders and caps the keys the nodes reported.
func (p *RedisPoller) keysOfInterest() []string {
	if p.cfg.KeysOfInterest == nil {
		return nil
	}
	keys := slices.Clone(p.cfg.KeysOfInterest())
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return keys[:min(len(keys), p.cfg.MaxKeysOfInterest)]
}

func (p *RedisPoller) logMalformed(ov redisclient.Overrides) {
	n := int64(ov.Malformed)
	if p.lastMalformed.Swap(n) == n {
		return
	}
	if n == 0 {
		p.cfg.Logger.Info("malformed overrides gone")
		return
	}
	keys := make([]string, len(ov.MalformedSample))
	for i, m := range ov.MalformedSample {
		keys[i] = m.Key + ": " + m.Reason
	}
	p.cfg.Logger.Warn("malformed overrides skipped", zap.Int64("count", n), zap.Strings("sample", keys))
}

// redisLimits resolves each key's own limit and window.
type redisLimits struct {
	defLimit  int64
	defWindow time.Duration
	overrides map[string]redisclient.Override
}

func newRedisLimits(defaults func() (int64, time.Duration), ov []redisclient.Override) redisLimits {
	l := redisLimits{overrides: make(map[string]redisclient.Override, len(ov))}
	l.defLimit, l.defWindow = defaults()
	for _, o := range ov {
		l.overrides[o.Key] = o
	}
	return l
}

func (l redisLimits) limit(key string) int64 {
	if o, ok := l.overrides[key]; ok {
		return o.Limit
	}
	return l.defLimit
}

// window is the override's window, or the default one when the key has no
// override or its override has no window_ms.
func (l redisLimits) window(key string) time.Duration {
	if o, ok := l.overrides[key]; ok && o.Window > 0 {
		return o.Window
	}
	return l.defWindow
}

// redisTally sums the walk as it goes; its lists are bounded heaps, so memory
// does not grow with the keyspace.
type redisTally struct {
	c          snapshot.Counters
	top        *topHeap[snapshot.TopKey]
	blocks     *topHeap[snapshot.Block]
	overLimit  *topHeap[snapshot.Block]
	zeroActive *topHeap[snapshot.Block]
	withoutTTL *topHeap[string]
}

func newRedisTally(topN, listCap int) *redisTally {
	hotter := func(a, b snapshot.Block) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
	}
	return &redisTally{
		top: newTopHeap(topN, func(a, b snapshot.TopKey) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
		}),
		blocks:     newTopHeap(listCap, hotter),
		overLimit:  newTopHeap(listCap, hotter),
		zeroActive: newTopHeap(listCap, hotter),
		withoutTTL: newTopHeap(listCap, strings.Compare),
	}
}

func (t *redisTally) visit(cn redisclient.Counter, limit int64) {
	t.c.Keys++
	t.c.RequestsInWindow += cn.Count
	b := snapshot.Block{Key: cn.Key, Count: cn.Count, Limit: limit}
	if cn.Count >= limit {
		t.c.BlockedKeys++
		t.blocks.add(b)
	}
	// A zero limit with traffic is its own anomaly (ghost_allowing), not
	// an over-limit key.
	if limit > 0 && cn.Count > limit {
		t.c.OverLimitKeys++
		t.overLimit.add(b)
	}
	if limit == 0 && cn.Count > 0 {
		t.zeroActive.add(b)
	}
	ttlMs := cn.TTL.Milliseconds()
	if cn.TTL == redisclient.NoTTL {
		ttlMs = -1
		t.c.KeysWithoutTTL++
		t.withoutTTL.add(cn.Key)
	}
	t.top.add(snapshot.TopKey{Key: cn.Key, Count: cn.Count, Limit: limit, Remaining: max(0, limit-cn.Count), TTLMs: ttlMs})
}

func (t *redisTally) fill(sec *snapshot.RedisSection) {
	sec.Counters = t.c
	sec.Counters.Top = t.top.sorted()
	sec.Blocks = t.blocks.sorted()
	sec.BlocksTotal = int(t.c.BlockedKeys)
	sec.OverLimit = t.overLimit.sorted()
	sec.ZeroLimitActive = t.zeroActive.sorted()
	sec.WithoutTTL = t.withoutTTL.sorted()
}

func redisRegistry(in []redisclient.RegistryEntry) []snapshot.RegistryEntry {
	out := make([]snapshot.RegistryEntry, len(in))
	for i, e := range in {
		out[i] = snapshot.RegistryEntry{ID: e.ID, Address: e.Address, RegisteredAt: e.RegisteredAt, TTL: e.TTL}
	}
	return out
}

func redisOverrides(in []redisclient.Override) []snapshot.Override {
	out := make([]snapshot.Override, len(in))
	for i, o := range in {
		out[i] = snapshot.Override{Key: o.Key, Limit: o.Limit, WindowMs: o.Window.Milliseconds()}
	}
	return out
}

// topHeap keeps the n first items in cmp order seen so far: a heap whose
// root is the last item kept, so each add costs O(log n).
type topHeap[T any] struct {
	n     int
	cmp   func(a, b T) int
	items []T
}

func newTopHeap[T any](n int, cmp func(a, b T) int) *topHeap[T] {
	return &topHeap[T]{n: n, cmp: cmp}
}

func (b *topHeap[T]) add(x T) {
	switch {
	case len(b.items) < b.n:
		heap.Push(b, x)
	case b.n > 0 && b.cmp(x, b.items[0]) < 0:
		b.items[0] = x
		heap.Fix(b, 0)
	}
}

// sorted returns a copy of the items in cmp order, never nil.
func (b *topHeap[T]) sorted() []T {
	out := make([]T, len(b.items))
	copy(out, b.items)
	slices.SortFunc(out, b.cmp)
	return out
}

// heap.Interface, ordered so that the root is the item that ranks last.
func (b *topHeap[T]) Len() int           { return len(b.items) }
func (b *topHeap[T]) Less(i, j int) bool { return b.cmp(b.items[i], b.items[j]) > 0 }
func (b *topHeap[T]) Swap(i, j int)      { b.items[i], b.items[j] = b.items[j], b.items[i] }
func (b *topHeap[T]) Push(x any)         { b.items = append(b.items, x.(T)) }
func (b *topHeap[T]) Pop() any {
	x := b.items[len(b.items)-1]
	b.items = b.items[:len(b.items)-1]
	return x
}
