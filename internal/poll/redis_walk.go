package poll

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
)

// maxWalkPasses bounds the walks of one poll. A walk counts each key by the
// overrides known before it (the last walk's) and reads the overrides on
// its way; when one that changed in between judged a key the walk already
// counted, the walk is run again with the overrides it read. Overrides
// that keep changing walk after walk get this many passes, and the last is
// published.
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
	at := began.UTC()
	sec.Counters.WalkedAt = &at
	return sec
}

// walkAndShare walks as the lease's holder, keeping the lease while it
// walks, and writes the result for the other observers.
func (p *RedisPoller) walkAndShare(ctx context.Context, hints snapshot.Hints) (*snapshot.RedisSection, error) {
	stop := p.lease.keepRenewed(ctx)
	sec, serverTime, err := p.walkKeyspace(ctx, hints)
	stop()
	if err != nil {
		return nil, err
	}
	sh := &walkShare{
		Version:    shareVersion,
		WalkedBy:   p.cfg.InstanceID,
		WalkedAt:   *sec.Counters.WalkedAt,
		ServerTime: serverTime,
		KeyPrefix:  p.cfg.KeyPrefix,
		NodePrefix: p.cfg.NodePrefix,
		Section:    *sec,
	}
	sh.Section.Counters.WalkedBy, sh.Section.Counters.WalkedAt = "", nil
	if err := p.lease.publish(ctx, sh); err != nil {
		// This observer's own figures are good; the others see the walk
		// age and say so.
		p.cfg.Logger.Warn("shared walk not written", zap.Error(err))
	}
	return sec, nil
}

// readShared builds the section from the walk the lease's holder shared,
// and counts the keys of interest itself.
func (p *RedisPoller) readShared(ctx context.Context, holder string, hints snapshot.Hints) (*snapshot.RedisSection, error) {
	sh, age, err := p.lease.read(ctx)
	if err != nil {
		return nil, err
	}
	if sh == nil {
		return nil, fmt.Errorf("no shared walk in Redis yet: observer %q holds the walk lease and has not finished a walk", holder)
	}
	if sh.KeyPrefix != p.cfg.KeyPrefix || sh.NodePrefix != p.cfg.NodePrefix {
		return nil, fmt.Errorf("%w: observer %q walks key prefix %q and node prefix %q, this one's are %q and %q",
			errShareUnreadable, sh.WalkedBy, sh.KeyPrefix, sh.NodePrefix, p.cfg.KeyPrefix, p.cfg.NodePrefix)
	}
	sec := &sh.Section
	sec.Counters.Top = sec.Counters.Top[:min(len(sec.Counters.Top), p.cfg.TopN)]
	at := time.Now().Add(-age).UTC()
	sec.Counters.WalkedBy, sec.Counters.WalkedAt = sh.WalkedBy, &at
	p.known = make([]redisclient.Override, len(sec.Overrides))
	for i, o := range sec.Overrides {
		p.known[i] = redisclient.Override{Key: o.Key, Limit: o.Limit, Window: time.Duration(o.Window)}
	}
	p.topMisses = make(map[string]int, len(sec.Counters.Top))
	for _, k := range sec.Counters.Top {
		p.topMisses[k.Key] = 0
	}
	lim := newRedisLimits(snapshot.Hints{DefaultLimit: sec.DefaultLimit, DefaultWindow: sec.DefaultWindow}, p.known)
	counts, err := p.cfg.Client.Counts(ctx, p.cfg.KeyPrefix, hints.KeysOfInterest, lim.window)
	if err != nil {
		return nil, err
	}
	sec.KeyCounts = counts
	return sec, nil
}

// logHolder logs when the walk lease changes hands.
func (p *RedisPoller) logHolder(holder string) {
	if holder == "" || holder == p.lastHolder {
		return
	}
	p.lastHolder = holder
	p.cfg.Logger.Info("walk lease held", zap.String("walker", holder), zap.Bool("this_observer", holder == p.cfg.InstanceID))
}
