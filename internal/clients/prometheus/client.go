// Package prometheus asks the Prometheus HTTP query API, through
// client_golang's api/prometheus/v1, for instant queries whose vector and
// scalar answers it checks and hands back as typed samples. Every call
// takes a context, reads a bounded body and wraps its errors with the
// endpoint, never with the credentials.
package prometheus

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"
	"github.com/prometheus/common/config"

	"github.com/observerd/observerd/internal/httpclient"
)

// DefaultMaxBodyBytes bounds an answer's body when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 8 << 20

// DefaultTimeout bounds a query whose context has no deadline when
// Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// queryPath is the instant query endpoint, relative to the base URL.
const queryPath = "/api/v1/query"

// Options configure a Client. The zero value is usable.
type Options struct {
	// HTTP configures the HTTP client in Prometheus's own http_config
	// format: basic auth, authorization, OAuth2 (secrets in files are read
	// again for every query), TLS, proxy, redirects. Credentials in the
	// base URL's user info are basic auth when HTTP names no other.
	HTTP config.HTTPClientConfig
	// MaxBodyBytes bounds the answer's body; DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the answer's headers;
	// httpclient.DefaultMaxHeaderBytes when 0.
	MaxHeaderBytes int64
	// Timeout bounds a query whose context has no deadline;
	// DefaultTimeout when 0.
	Timeout time.Duration
}

// String describes o with its secrets hidden (HTTPClientConfig shows a
// set secret as <secret>), so that options printed with %v or %+v (in a
// log line, a test failure) show no credential.
func (o Options) String() string {
	return fmt.Sprintf("{HTTP:%q MaxBodyBytes:%d MaxHeaderBytes:%d Timeout:%s}", o.HTTP.String(), o.MaxBodyBytes, o.MaxHeaderBytes, o.Timeout)
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// Client queries one Prometheus server. It is safe for concurrent use.
type Client struct {
	api      api.Client
	http     *http.Client
	endpoint string // the query endpoint, without credentials, for errors
	timeout  time.Duration
}

// New returns a client for the Prometheus server at baseURL (http or
// https, optionally with a path prefix such as http://host/prometheus).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := httpclient.BaseURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	if opts.MaxBodyBytes < 0 || opts.Timeout < 0 {
		return nil, fmt.Errorf("prometheus: max body %d and timeout %s must not be negative", opts.MaxBodyBytes, opts.Timeout)
	}
	httpConfig, err := withUserInfo(opts.HTTP, u)
	if err != nil {
		return nil, fmt.Errorf("prometheus: base URL %s: %w", u.Redacted(), err)
	}
	u.User = nil
	hc, err := httpclient.New(httpConfig, opts.MaxHeaderBytes)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %s: %w", u, err)
	}
	hc.Transport = limitBody{next: hc.Transport, max: cmp.Or(opts.MaxBodyBytes, DefaultMaxBodyBytes)}
	a, err := api.NewClient(api.Config{Address: u.String(), Client: hc})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %s: %w", u, err)
	}
	return &Client{api: a, http: hc, endpoint: a.URL(queryPath, nil).String(), timeout: cmp.Or(opts.Timeout, DefaultTimeout)}, nil
}

// withUserInfo is cfg with the base URL's user info as its basic auth,
// when cfg names none; cfg's own basic auth wins over the URL's.
func withUserInfo(cfg config.HTTPClientConfig, u *url.URL) (config.HTTPClientConfig, error) {
	if u.User == nil || cfg.BasicAuth != nil {
		return cfg, nil
	}
	if cfg.Authorization != nil || cfg.OAuth2 != nil || cfg.BearerToken != "" || cfg.BearerTokenFile != "" {
		return cfg, fmt.Errorf("basic auth in the URL and the configured authorization are exclusive")
	}
	password, _ := u.User.Password()
	cfg.BasicAuth = &config.BasicAuth{Username: u.User.Username(), Password: config.Secret(password)}
	return cfg, nil
}

// String describes the client by its endpoint, never a secret.
func (c *Client) String() string { return "prometheus client of " + c.endpoint }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Endpoint is the query endpoint's URL, without credentials.
func (c *Client) Endpoint() string { return c.endpoint }

// CloseIdleConnections closes the idle keep-alive connections of the
// client's transport.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Query runs an instant query at the server's current time. Prometheus's
// own error answers are returned as an *APIError (use errors.As); a matrix
// or string result is ErrUnsupportedResult.
func (c *Client) Query(ctx context.Context, query string) (Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	res, err := instantQuery(ctx, c.api, query)
	if err != nil {
		return Result{}, fmt.Errorf("prometheus query %s: %w", c.endpoint, err)
	}
	return res, nil
}

// limitBody is a round tripper whose answers fail to read past max bytes,
// so that an oversized answer is refused, never decoded truncated: the
// API client reads a body whole.
type limitBody struct {
	next http.RoundTripper
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (l limitBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err == nil {
		resp.Body = http.MaxBytesReader(nil, resp.Body, l.max)
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of the transport below.
func (l limitBody) CloseIdleConnections() {
	if c, ok := l.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
