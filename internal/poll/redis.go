package poll

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// RedisConfig configures a RedisPoller. Every field is required but
// Logger; config.Config holds their defaults.
type RedisConfig struct {
	// Client is the Redis client; the poller does not close it.
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
	// Hints gives the cluster's default limit and window, which judge
	// every key without an override (an override without a window takes
	// the default window), and the keys of interest, whose in-window
	// counts go into RedisSection.KeyCounts (see snapshot.Hints).
	Hints snapshot.HintSource
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

// NewRedisPoller checks cfg and returns the poller.
func NewRedisPoller(cfg RedisConfig) (*RedisPoller, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("redis poller: no client")
	case cfg.Hints == nil:
		return nil, errors.New("redis poller: no hints")
	case cfg.KeyPrefix == "" || cfg.NodePrefix == "":
		return nil, fmt.Errorf("redis poller: key prefix %q and node prefix %q must not be empty", cfg.KeyPrefix, cfg.NodePrefix)
	case cfg.TopN < 1 || cfg.ListCap < 1:
		return nil, fmt.Errorf("redis poller: top %d and list cap %d must be positive", cfg.TopN, cfg.ListCap)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &RedisPoller{cfg: cfg}, nil
}

// Name implements Poller.
func (*RedisPoller) Name() string { return source.Redis }

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
	hints := p.cfg.Hints.Hints()
	lim := newRedisLimits(hints, ov.Overrides)
	t := newRedisTally(p.cfg.TopN, p.cfg.ListCap, hints.KeysOfInterest)
	stats, err := c.WalkCounters(ctx, redisclient.Walk{
		Prefix: p.cfg.KeyPrefix,
		Window: lim.window,
		Visit:  func(cn redisclient.Counter) { t.visit(cn, lim.limit(cn.Key)) },
	})
	if err != nil {
		return nil, err
	}
	sec := &snapshot.RedisSection{
		Info:          redisInfo(rtt, info),
		Registry:      mapSlice(registry, registryEntry),
		Overrides:     mapSlice(ov.Overrides, override),
		DefaultLimit:  lim.defLimit,
		DefaultWindow: lim.defWindow,
	}
	t.fill(sec)
	// What SCAN repeated and what expired mid-walk changes no figure; it
	// says how busy the keyspace was while it was walked.
	p.cfg.Logger.Debug("keyspace walked",
		zap.Int64("counters", stats.Counters), zap.Int64("duplicates", stats.Duplicates),
		zap.Int64("vanished", stats.Vanished), zap.Time("server_time", stats.Now))
	sec.Counters.OrphanSequenceKeys = stats.OrphanSequenceKeys
	sec.Counters.WrongTypeKeys = stats.WrongTypeKeys
	return sec, nil
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

func newRedisLimits(h snapshot.Hints, ov []redisclient.Override) redisLimits {
	l := redisLimits{defLimit: h.DefaultLimit, defWindow: h.DefaultWindow, overrides: make(map[string]redisclient.Override, len(ov))}
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

func redisInfo(rtt time.Duration, info redisclient.Info) snapshot.RedisInfo {
	return snapshot.RedisInfo{
		Connected:        true,
		Ping:             snapshot.Known(rtt),
		Version:          info.Version,
		Role:             info.Role,
		UsedMemoryBytes:  info.UsedMemory,
		ConnectedClients: info.ConnectedClients,
		DBKeys:           info.DBKeys,
	}
}

func registryEntry(e redisclient.RegistryEntry) snapshot.RegistryEntry {
	return snapshot.RegistryEntry{ID: e.ID, Address: e.Address, RegisteredAt: e.RegisteredAt, TTL: e.TTL}
}

func override(o redisclient.Override) snapshot.Override {
	return snapshot.Override{Key: o.Key, Limit: o.Limit, Window: snapshot.Milliseconds(o.Window)}
}
