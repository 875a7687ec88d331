// Package prometheus is a small client for the Prometheus HTTP query API:
// instant queries whose vector and scalar answers are decoded into typed
// samples. It speaks that one protocol and nothing else. Every call takes a
// context, reads a bounded body and wraps its errors with the endpoint,
// never with the credentials.
package prometheus

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/observerd/observerd/internal/redact"
)

// DefaultMaxBodyBytes bounds an answer's body when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 8 << 20

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
	// MaxBodyBytes bounds the answer's body; DefaultMaxBodyBytes when 0.
	MaxBodyBytes int64
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
	username string
	password string
	token    string
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
	c := &Client{
		username: opts.Username,
		password: opts.Password,
		token:    opts.BearerToken,
		maxBody:  opts.MaxBodyBytes,
		timeout:  opts.Timeout,
		http:     opts.HTTPClient,
	}
	if u.User != nil && c.username == "" && c.password == "" {
		c.username = u.User.Username()
		c.password, _ = u.User.Password()
	}
	if c.token != "" && (c.username != "" || c.password != "") {
		return nil, fmt.Errorf("prometheus: base URL %s: basic auth and bearer token are exclusive", u.Redacted())
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
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownsHTTP = true
	}
	return c, nil
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
	body, status, err := c.get(ctx, c.queryParams(ctx, query))
	if err != nil {
		return Result{}, err
	}
	res, err := decodeResponse(body, status, c.scrub)
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

// get sends GET queryURL?params and returns the bounded body and status.
func (c *Client) get(ctx context.Context, params url.Values) ([]byte, int, error) {
	u := *c.queryURL
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("prometheus query %s: build request: %w", c.endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.username != "" || c.password != "":
		req.SetBasicAuth(c.username, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error repeats the whole request URL with the query; the
		// endpoint is enough, and the cause stays matchable.
		return nil, 0, fmt.Errorf("prometheus query %s: %w", c.endpoint, redact.URLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, 0, fmt.Errorf("prometheus query %s: read answer (%s): %w", c.endpoint, resp.Status, err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, 0, fmt.Errorf("prometheus query %s: %w: answer (%s) exceeds %d bytes", c.endpoint, ErrBodyTooLarge, resp.Status, c.maxBody)
	}
	return body, resp.StatusCode, nil
}

// scrub removes the credentials from text that comes from the peer, in
// case Prometheus or a proxy in front of it echoes them back.
func (c *Client) scrub(s string) string {
	basic := ""
	if c.password != "" {
		// The Authorization header's form, should it be echoed.
		basic = base64.StdEncoding.EncodeToString([]byte(c.username + ":" + c.password))
	}
	return redact.Secrets(s, c.password, c.token, basic)
}
