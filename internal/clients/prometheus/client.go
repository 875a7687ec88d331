// Package prometheus is a small client for the Prometheus HTTP query API:
// instant queries whose vector and scalar answers are decoded into typed
// samples. It speaks that one protocol and nothing else. Every call takes a
// context, reads a bounded body and wraps its errors with the endpoint,
// never with the credentials.
package prometheus

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/observerd/observerd/internal/transport"

	"github.com/observerd/observerd/internal/redact"
)

// DefaultMaxBodyBytes bounds an answer's body when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 8 << 20

// DefaultMaxHeaderBytes bounds the headers of an answer when Options
// leaves MaxHeaderBytes zero (see package transport).
const DefaultMaxHeaderBytes = transport.DefaultMaxHeaderBytes

// DefaultTimeout bounds a query whose context has no deadline when
// Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// queryPath is the instant query endpoint, relative to the base URL.
const queryPath = "api/v1/query"

// Options configure a Client. The zero value is usable.
type Options struct {
	// Username and Password enable HTTP basic auth. Credentials in the
	// base URL's user info are used when these are empty.
	Username string
	Password string
	// BearerToken is sent as "Authorization: Bearer ..."; it excludes
	// basic auth.
	BearerToken string
	// PasswordFile holds the basic auth password of Username (surrounding
	// white space trimmed). It is read for every query, so a rotated
	// password is picked up. It excludes Password.
	PasswordFile string
	// BearerTokenFile holds the bearer token, read for every query like
	// PasswordFile. It excludes BearerToken and basic auth.
	BearerTokenFile string
	// TLSConfig is the TLS configuration of the client's own transport for
	// an https base URL (a private CA in RootCAs, a client certificate);
	// nil means the system's roots. Ignored with an HTTPClient.
	TLSConfig *tls.Config
	// MaxBodyBytes bounds the answer's body; DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the answer's headers, as the own transport's
	// MaxResponseHeaderBytes; DefaultMaxHeaderBytes when 0. Ignored with an
	// HTTPClient.
	MaxHeaderBytes int64
	// Timeout bounds a query whose context has no deadline;
	// DefaultTimeout when 0.
	Timeout time.Duration
	// HTTPClient sends the requests; a client with its own transport
	// when nil. Its Timeout should be 0: deadlines come from the context.
	HTTPClient *http.Client
}

// Client queries one Prometheus server. It is safe for concurrent use.
type Client struct {
	queryURL *url.URL // no user info
	endpoint string   // queryURL as text, for errors
	auth     auth
	maxBody  int64
	timeout  time.Duration
	http     *http.Client
	ownsHTTP bool
}

// New returns a client for the Prometheus server at baseURL (http or
// https, optionally with a path prefix such as http://host/prometheus).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		// url.Error repeats the raw URL, which may hold a password.
		return nil, fmt.Errorf("prometheus: parse base URL: %w", redact.URLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("prometheus: base URL %s: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("prometheus: base URL %s: no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("prometheus: base URL %s: query and fragment are not allowed", u.Redacted())
	}
	if opts.MaxBodyBytes < 0 || opts.Timeout < 0 {
		return nil, fmt.Errorf("prometheus: max body %d and timeout %s must not be negative", opts.MaxBodyBytes, opts.Timeout)
	}
	if opts.MaxHeaderBytes < 0 {
		return nil, fmt.Errorf("prometheus: max header bytes %d must not be negative", opts.MaxHeaderBytes)
	}
	a, err := newAuth(opts, u)
	if err != nil {
		return nil, fmt.Errorf("prometheus: base URL %s: %w", u.Redacted(), err)
	}
	c := &Client{
		auth:    a,
		maxBody: opts.MaxBodyBytes,
		timeout: opts.Timeout,
		http:    opts.HTTPClient,
	}
	u.User = nil
	c.queryURL = u.JoinPath(queryPath)
	c.endpoint = c.queryURL.String()
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.http == nil {
		c.http = &http.Client{Transport: transport.New(opts.MaxHeaderBytes, opts.TLSConfig)}
		c.ownsHTTP = true
	}
	return c, nil
}

// String describes the client: its endpoint and how it authenticates,
// never a secret.
func (c *Client) String() string {
	return fmt.Sprintf("prometheus client of %s (%s)", c.endpoint, c.auth)
}

// Endpoint is the query endpoint's URL, without credentials.
func (c *Client) Endpoint() string { return c.endpoint }

// CloseIdleConnections closes the idle keep-alive connections of the
// client's own transport. It does nothing to an Options.HTTPClient.
func (c *Client) CloseIdleConnections() {
	if c.ownsHTTP {
		c.http.CloseIdleConnections()
	}
}

// Query runs an instant query at the server's current time. Prometheus's
// own error answers are returned as an *APIError (use errors.As); a matrix
// or string result is ErrUnsupportedResult.
func (c *Client) Query(ctx context.Context, query string) (Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	body, status, scrub, err := c.get(ctx, c.queryParams(ctx, query))
	if err != nil {
		return Result{}, err
	}
	res, err := decodeResponse(body, status, scrub)
	if err != nil {
		return Result{}, fmt.Errorf("prometheus query %s: %w", c.endpoint, err)
	}
	return res, nil
}

// queryParams holds the query and, under a deadline, a timeout a little
// shorter than the time left, so that Prometheus gives up and answers with
// its own error before the caller stops listening.
func (c *Client) queryParams(ctx context.Context, query string) url.Values {
	v := url.Values{"query": {query}}
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		margin := min(left/10, time.Second)
		if t := (left - margin).Milliseconds(); t > 0 {
			v.Set("timeout", strconv.FormatInt(t, 10)+"ms")
		}
	}
	return v
}

// get sends GET queryURL?params and returns the bounded body, the status
// and what scrubs this query's credentials from the answer's text.
func (c *Client) get(ctx context.Context, params url.Values) ([]byte, int, func(string) string, error) {
	u := *c.queryURL
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("prometheus query %s: build request: %w", c.endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	authz, secrets, err := c.auth.header()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("prometheus query %s: %w", c.endpoint, err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the whole request URL with the query; the
		// endpoint is enough, and the cause stays matchable.
		return nil, 0, nil, fmt.Errorf("prometheus query %s: %w", c.endpoint, redact.URLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("prometheus query %s: read answer (%s): %w", c.endpoint, resp.Status, err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, 0, nil, fmt.Errorf("prometheus query %s: %w: answer (%s) exceeds %d bytes", c.endpoint, ErrBodyTooLarge, resp.Status, c.maxBody)
	}
	return body, resp.StatusCode, scrubber(secrets), nil
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }
