package poll

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"go.uber.org/zap"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/ratio"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// RedisConfig configures a RedisPoller. Client, the prefixes, TopN,
// ListCap, NearLimit and Hints are required; config.Config holds their defaults.
type RedisConfig struct {
	// Client is the Redis client; the poller does not close it.
	Client *redisclient.Client
	// WalkClient, when set, is the Redis the keyspace is walked on (a
	// replica); PING, INFO, the lease and the shared walk stay on Client.
	WalkClient *redisclient.Client
	// KeyPrefix is the counter key prefix; overrides live under
	// KeyPrefix+"limit:". NodePrefix is the node registry prefix.
	KeyPrefix  string
	NodePrefix string
	// TopN is how many of the hottest keys to publish.
	TopN int
	// ListCap caps the Blocks, OverLimit, ZeroLimitActive and WithoutTTL
	// lists; their totals stay exact.
	ListCap int
	// NearLimit is the share of its own limit at or above which a key is
	// near it (Counters.NearLimitKeys, Counters.NearLimit, capped at
	// ListCap); required.
	NearLimit ratio.Ratio
	// Hints gives the defaults that judge every key without an override
	// (an override without a window takes the default window) and the
	// keys of interest, whose counts go into RedisSection.KeyCounts.
	Hints snapshot.HintSource
	// InstanceID names this observer among the sidecars of one cluster:
	// the walk lease's value and the walked_by of its walks.
	InstanceID string
	// Coordinate makes the sidecars of one cluster share one walk (see
	// redis_lease.go); false: this observer walks on every poll.
	Coordinate bool
	// LeaseTTL is how long the walk lease outlives its holder's last
	// renewal. Required with Coordinate.
	LeaseTTL time.Duration
	// MaxKeysPerSecond paces each walk; zero or less: WalkBudget does.
	MaxKeysPerSecond float64
	// WalkBudget, above 0 and below 1, is the share of Redis's time a walk
	// may take while it runs; a walk that could not finish within
	// walkShareOfDeadline of Interval (or of the poll's deadline, when
	// sooner) at that pace takes more. 0, 1 or more: unpaced.
	WalkBudget float64
	// Interval is the Redis poll interval, within walkShareOfDeadline of
	// which a budgeted walk aims to finish, and over which it is spread
	// when it could go faster; zero: the poll's deadline alone, and no
	// spreading (a one-shot check).
	Interval time.Duration
	// FutureAfter is how far ahead of Redis's clock an entry of a sampled
	// key must be scored to be counted as in the future (clock_skew's
	// threshold).
	FutureAfter time.Duration
	// Logger receives changes in bad data and in who walks; nil discards
	// them.
	Logger *zap.Logger
}

// RedisPoller reads Redis directly: server info, the node registry, the
// overrides, and every counter key, judged by its own limit. A Runner
// calls its Poll one at a time, which the state below relies on.
type RedisPoller struct {
	cfg RedisConfig
	// leaseKey and shareKey are the keys of the walk lease and of the
	// walk its holder shares.
	leaseKey, shareKey string

	// known are the overrides of the last walk, this observer's or a
	// shared one: the next walk counts keys by them until it has read its
	// own (see walkKeyspace).
	known []redisclient.Override
	// overridesKnown is false until known has been read once, by a walk,
	// a shared walk or ReadOverrides.
	overridesKnown bool
	// topMisses holds the keys of the last published top, this observer's
	// or the walker's, each with the walks in a row it has ranked outside
	// the top (see chooseTop).
	topMisses map[string]int
	// The walk lease's holder and the bad data of the last poll, to log
	// changes only.
	lastHolder                     string
	lastMalformed, lastBadRegistry int
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
	case !cfg.NearLimit.Valid():
		return nil, fmt.Errorf("redis poller: near-limit ratio %s must be above 0 and at most 1", cfg.NearLimit)
	case cfg.Coordinate && (cfg.InstanceID == "" || cfg.LeaseTTL <= 0):
		return nil, fmt.Errorf("redis poller: a shared walk needs an instance id (%q) and a lease TTL (%s)", cfg.InstanceID, cfg.LeaseTTL)
	}
	cfg.Logger = cmp.Or(cfg.Logger, zap.NewNop())
	cfg.WalkClient = cmp.Or(cfg.WalkClient, cfg.Client)
	// Both keys carry the key prefix as a hash tag: in a Redis Cluster the
	// lease and the walk it guards live on one slot and fail over together.
	tag := "observerd:{" + cfg.KeyPrefix + "}:walk:"
	return &RedisPoller{cfg: cfg, leaseKey: tag + "lease", shareKey: tag + "result"}, nil
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
	hints := p.cfg.Hints.Hints()
	sec, err := p.counters(ctx, hints, info.DBKeys)
	if err != nil {
		return nil, err
	}
	if err := p.countInterest(ctx, sec, hints.KeysOfInterest); err != nil {
		return nil, err
	}
	clock, err := c.Time(ctx)
	if err != nil {
		return nil, err
	}
	sec.Clock = snapshot.ClockReading{Clock: clock.Time, Resolution: time.Microsecond,
		Read: snapshot.Interval{Start: clock.Sent, End: clock.Received}}
	sec.Info = snapshot.RedisInfo{
		Connected: true, Ping: snapshot.Known(rtt), Version: info.Version, Role: info.Role,
		UsedMemoryBytes: info.UsedMemory, ConnectedClients: info.ConnectedClients, DBKeys: info.DBKeys,
	}
	return sec, nil
}

