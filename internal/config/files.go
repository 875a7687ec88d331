package config

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/source"
)

// Bounds of the serving and reading limits.
const (
	minHeaderBytes = 1024
	minNameBytes   = names.MinMaxBytes
	maxNameBytes   = 64 << 10
)

// validateLimits checks the bounds on what observerd serves at once and
// reads from its peers.
func (c Config) validateLimits(p *problems) {
	for _, s := range []setting[int]{{"WEB_MAX_CONNECTIONS", c.WebMaxConnections}, {"WEB_MAX_REQUESTS", c.WebMaxRequests}, {"WEB_MAX_WAITING", c.WebMaxWaiting}} {
		if s.value < 1 {
			p.add(s.name, "must be at least 1, got %d", s.value)
		}
	}
	if c.WebMaxWait < time.Second {
		p.add("WEB_MAX_WAIT", "must be at least 1s, got %v", c.WebMaxWait)
	}
	if c.MaxHeaderBytes < minHeaderBytes {
		p.add("MAX_RESPONSE_HEADER_BYTES", "must be at least %d, got %d", minHeaderBytes, c.MaxHeaderBytes)
	}
	if c.MaxNameBytes < minNameBytes || c.MaxNameBytes > maxNameBytes {
		p.add("MAX_NAME_BYTES", "must be between %d and %d, got %d", minNameBytes, maxNameBytes, c.MaxNameBytes)
	}
}

// validateFiles checks the credential, certificate and web configuration
// files of the enabled sources: each must be readable now, so that a wrong
// path stops observerd at start instead of failing every poll. Only paths
// are quoted, never contents.
func (c Config) validateFiles(p *problems) {
	if c.WebConfigFile != "" {
		if err := web.Validate(c.WebConfigFile); err != nil {
			if _, ok := err.(*os.PathError); ok {
				p.add("WEB_CONFIG_FILE", "%v", unwrapPath(err))
			} else {
				p.add("WEB_CONFIG_FILE", "%s: %v", c.WebConfigFile, err)
			}
		}
	}
	if c.Enabled(source.Ratelimiter) {
		c.validateTLSFiles(p, "RATELIMITER", c.RatelimiterCAFile, c.RatelimiterCertFile, c.RatelimiterKeyFile)
		validateHTTPConfigFile(p, "RATELIMITER", c.RatelimiterHTTPConfigFile,
			setting[string]{"RATELIMITER_TLS_CA_FILE", c.RatelimiterCAFile}, setting[string]{"RATELIMITER_TLS_CERT_FILE", c.RatelimiterCertFile},
			setting[string]{"RATELIMITER_TLS_KEY_FILE", c.RatelimiterKeyFile})
	}
	if c.Enabled(source.Redis) {
		readable(p, "REDIS_PASSWORD_FILE", c.RedisPasswordFile)
		if c.RedisCAFile != "" || c.RedisCertFile != "" {
			if u, err := url.Parse(c.RedisURL); err == nil && u.Scheme != "rediss" {
				name := "REDIS_TLS_CA_FILE"
				if c.RedisCAFile == "" {
					name = "REDIS_TLS_CERT_FILE"
				}
				p.add(name, "TLS needs a rediss:// OBSERVERD_REDIS_URL")
			}
		}
		c.validateTLSFiles(p, "REDIS", c.RedisCAFile, c.RedisCertFile, c.RedisKeyFile)
	}
	if c.Enabled(source.Prometheus) {
		c.validatePrometheusAuth(p)
		c.validateTLSFiles(p, "PROMETHEUS", c.PrometheusCAFile, c.PrometheusCertFile, c.PrometheusKeyFile)
		validateHTTPConfigFile(p, "PROMETHEUS", c.PrometheusHTTPConfigFile,
			setting[string]{"PROMETHEUS_USERNAME", c.PrometheusUsername}, setting[string]{"PROMETHEUS_PASSWORD_FILE", c.PrometheusPasswordFile},
			setting[string]{"PROMETHEUS_BEARER_TOKEN_FILE", c.PrometheusBearerTokenFile}, setting[string]{"PROMETHEUS_TLS_CA_FILE", c.PrometheusCAFile},
			setting[string]{"PROMETHEUS_TLS_CERT_FILE", c.PrometheusCertFile}, setting[string]{"PROMETHEUS_TLS_KEY_FILE", c.PrometheusKeyFile})
	}
}

func (c Config) validatePrometheusAuth(p *problems) {
	if (c.PrometheusUsername == "") != (c.PrometheusPasswordFile == "") {
		p.add("PROMETHEUS_PASSWORD_FILE", "set together with OBSERVERD_PROMETHEUS_USERNAME")
	}
	if c.PrometheusBearerTokenFile != "" && c.PrometheusUsername != "" {
		p.add("PROMETHEUS_BEARER_TOKEN_FILE", "not with OBSERVERD_PROMETHEUS_USERNAME: Prometheus takes one kind of authorization")
	}
	readable(p, "PROMETHEUS_BEARER_TOKEN_FILE", c.PrometheusBearerTokenFile)
	readable(p, "PROMETHEUS_PASSWORD_FILE", c.PrometheusPasswordFile)
}

// validateTLSFiles checks one source's CA, certificate and key files:
// OBSERVERD_<src>_TLS_*.
func (c Config) validateTLSFiles(p *problems, src, ca, cert, key string) {
	if (cert == "") != (key == "") {
		p.add(src+"_TLS_CERT_FILE", "set together with OBSERVERD_%s_TLS_KEY_FILE", src)
	}
	readable(p, src+"_TLS_CA_FILE", ca)
	readable(p, src+"_TLS_CERT_FILE", cert)
	readable(p, src+"_TLS_KEY_FILE", key)
}

// readable reports a file that is set but cannot be read.
func readable(p *problems, name, path string) {
	if path == "" {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		p.add(name, "%v", unwrapPath(err))
		return
	}
	_ = f.Close()
}

// unwrapPath turns "open /x: no such file or directory" into
// "/x: no such file or directory".
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
