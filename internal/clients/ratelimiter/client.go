// Package ratelimiter is a client of the rate limiter node HTTP API: typed
// answers, strict decoding that ignores unknown fields, values checked for
// plausibility, bounded bodies and headers, TLS, deadlines from the context
// and errors that name the node and the endpoint.
package ratelimiter

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/config"

	"github.com/observerd/observerd/internal/httpclient"
	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/redact"
)

// DefaultMaxBodyBytes bounds the body of an answer when Options leaves it zero.
const DefaultMaxBodyBytes = 4 << 20

// DefaultTimeout bounds one request when Options leaves Timeout zero.
const DefaultTimeout = 10 * time.Second

// maxDetailBytes bounds the detail text kept from an error answer: enough
// for a framework's validation message, not a whole page.
const maxDetailBytes = 1024

// ErrBodyTooLarge is returned when an answer's body exceeds the size limit.
// The body is rejected, never decoded truncated.
var ErrBodyTooLarge = errors.New("body exceeds size limit")

// ErrBadAnswer is returned when an answer is not the JSON the contract
// describes: not JSON, a wrong type, or a required field missing.
var ErrBadAnswer = errors.New("bad answer")

// Options configure a Client. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests. Nil means a client of its own, made
	// of HTTP, with a private transport (see Client.CloseIdleConnections).
	HTTPClient *http.Client
	// HTTP configures the client's own HTTP client in Prometheus's
	// http_config format: authentication, TLS (a private CA, a client
	// certificate for mutual TLS), proxy, redirects. Ignored with an
	// HTTPClient.
	HTTP config.HTTPClientConfig
	// MaxBodyBytes bounds the body read from one answer; 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds the response headers of one answer, as
	// http.Transport.MaxResponseHeaderBytes of the client's own transport;
	// 0 means httpclient.DefaultMaxHeaderBytes. Ignored with an HTTPClient.
	MaxHeaderBytes int64
	// Timeout bounds one request on top of the context's deadline; 0 means
	// DefaultTimeout, a negative value means the context's deadline only.
	Timeout time.Duration
	// Location is the time zone of registered_at timestamps written
	// without an offset (the nodes' local time); nil means UTC.
	Location *time.Location
}

// Client talks to one rate limiter node. It is safe for concurrent use.
type Client struct {
	base     string // without a trailing slash
	redacted string // base with any password hidden, for errors and reports
	address  string // host:port
	hc       *http.Client
	maxBody  int64
	timeout  time.Duration
	loc      *time.Location
}

// HTTPError is an answer with a status the endpoint does not accept. Match
// it with errors.As.
type HTTPError struct {
	// Endpoint is the request path, such as "/api/counters".
	Endpoint string
	// Status is the HTTP status code.
	Status int
	// Detail is the framework's {"detail": ...} text when the body had
	// one (a non-string detail is kept as compact JSON), else empty.
	Detail string
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("status %d %s", e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// New returns a client of the node at baseURL, an http or https URL that
// may carry a path prefix.
func New(baseURL string, opts Options) (*Client, error) {
	u, err := httpclient.BaseURL(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("ratelimiter client: %w", err)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	c := &Client{
		base:     u.String(),
		redacted: u.Redacted(),
		address:  hostPort(u),
		hc:       opts.HTTPClient,
		maxBody:  opts.MaxBodyBytes,
		timeout:  cmp.Or(opts.Timeout, DefaultTimeout),
		loc:      cmp.Or(opts.Location, time.UTC),
	}
	if c.hc == nil {
		if c.hc, err = httpclient.New(opts.HTTP, opts.MaxHeaderBytes); err != nil {
			return nil, fmt.Errorf("ratelimiter client: base URL %q: %w", u.Redacted(), err)
		}
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	return c, nil
}

// hostPort is u's host:port, with the scheme's default port when u names none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
}

// BaseURL is the node's base URL, any password in it redacted.
func (c *Client) BaseURL() string { return c.redacted }

// Address is the node's host:port.
func (c *Client) Address() string { return c.address }

// CloseIdleConnections closes the idle connections of the client's HTTP
// client; call it when the node is no longer polled.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// call is one request: the method, the endpoint path (escaped), the body to
// send and the statuses whose body is a normal answer.
type call struct {
	method   string
	path     string
	body     any   // sent as JSON when non-nil
	okStatus []int // nil: any 2xx
}

// answer is a response whose body was read in full, within the limit.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// ask sends cl and decodes an answer of an accepted status with dec. Every
// error names the method, the node URL and the endpoint.
func ask[T any](ctx context.Context, c *Client, cl call, dec func(*answer) (T, error)) (T, error) {
	var zero T
	a, err := c.roundTrip(ctx, cl)
	if err != nil {
		return zero, c.errorf(cl.method, cl.path, err)
	}
	v, err := dec(a)
	if err != nil {
		return zero, c.errorf(cl.method, cl.path, err)
	}
	return v, nil
}

// errorf names the node and the endpoint in err.
func (c *Client) errorf(method, path string, err error) error {
	return fmt.Errorf("%s %s%s: %w", method, c.redacted, path, err)
}

// roundTrip sends cl under the per-request timeout and reads the body
// within the size limit.
func (c *Client) roundTrip(ctx context.Context, cl call) (*answer, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base+cl.path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// The url.Error repeats the method and URL that errorf names.
		return nil, redact.URLError(err)
	}
	defer resp.Body.Close()
	b, readErr := io.ReadAll(http.MaxBytesReader(nil, resp.Body, c.maxBody))
	if _, ok := errors.AsType[*http.MaxBytesError](readErr); ok {
		readErr = fmt.Errorf("%w of %d bytes", ErrBodyTooLarge, c.maxBody)
	}
	if !accepted(resp.StatusCode, cl.okStatus) {
		// An error answer's body only feeds the detail: a read failure or an
		// oversized body leaves the detail empty rather than hiding the status.
		return nil, &HTTPError{Endpoint: cl.path, Status: resp.StatusCode, Detail: detailOf(b, readErr)}
	}
	if readErr != nil {
		return nil, fmt.Errorf("status %d: read body: %w", resp.StatusCode, readErr)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func accepted(status int, ok []int) bool {
	if ok == nil {
		return status >= 200 && status <= 299
	}
	return slices.Contains(ok, status)
}

// detailOf extracts the framework's {"detail": ...} from an error body.
func detailOf(b []byte, readErr error) string {
	if readErr != nil || len(b) == 0 {
		return ""
	}
	var env struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(b, &env) != nil || len(env.Detail) == 0 || string(env.Detail) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(env.Detail, &s) != nil {
		var buf bytes.Buffer
		if json.Compact(&buf, env.Detail) != nil {
			return ""
		}
		s = buf.String()
	}
	return names.Cut(s, maxDetailBytes)
}
