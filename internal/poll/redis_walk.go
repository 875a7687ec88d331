package poll

import (
	"context"
	"time"

	"go.uber.org/zap"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
)

// maxWalkPasses bounds the walks of one poll: a walk that counted a key by
// an override that changed meanwhile walks again (docs/design.md), and
// overrides that keep changing get this many passes, the last published.
const maxWalkPasses = 3

// walkKeyspace walks the keyspace on this observer and builds the section
// from it, with the server's clock when the published walk began.
func (p *RedisPoller) walkKeyspace(ctx context.Context, hints snapshot.Hints) (*snapshot.RedisSection, time.Time, error) {
	known := p.known
	for pass := 1; ; pass++ {
		began := time.Now()
		lim := newRedisLimits(hints, known)
		t := newRedisTally(p.cfg.TopN, p.cfg.ListCap, hints.KeysOfInterest, p.topMisses)
		res, err := p.cfg.WalkClient.Walk(ctx, redisclient.Pass{
			KeyPrefix:        p.cfg.KeyPrefix,
			NodePrefix:       p.cfg.NodePrefix,
			Window:           lim.window,
			Visit:            func(cn redisclient.Counter) { t.visit(cn, lim.limit(cn.Key)) },
			MaxKeysPerSecond: p.cfg.MaxKeysPerSecond,
		})
		if err != nil {
			return nil, time.Time{}, err
		}
		known = res.Overrides.Overrides
		final := newRedisLimits(hints, known)
		misjudged := lim.misjudged(final, res.Counted)
		if misjudged > 0 && pass < maxWalkPasses {
			p.cfg.Logger.Debug("overrides changed since the last walk, walking again",
				zap.Int("keys", misjudged), zap.Int("pass", pass))
			continue
		}
		p.known = known
		p.logBadData(res)
		p.cfg.Logger.Debug("keyspace walked",
			zap.Int64("counters", res.Stats.Counters), zap.Int64("duplicates", res.Stats.Duplicates),
			zap.Int64("vanished", res.Stats.Vanished), zap.Int64("scan_calls", res.Stats.ScanCalls),
			zap.Int("passes", pass), zap.Time("server_time", res.Stats.Now))
		return p.walkSection(t, final, res, began), res.Stats.Now, nil
	}
}

// walkSection is the section of a walk by this observer.
func (p *RedisPoller) walkSection(t *redisTally, lim redisLimits, res *redisclient.WalkResult, began time.Time) *snapshot.RedisSection {
	sec := &snapshot.RedisSection{
		Registry:      mapSlice(res.Registry, registryEntry),
		Overrides:     mapSlice(res.Overrides.Overrides, override),
		DefaultLimit:  lim.defLimit,
		DefaultWindow: lim.defWindow,
	}
	t.fill(sec)
	sec.Counters.Top, p.topMisses = chooseTop(p.cfg.TopN, p.topMisses, sec.Counters.Top, t.found)
	sec.Counters.OrphanSequenceKeys = res.Stats.OrphanSequenceKeys
	sec.Counters.WrongTypeKeys = res.Stats.WrongTypeKeys
	sec.Counters.WalkedBy = p.cfg.InstanceID
	sec.Counters.WalkedAt = new(began.UTC())
	return sec
}
