// Package httpclient builds the HTTP clients observerd asks its peers
// (Prometheus, the rate limiter nodes) through from prometheus/common's
// HTTPClientConfig, Prometheus's own http_config, and the TLS
// configuration of every client from its TLSConfig.
package httpclient

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/prometheus/common/config"

	"github.com/observerd/observerd/internal/redact"
)

// DefaultMaxHeaderBytes bounds a response's headers when the caller gives
// no bound. A rate limiter node and Prometheus send a handful of short
// headers; Go's own default of 10 MiB would let a confused peer or proxy
// cost that much per request.
const DefaultMaxHeaderBytes = 64 << 10

// maxIdleConnsPerHost keeps a connection for each of the requests a poll
// sends one peer at once (a node's endpoints, Prometheus's queries).
const maxIdleConnsPerHost = 8

// New returns a client of cfg, as config.NewClientFromConfig makes it
// (authentication with its secrets read from their files on each request,
// TLS, proxy, HTTP/2, headers, redirects), on a transport of its own that
// reads at most maxHeaderBytes of response headers (DefaultMaxHeaderBytes
// when 0).
//
// It exists for that bound alone: the library's transport cannot be given
// one, so the transport is built here and wrapped in the library's own
// round trippers.
func New(cfg config.HTTPClientConfig, maxHeaderBytes int64) (*http.Client, error) {
	if maxHeaderBytes < 0 {
		return nil, fmt.Errorf("max header bytes %d must not be negative", maxHeaderBytes)
	}
	// Validate also turns the deprecated bearer_token fields into
	// authorization.
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := TLSConfig(cfg.TLSConfig)
	if err != nil {
		return nil, fmt.Errorf("tls_config: %w", err)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = cmp.Or(maxHeaderBytes, DefaultMaxHeaderBytes)
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	t.TLSClientConfig = tlsConfig
	t.Proxy = cfg.Proxy()
	t.ProxyConnectHeader = cfg.GetProxyConnectHeader()
	if !cfg.EnableHTTP2 {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
	}
	rt, err := authenticate(cfg, t)
	if err != nil {
		return nil, err
	}
	if cfg.HTTPHeaders != nil {
		rt = config.NewHeadersRoundTripper(cfg.HTTPHeaders, rt)
	}
	c := &http.Client{Transport: rt}
	if !cfg.FollowRedirects {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c, nil
}

// authenticate wraps rt in the round tripper of cfg's one kind of
// authentication, if any (Validate allows one).
func authenticate(cfg config.HTTPClientConfig, rt http.RoundTripper) (http.RoundTripper, error) {
	switch {
	case cfg.Authorization != nil:
		a := cfg.Authorization
		credentials, err := secret("authorization credentials", a.Credentials, a.CredentialsFile, a.CredentialsRef)
		return config.NewAuthorizationCredentialsRoundTripper(a.Type, credentials, rt), err
	case cfg.BasicAuth != nil:
		b := cfg.BasicAuth
		username, uerr := secret("basic_auth username", config.Secret(b.Username), b.UsernameFile, b.UsernameRef)
		password, perr := secret("basic_auth password", b.Password, b.PasswordFile, b.PasswordRef)
		return config.NewBasicAuthRoundTripper(username, password, rt), errors.Join(uerr, perr)
	case cfg.OAuth2 != nil:
		o := cfg.OAuth2
		credential, err := secret("oauth2 client_secret", o.ClientSecret, o.ClientSecretFile, o.ClientSecretRef)
		if o.GrantType == "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			credential, err = secret("oauth2 client_certificate_key", o.ClientCertificateKey, o.ClientCertificateKeyFile, o.ClientCertificateKeyRef)
		}
		return config.NewOAuth2RoundTripper(credential, o, rt), err
	}
	return rt, nil
}

// secret reads a credential given inline or in a file (read again on each
// request, so that a rotated secret is used without a restart), or nil
// when it is not given. A reference needs a secret manager, which
// observerd has not.
func secret(what string, inline config.Secret, file, ref string) (config.SecretReader, error) {
	switch {
	case ref != "":
		return nil, fmt.Errorf("%s: a _ref needs a secret manager: give the secret inline or in a file", what)
	case file != "":
		return config.NewFileSecret(file), nil
	case inline != "":
		return config.NewInlineSecret(string(inline)), nil
	}
	return nil, nil
}

// BaseURL parses a peer's base URL: http or https, a host, perhaps a path
// prefix, no query or fragment. Its errors never show a password.
func BaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the raw URL, which may hold a password.
		return nil, fmt.Errorf("parse base URL: %w", redact.URLError(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("base URL %s: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("base URL %s: no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("base URL %s: query and fragment not allowed", u.Redacted())
	}
	return u, nil
}
