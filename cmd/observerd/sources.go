package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	promclient "github.com/observerd/observerd/internal/clients/prometheus"
	rlclient "github.com/observerd/observerd/internal/clients/ratelimiter"
	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/poll"
	"github.com/observerd/observerd/internal/snapshot"
)

// sources are the enabled pollers, each in its runner, and what must be
// closed when observerd stops.
type sources struct {
	runners []*poll.Runner
	closers []func()
}

func (s *sources) close() {
	for _, c := range s.closers {
		c()
	}
}

// newSources builds a poller and its runner for every enabled source. The
// pollers read what they need from the others (cluster defaults, registry
// addresses, keys the nodes reported) through the store's hints.
func newSources(cfg config.Config, store *snapshot.Store, logger *zap.Logger) (*sources, error) {
	s := &sources{}
	add := func(p poll.Poller) {
		name := p.Name()
		s.runners = append(s.runners, &poll.Runner{
			Poller:     p,
			Interval:   cfg.IntervalFor(name),
			Timeout:    cfg.TimeoutFor(name),
			MaxBackoff: cfg.PollMaxBackoff,
			Publish:    store.Update,
			Logger:     logger.Named("poll"),
		})
	}

	if cfg.Enabled(snapshot.SourceRedis) {
		password := ""
		if cfg.RedisPasswordFile != "" {
			b, err := os.ReadFile(cfg.RedisPasswordFile)
			if err != nil {
				return nil, fmt.Errorf("OBSERVERD_REDIS_PASSWORD_FILE: %w", err)
			}
			password = strings.TrimRight(string(b), "\r\n")
		}
		client, err := redisclient.New(redisclient.Options{
			URL:          cfg.RedisURL,
			ClusterAddrs: cfg.RedisClusterAddrs,
			Password:     password,
			Location:     cfg.NodeTimezone,
		})
		if err != nil {
			return nil, fmt.Errorf("OBSERVERD_REDIS_URL: %w", err)
		}
		s.closers = append(s.closers, func() { _ = client.Close() })
		add(poll.NewRedisPoller(poll.RedisConfig{
			Client:     client,
			KeyPrefix:  cfg.KeyPrefix,
			NodePrefix: cfg.NodePrefix,
			TopN:       cfg.TopKeys,
			ListCap:    cfg.ListLimit,
			Defaults: func() (int64, time.Duration) {
				h := store.Hints()
				return h.DefaultLimit, h.DefaultWindow
			},
			KeysOfInterest: func() []string { return store.Hints().KeysOfInterest },
		}))
	}

	if cfg.Enabled(snapshot.SourceRatelimiter) {
		var discover func() []string
		if cfg.RatelimiterDiscover && cfg.Enabled(snapshot.SourceRedis) {
			discover = func() []string { return store.Hints().RegistryAddrs }
		}
		p, err := poll.NewNodesPoller(poll.NodesConfig{
			URLs:     cfg.RatelimiterURLs,
			Discover: discover,
			Client:   rlclient.Options{MaxBodyBytes: cfg.MaxResponseBytes, Timeout: -1, Location: cfg.NodeTimezone},
			Logger:   logger,
		})
		if err != nil {
			return nil, fmt.Errorf("OBSERVERD_RATELIMITER_URLS: %w", err)
		}
		s.closers = append(s.closers, p.Close)
		add(p)
	}

	if cfg.Enabled(snapshot.SourcePrometheus) {
		client, err := promclient.New(cfg.PrometheusURL, promclient.Options{MaxBodyBytes: cfg.MaxResponseBytes})
		if err != nil {
			return nil, fmt.Errorf("OBSERVERD_PROMETHEUS_URL: %w", err)
		}
		s.closers = append(s.closers, client.CloseIdleConnections)
		p, err := poll.NewPrometheusPoller(poll.PrometheusConfig{Client: client, Queries: queries(cfg)})
		if err != nil {
			return nil, fmt.Errorf("prometheus source: %w", err)
		}
		add(p)
	}
	return s, nil
}

// queries are the built-in Prometheus queries with the configured ones in
// their place.
func queries(cfg config.Config) poll.Queries {
	q := poll.DefaultQueries(cfg.PrometheusJob)
	for _, o := range []struct {
		dst *string
		v   string
	}{
		{&q.P99, cfg.QueryP99}, {&q.AllowedByInstance, cfg.QueryAllowed}, {&q.BlockedByInstance, cfg.QueryBlocked},
		{&q.AllowedTotal, cfg.QueryAllowedTotal}, {&q.BlockedTotal, cfg.QueryBlockedTotal}, {&q.Up, cfg.QueryUp},
	} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	return q
}