// counters walks the keyspace, or reads the walk of the observer holding
// the lease and counts only the keys of interest.
// expected is how many keys Redis holds, for the walk's pace.
func (p *RedisPoller) counters(ctx context.Context, hints snapshot.Hints, expected int64) (*snapshot.RedisSection, error) {
	if p.cfg.Coordinate {
		// The holder after taking or renewing the lease; empty when it
		// was released just now.
		holder, err := p.cfg.Client.AcquireLease(ctx, p.leaseKey, p.cfg.InstanceID, p.cfg.LeaseTTL)
		if err != nil {
			return nil, err
		}
		p.logHolder(holder)
		if holder == p.cfg.InstanceID {
			return p.walkAndShare(ctx, hints, expected)
		}
		sec, err := p.readShared(ctx, holder, hints)
		if !errors.Is(err, errShareUnreadable) {
			return sec, err
		}
		// An observer of another version walks for the fleet: walk alone
		// rather than publish nothing.
		p.cfg.Logger.Warn("shared walk unreadable, walking the keyspace alone", zap.Error(err))
	}
	sec, _, err := p.walkKeyspace(ctx, hints, expected)
	return sec, err
}

// countInterest counts the keys the nodes sampled, by the limits of sec, in
// a read of its own right after the walk: counter_drift compares them with
// the nodes' counts read at known times.
func (p *RedisPoller) countInterest(ctx context.Context, sec *snapshot.RedisSection, keys []string) error {
	lim := newRedisLimits(snapshot.Hints{DefaultLimit: sec.DefaultLimit, DefaultWindow: sec.DefaultWindow},
		mapSlice(sec.Overrides, clientOverride))
	start := time.Now()
	counts, err := p.cfg.Client.Counts(ctx, p.cfg.KeyPrefix, keys, lim.window)
	if err != nil {
		return err
	}
	sec.KeyCounts, sec.KeyCountsRead = counts, snapshot.Interval{Start: start, End: time.Now()}
	return nil
}

// Close gives the walk lease up if this observer holds it, so that another
// walks at once rather than after the lease's TTL. It is for a clean stop.
func (p *RedisPoller) Close(ctx context.Context) error {
	if !p.cfg.Coordinate {
		return nil
	}
	return p.cfg.Client.ReleaseLease(ctx, p.leaseKey, p.cfg.InstanceID)
}

// logBadData logs the overrides and registry entries a walk left out or
// withheld fields of as bad data, when their number changes.
func (p *RedisPoller) logBadData(res *redisclient.WalkResult) {
	ov := res.Overrides
	p.logChange(&p.lastMalformed, "malformed overrides", ov.Malformed, malformedSample(ov.MalformedSample))
	sample := malformedSample(res.RegistrySkipped.Sample)
	n := res.RegistrySkipped.Count
	for _, e := range res.Registry {
		if len(e.Problems) > 0 {
			n++
			if len(sample) < redisclient.MaxMalformedSamples {
				sample = append(sample, e.ID+": "+strings.Join(e.Problems, "; "))
			}
		}
	}
	p.logChange(&p.lastBadRegistry, "registry entries with bad data", n, sample)
}

func malformedSample(ms []redisclient.Malformed) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Key + ": " + m.Reason
	}
	return out
}

// logChange logs n things of what at warn level when n differs from the
// last poll's, and once at info level when they are gone.
func (p *RedisPoller) logChange(last *int, what string, n int, sample []string) {
	if *last == n {
		return
	}
	*last = n
	if n == 0 {
		p.cfg.Logger.Info(what + " gone")
		return
	}
	p.cfg.Logger.Warn(what+" skipped", zap.Int("count", n), zap.Strings("sample", sample))
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

// misjudged counts the keys the walk counted by l whose limit or window is
// another by final, the overrides the walk read.
func (l redisLimits) misjudged(final redisLimits, counted func(key string) bool) int {
	keys := maps.Clone(l.overrides)
	maps.Copy(keys, final.overrides)
	n := 0
	for key := range keys {
		if (l.limit(key) != final.limit(key) || l.window(key) != final.window(key)) && counted(key) {
			n++
		}
	}
	return n
}

// window is the override's window, or the default one when the key has no
// override or its override has no window_ms.
func (l redisLimits) window(key string) time.Duration {
	if o, ok := l.overrides[key]; ok && o.Window > 0 {
		return o.Window
	}
	return l.defWindow
}

func registryEntry(e redisclient.RegistryEntry) snapshot.RegistryEntry {
	return snapshot.RegistryEntry{ID: e.ID, Address: e.Address, RegisteredAt: e.RegisteredAt, TTL: e.TTL}
}

func override(o redisclient.Override) snapshot.Override {
	return snapshot.Override{Key: o.Key, Limit: o.Limit, Window: snapshot.Milliseconds(o.Window)}
}

// clientOverride is override the other way: a published override as the
// walk judges keys by it.
func clientOverride(o snapshot.Override) redisclient.Override {
	return redisclient.Override{Key: o.Key, Limit: o.Limit, Window: time.Duration(o.Window)}
}
