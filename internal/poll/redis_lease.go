package poll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/ratio"
	"github.com/observerd/observerd/internal/snapshot"
)

// Sidecars of one cluster share one walk of the keyspace: the holder of the
// walk lease walks and writes the share key, the others read it (see "One
// walk per cluster" in docs/design.md).

const (
	// shareVersion is the version of the share's format; a reader refuses
	// any other and walks alone. Version 2 added the sampled keys, the
	// keys whose TTL outlives their window and the walk's batch latency;
	// version 3 the near-limit count and list and the ratio they were
	// judged by (a version 2 share would read as no key near its limit).
	shareVersion  = 3
	maxShareBytes = 16 << 20
)

// errShareUnreadable marks a share this observer cannot use: another
// version, or another keyspace.
var errShareUnreadable = errors.New("shared walk unreadable")

// walkShare is the counters part of one walk, as written to Redis.
type walkShare struct {
	Version  int    `json:"version"`
	WalkedBy string `json:"walked_by"`
	// WalkedAt is the walker's clock when the walk began, for people;
	// ServerTime is Redis's, which every reader's age is measured by.
	WalkedAt   time.Time `json:"walked_at"`
	ServerTime time.Time `json:"server_time"`
	KeyPrefix  string    `json:"key_prefix"`
	NodePrefix string    `json:"node_prefix"`
	// NearLimitRatio is the share the walker judged keys near their limit
	// by, exactly; a reader with another walks alone.
	NearLimitRatio ratio.Ratio           `json:"near_limit_ratio"`
	Section        snapshot.RedisSection `json:"section"`
}

// keepRenewed renews the lease every third of its TTL until the returned
// function is called, so that a walk longer than the TTL keeps it.
func (p *RedisPoller) keepRenewed(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(p.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failed renewal is retried at the next tick; the next
				// poll's AcquireLease says who holds the lease.
				_, _ = p.cfg.Client.RenewLease(ctx, p.leaseKey, p.cfg.InstanceID, p.cfg.LeaseTTL)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// putShare writes the share; it outlives the lease so that readers see an
// old walk as old, not as missing.
func (p *RedisPoller) putShare(ctx context.Context, sh *walkShare) error {
	b, err := json.Marshal(sh)
	if err != nil {
		return fmt.Errorf("encode the shared walk: %w", err)
	}
	return p.cfg.Client.PutValue(ctx, p.shareKey, b, 4*p.cfg.LeaseTTL)
}

// getShare returns the share, nil when there is none, and its age by
// Redis's clock.
func (p *RedisPoller) getShare(ctx context.Context) (*walkShare, time.Duration, error) {
	b, now, err := p.cfg.Client.GetValue(ctx, p.shareKey, maxShareBytes)
	if errors.Is(err, redisclient.ErrValueTooLarge) {
		return nil, 0, fmt.Errorf("%w: %w", errShareUnreadable, err)
	}
	if err != nil || b == nil {
		return nil, 0, err
	}
	var sh walkShare
	if err := json.Unmarshal(b, &sh); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", errShareUnreadable, p.shareKey, err)
	}
	if sh.Version != shareVersion {
		return nil, 0, fmt.Errorf("%w: %s holds version %d from observer %q, this observerd reads version %d", errShareUnreadable, p.shareKey, sh.Version, sh.WalkedBy, shareVersion)
	}
	return &sh, max(0, now.Sub(sh.ServerTime)), nil
}

// walkAndShare walks as the lease's holder, keeping the lease while it
// walks, and writes the result for the other observers.
func (p *RedisPoller) walkAndShare(ctx context.Context, hints snapshot.Hints, expected int64) (*snapshot.RedisSection, error) {
	stop := p.keepRenewed(ctx)
	sec, serverTime, err := p.walkKeyspace(ctx, hints, expected)
	stop()
	if err != nil {
		return nil, err
	}
	sh := &walkShare{
		Version:        shareVersion,
		WalkedBy:       p.cfg.InstanceID,
		WalkedAt:       *sec.Counters.WalkedAt,
		ServerTime:     serverTime,
		KeyPrefix:      p.cfg.KeyPrefix,
		NodePrefix:     p.cfg.NodePrefix,
		NearLimitRatio: p.cfg.NearLimit,
		Section:        *sec,
	}
	sh.Section.Counters.WalkedBy, sh.Section.Counters.WalkedAt = "", nil
	if err := p.putShare(ctx, sh); err != nil {
		// This observer's own figures are good; the others see the walk
		// age and say so.
		p.cfg.Logger.Warn("shared walk not written", zap.Error(err))
	}
	return sec, nil
}

// readShared builds the section from the walk the lease's holder shared,
// and counts the keys of interest itself.
func (p *RedisPoller) readShared(ctx context.Context, holder string, hints snapshot.Hints) (*snapshot.RedisSection, error) {
	sh, age, err := p.getShare(ctx)
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
	if sh.NearLimitRatio != p.cfg.NearLimit {
		return nil, fmt.Errorf("%w: observer %q judges keys near their limit at %s of it, this one at %s",
			errShareUnreadable, sh.WalkedBy, sh.NearLimitRatio, p.cfg.NearLimit)
	}
	sec := &sh.Section
	sec.Counters.Top = sec.Counters.Top[:min(len(sec.Counters.Top), p.cfg.TopN)]
	sec.Counters.NearLimit = sec.Counters.NearLimit[:min(len(sec.Counters.NearLimit), p.cfg.ListCap)]
	sec.Counters.WalkedBy, sec.Counters.WalkedAt = sh.WalkedBy, new(time.Now().Add(-age).UTC())
	p.known, p.overridesKnown = mapSlice(sec.Overrides, clientOverride), true
	p.topMisses = make(map[string]int, len(sec.Counters.Top))
	for _, k := range sec.Counters.Top {
		p.topMisses[k.Key] = 0
	}
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
