package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	promconfig "github.com/prometheus/common/config"
)

// PrometheusHTTP is Prometheus's HTTP client configuration: the one in
// OBSERVERD_PROMETHEUS_HTTP_CONFIG_FILE, else the one its shorthand
// variables make. An error names the variable.
func (c Config) PrometheusHTTP() (promconfig.HTTPClientConfig, error) {
	h := shorthandHTTP(c.PrometheusCAFile, c.PrometheusCertFile, c.PrometheusKeyFile)
	switch {
	case c.PrometheusUsername != "":
		h.BasicAuth = &promconfig.BasicAuth{Username: c.PrometheusUsername, PasswordFile: c.PrometheusPasswordFile}
	case c.PrometheusBearerTokenFile != "":
		h.Authorization = &promconfig.Authorization{Type: "Bearer", CredentialsFile: c.PrometheusBearerTokenFile}
	}
	return fileOr("PROMETHEUS_HTTP_CONFIG_FILE", c.PrometheusHTTPConfigFile, h)
}

// RatelimiterHTTP is the nodes' HTTP client configuration: the one in
// OBSERVERD_RATELIMITER_HTTP_CONFIG_FILE, else the one its shorthand
// variables make. An error names the variable.
func (c Config) RatelimiterHTTP() (promconfig.HTTPClientConfig, error) {
	h := shorthandHTTP(c.RatelimiterCAFile, c.RatelimiterCertFile, c.RatelimiterKeyFile)
	return fileOr("RATELIMITER_HTTP_CONFIG_FILE", c.RatelimiterHTTPConfigFile, h)
}

// fileOr is the configuration in path, the value of the variable name,
// or shorthand when path is empty.
func fileOr(name, path string, shorthand promconfig.HTTPClientConfig) (promconfig.HTTPClientConfig, error) {
	if path == "" {
		return shorthand, nil
	}
	h, err := loadHTTPConfig(path)
	if err != nil {
		return h, fmt.Errorf("%s%s: %w", Prefix, name, err)
	}
	return h, nil
}

// shorthandHTTP is the configuration the shorthand variables start from:
// what Go's default client does (redirects followed, HTTP/2, the proxy of
// the environment), with the TLS files given.
func shorthandHTTP(ca, cert, key string) promconfig.HTTPClientConfig {
	h := promconfig.DefaultHTTPClientConfig
	h.ProxyFromEnvironment = true
	h.TLSConfig = promconfig.TLSConfig{CAFile: ca, CertFile: cert, KeyFile: key}
	return h
}

// yamlValue is a value a YAML error quotes, such as "cannot unmarshal
// !!str `s3cret...` into bool".
var yamlValue = regexp.MustCompile("`[^`]*`")

// loadHTTPConfig reads an http_config file: strict YAML (an unknown field
// is an error), validated, relative paths taken from the file's directory.
// The error names the file, on one line, and quotes no value: a secret
// misplaced in the file must not reach the logs.
func loadHTTPConfig(path string) (promconfig.HTTPClientConfig, error) {
	h, _, err := promconfig.LoadHTTPConfigFile(path)
	if err != nil {
		if _, ok := err.(*os.PathError); ok {
			return promconfig.HTTPClientConfig{}, unwrapPath(err)
		}
		msg := yamlValue.ReplaceAllString(strings.Join(strings.Fields(err.Error()), " "), "a value")
		return promconfig.HTTPClientConfig{}, fmt.Errorf("%s: %s", path, msg)
	}
	return *h, nil
}

// validateHTTPConfigFile checks a source's OBSERVERD_<src>_HTTP_CONFIG_FILE:
// a file that loads, and none of the shorthand variables beside it, whose
// settings belong in the file.
func validateHTTPConfigFile(p *problems, src, path string, shorthands ...setting[string]) {
	if path == "" {
		return
	}
	name := src + "_HTTP_CONFIG_FILE"
	for _, s := range shorthands {
		if s.value != "" {
			p.add(name, "not with %s%s: give its setting in the file", Prefix, s.name)
		}
	}
	if _, err := loadHTTPConfig(path); err != nil {
		p.add(name, "%v", err)
	}
}
