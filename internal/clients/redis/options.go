package redis

import (
	"crypto/tls"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// tlsConfig picks the TLS settings. An empty ServerName is taken from each
// dialled address, which is what a cluster needs: every node is verified by
// its own name, not by the URL's host.
func tlsConfig(o Options, base *goredis.Options) *tls.Config {
	switch {
	case o.TLSConfig != nil:
		return o.TLSConfig.Clone()
	case base.TLSConfig != nil:
		cfg := base.TLSConfig.Clone()
		if len(o.ClusterAddrs) > 0 {
			cfg.ServerName = ""
		}
		return cfg
	default:
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
}

// tune sets what this package wants of every connection: a small pool,
// short timeouts and at most one retry, because the poller has its own
// deadline and backoff and a slow answer is better reported than hidden.
func tune(o *goredis.Options, opts Options) {
	o.PoolSize = DefaultPoolSize
	o.MinIdleConns = 0
	o.DialTimeout = opts.DialTimeout
	o.ReadTimeout = opts.ReadTimeout
	o.WriteTimeout = opts.ReadTimeout
	o.PoolTimeout = opts.ReadTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = maxRetries
	o.DialerRetries = 1
	o.Protocol = 2
	o.DisableIdentity = true
	o.PipelinePoolSize = -1
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

func clusterOptions(o Options, base *goredis.Options) *goredis.ClusterOptions {
	tune(base, o)
	return &goredis.ClusterOptions{
		Addrs:                    o.ClusterAddrs,
		Username:                 base.Username,
		Password:                 base.Password,
		TLSConfig:                base.TLSConfig,
		PoolSize:                 base.PoolSize,
		DialTimeout:              base.DialTimeout,
		ReadTimeout:              base.ReadTimeout,
		WriteTimeout:             base.WriteTimeout,
		PoolTimeout:              base.PoolTimeout,
		ContextTimeoutEnabled:    true,
		MaxRetries:               base.MaxRetries,
		DialerRetries:            base.DialerRetries,
		MaxRedirects:             2,
		Protocol:                 base.Protocol,
		DisableIdentity:          true,
		PipelinePoolSize:         base.PipelinePoolSize,
		MaintNotificationsConfig: base.MaintNotificationsConfig,
	}
}
