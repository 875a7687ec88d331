package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"go.uber.org/zap"

	promclient "github.com/observerd/observerd/internal/clients/prometheus"
	rlclient "github.com/observerd/observerd/internal/clients/ratelimiter"
	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/httpclient"
	"github.com/observerd/observerd/internal/poll"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
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

// alive is nil while every runner makes progress, else the errors of
// every runner that does not (see poll.Runner.Check).
func (s *sources) alive() error {
	now := time.Now()
	var errs []error
	for _, r := range s.runners {
		if err := r.Check(now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newSources builds a poller and its runner for every enabled source. The
// pollers read what they need from the others' answers through the
// store's hints (see snapshot.Hints).
func newSources(cfg config.Config, store *snapshot.Store, metrics *poll.Metrics, logger *zap.Logger) (*sources, error) {
	s := &sources{}
	builders := []struct {
		name  string
		build func(config.Config, snapshot.HintSource, *zap.Logger) (poll.Poller, func(), error)
	}{
		{source.Redis, newRedisPoller},
		{source.Ratelimiter, newNodesPoller},
		{source.Prometheus, newPrometheusPoller},
	}
	for _, b := range builders {
		if !cfg.Enabled(b.name) {
			continue
		}
		p, closer, err := b.build(cfg, store, logger)
		if err != nil {
			s.close()
			return nil, err
		}
		s.closers = append(s.closers, closer)
		s.runners = append(s.runners, &poll.Runner{
			Poller:     p,
			Interval:   cfg.IntervalFor(b.name),
			Timeout:    cfg.TimeoutFor(b.name),
			MaxBackoff: cfg.PollMaxBackoff,
			Publish:    store.Update,
			Metrics:    metrics,
			Logger:     logger.Named("poll"),
		})
	}
	return s, nil
}

func newRedisPoller(cfg config.Config, hints snapshot.HintSource, logger *zap.Logger) (poll.Poller, func(), error) {
	opts, err := redisOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	client, err := redisclient.New(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("OBSERVERD_REDIS_URL: %w", err)
	}
	walker := client
	if cfg.RedisWalkURL != "" {
		opts.URL = cfg.RedisWalkURL
		if walker, err = redisclient.New(opts); err != nil {
			_ = client.Close()
			return nil, nil, fmt.Errorf("OBSERVERD_REDIS_WALK_URL: %w", err)
		}
	}
	closeClients := func() {
		if walker != client {
			_ = walker.Close()
		}
		_ = client.Close()
	}
	p, err := poll.NewRedisPoller(poll.RedisConfig{
		Client:           client,
		WalkClient:       walker,
		KeyPrefix:        cfg.KeyPrefix,
		NodePrefix:       cfg.NodePrefix,
		TopN:             cfg.TopKeys,
		ListCap:          cfg.ListLimit,
		NearLimit:        cfg.NearLimitRatio,
		Hints:            hints,
		InstanceID:       cfg.Instance(),
		Coordinate:       cfg.RedisWalkCoordination == config.WalkLease,
		LeaseTTL:         cfg.LeaseTTL(),
		MaxKeysPerSecond: cfg.RedisWalkMaxKeysPerSecond,
		WalkBudget:       cfg.RedisWalkBudget,
		Interval:         cfg.IntervalFor(source.Redis),
		FutureAfter:      health.FutureAfter(cfg.Invariants),
		Logger:           logger.Named("redis"),
	})
	if err != nil {
		closeClients()
		return nil, nil, err
	}
	return p, func() {
		// A clean stop hands the walk lease over at once.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			logger.Warn("walk lease not released", zap.Error(err))
		}
		closeClients()
	}, nil
}

// redisOptions are the Redis client's options of cfg, with the password
// and TLS files read.
func redisOptions(cfg config.Config) (redisclient.Options, error) {
	password := ""
	if cfg.RedisPasswordFile != "" {
		b, err := os.ReadFile(cfg.RedisPasswordFile)
		if err != nil {
			return redisclient.Options{}, fmt.Errorf("OBSERVERD_REDIS_PASSWORD_FILE: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	var tlsCfg *tls.Config
	if cfg.RedisCAFile != "" || cfg.RedisCertFile != "" || cfg.RedisKeyFile != "" {
		var err error
		tlsCfg, err = httpclient.TLSConfig(promconfig.TLSConfig{CAFile: cfg.RedisCAFile, CertFile: cfg.RedisCertFile, KeyFile: cfg.RedisKeyFile})
		if err != nil {
			return redisclient.Options{}, fmt.Errorf("OBSERVERD_REDIS_TLS_*: %w", err)
		}
	}
	return redisclient.Options{
		URL: cfg.RedisURL, ClusterAddrs: cfg.RedisClusterAddrs, Location: cfg.NodeTimezone,
		Username: cfg.RedisUsername, Password: password, TLSConfig: tlsCfg,
	}, nil
}

func newNodesPoller(cfg config.Config, hints snapshot.HintSource, logger *zap.Logger) (poll.Poller, func(), error) {
	var discover snapshot.HintSource
	if cfg.RatelimiterDiscover && cfg.Enabled(source.Redis) {
		discover = hints
	}
	httpCfg, err := cfg.RatelimiterHTTP()
	if err != nil {
		return nil, nil, err
	}
	// One client for every node, as Prometheus has one per scrape pool:
	// its files are read once here, and a bad one stops observerd now
	// rather than at the first node found in the registry.
	hc, err := httpclient.New(httpCfg, cfg.MaxHeaderBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", httpConfigVars("RATELIMITER", cfg.RatelimiterHTTPConfigFile), err)
	}
	p, err := poll.NewNodesPoller(poll.NodesConfig{
		URLs:           cfg.RatelimiterURLs,
		Discover:       discover,
		DiscoverScheme: cfg.RatelimiterDiscoverScheme,
		Client:         rlclient.Options{HTTPClient: hc, MaxBodyBytes: cfg.MaxResponseBytes, Timeout: -1, Location: cfg.NodeTimezone},
		Logger:         logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("OBSERVERD_RATELIMITER_URLS: %w", err)
	}
	return p, p.Close, nil
}

func newPrometheusPoller(cfg config.Config, _ snapshot.HintSource, _ *zap.Logger) (poll.Poller, func(), error) {
	httpCfg, err := cfg.PrometheusHTTP()
	if err != nil {
		return nil, nil, err
	}
	client, err := promclient.New(cfg.PrometheusURL, promclient.Options{HTTP: httpCfg, MaxBodyBytes: cfg.MaxResponseBytes, MaxHeaderBytes: cfg.MaxHeaderBytes})
	if err != nil {
		return nil, nil, fmt.Errorf("OBSERVERD_PROMETHEUS_URL with %s: %w", httpConfigVars("PROMETHEUS", cfg.PrometheusHTTPConfigFile), err)
	}
	p, err := poll.NewPrometheusPoller(poll.PrometheusConfig{Client: client, Queries: queries(cfg)})
	if err != nil {
		client.CloseIdleConnections()
		return nil, nil, fmt.Errorf("prometheus source: %w", err)
	}
	return p, client.CloseIdleConnections, nil
}

// httpConfigVars names where a source's HTTP client configuration comes
// from, for an error in building the client: its http_config file, or the
// shorthand variables.
func httpConfigVars(src, file string) string {
	if file != "" {
		return "OBSERVERD_" + src + "_HTTP_CONFIG_FILE"
	}
	return "OBSERVERD_" + src + "_TLS_*"
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
		{&q.AllowedRecent, cfg.QueryAllowedRecent}, {&q.BlockedRecent, cfg.QueryBlockedRecent}, {&q.AllowedCounter, cfg.QueryAllowedCounter},
		{&q.AllowedScraped, cfg.QueryAllowedScraped},
	} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	return q
}
