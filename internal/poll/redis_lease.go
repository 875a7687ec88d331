package poll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/snapshot"
)

// Sidecars of one cluster share one walk of the keyspace: the holder of the
// walk lease walks and writes the share key, the others read it (see "One
// walk per cluster" in docs/design.md). Both keys carry the key prefix as a
// hash tag, so that in a Redis Cluster the lease and the result it guards
// live on one slot and fail over together.

const (
	// shareVersion is the version of the share's format; a reader refuses
	// any other and walks alone.
	shareVersion  = 1
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
	WalkedAt   time.Time             `json:"walked_at"`
	ServerTime time.Time             `json:"server_time"`
	KeyPrefix  string                `json:"key_prefix"`
	NodePrefix string                `json:"node_prefix"`
	Section    snapshot.RedisSection `json:"section"`
}

// walkLease is one observer's side of the lease and the share.
type walkLease struct {
	c                  *redisclient.Client
	leaseKey, shareKey string
	id                 string
	ttl                time.Duration
}

func newWalkLease(c *redisclient.Client, keyPrefix, id string, ttl time.Duration) *walkLease {
	tag := "observerd:{" + keyPrefix + "}:walk:"
	return &walkLease{c: c, leaseKey: tag + "lease", shareKey: tag + "result", id: id, ttl: ttl}
}

// acquire returns the lease's holder after taking or renewing it; empty
// when it was released just now.
func (l *walkLease) acquire(ctx context.Context) (string, error) {
	return l.c.AcquireLease(ctx, l.leaseKey, l.id, l.ttl)
}

// keepRenewed renews the lease every third of its TTL until the returned
// function is called, so that a walk longer than the TTL keeps it.
func (l *walkLease) keepRenewed(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(l.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failed renewal is retried at the next tick; the next
				// poll's acquire says who holds the lease.
				_, _ = l.c.RenewLease(ctx, l.leaseKey, l.id, l.ttl)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (l *walkLease) release(ctx context.Context) error {
	return l.c.ReleaseLease(ctx, l.leaseKey, l.id)
}

// publish writes the share; it outlives the lease so that readers see an
// old walk as old, not as missing.
func (l *walkLease) publish(ctx context.Context, sh *walkShare) error {
	b, err := json.Marshal(sh)
	if err != nil {
		return fmt.Errorf("encode the shared walk: %w", err)
	}
	return l.c.PutValue(ctx, l.shareKey, b, 4*l.ttl)
}

// read returns the share, nil when there is none, and its age by Redis's
// clock.
func (l *walkLease) read(ctx context.Context) (*walkShare, time.Duration, error) {
	b, now, err := l.c.GetValue(ctx, l.shareKey, maxShareBytes)
	if errors.Is(err, redisclient.ErrValueTooLarge) {
		return nil, 0, fmt.Errorf("%w: %w", errShareUnreadable, err)
	}
	if err != nil || b == nil {
		return nil, 0, err
	}
	var sh walkShare
	if err := json.Unmarshal(b, &sh); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", errShareUnreadable, l.shareKey, err)
	}
	if sh.Version != shareVersion {
		return nil, 0, fmt.Errorf("%w: %s holds version %d from observer %q, this observerd reads version %d", errShareUnreadable, l.shareKey, sh.Version, sh.WalkedBy, shareVersion)
	}
	return &sh, max(0, now.Sub(sh.ServerTime)), nil
}
