package ratelimiter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve starts an httptest server playing a node and returns its URL.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newClient returns a client of base whose connections close with the test.
func newClient(t *testing.T, base string, opts Options) *Client {
	t.Helper()
	c, err := New(base, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", base, err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// reply answers every request with status and body.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		give        string
		wantBase    string
		wantAddress string
		wantErr     string
	}{
		{give: "http://10.0.0.1:8000", wantBase: "http://10.0.0.1:8000", wantAddress: "10.0.0.1:8000"},
		{give: "http://10.0.0.1:8000/", wantBase: "http://10.0.0.1:8000", wantAddress: "10.0.0.1:8000"},
		{give: " http://node/rl/ ", wantBase: "http://node/rl", wantAddress: "node:80"},
		{give: "https://node", wantBase: "https://node", wantAddress: "node:443"},
		{give: "http://[::1]:8000", wantBase: "http://[::1]:8000", wantAddress: "[::1]:8000"},
		{give: "http://user:secret@node:8000", wantBase: "http://user:xxxxx@node:8000", wantAddress: "node:8000"},
		{give: "ftp://node", wantErr: "scheme must be http or https"},
		{give: "node:8000", wantErr: "scheme must be http or https"},
		{give: "http://", wantErr: "no host"},
		{give: "http://node?x=1", wantErr: "query and fragment not allowed"},
		{give: "http://node:8000/%zz", wantErr: "parse base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			c, err := New(tt.give, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) error = %v, want one containing %q", tt.give, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tt.give, err)
			}
			if got := c.BaseURL(); got != tt.wantBase {
				t.Errorf("BaseURL() = %q, want %q", got, tt.wantBase)
			}
			if got := c.Address(); got != tt.wantAddress {
				t.Errorf("Address() = %q, want %q", got, tt.wantAddress)
			}
		})
	}
}

// TestMisbehavingNode drives one read endpoint (/api/counters) through the
// ways a node can answer badly; every endpoint shares this path.
func TestMisbehavingNode(t *testing.T) {
	const limit = 1024
	tests := []struct {
		name       string
		give       http.HandlerFunc
		opts       Options
		ctxTimeout time.Duration
		wantStatus int    // an *HTTPError with this status
		wantDetail string // and this detail
		wantIs     error  // else an error matching this
		wantCount  int    // else success with this many counters
	}{
		{
			name:       "500 with detail",
			give:       reply(500, `{"detail": "redis connection refused"}`),
			wantStatus: 500, wantDetail: "redis connection refused",
		},
		{
			name:       "500 HTML",
			give:       reply(500, `<html><body>Internal Server Error</body></html>`),
			wantStatus: 500,
		},
		{
			name:       "422 with structured detail",
			give:       reply(422, `{"detail": [ {"loc": ["body", "key"], "msg": "field required"} ]}`),
			wantStatus: 422, wantDetail: `[{"loc":["body","key"],"msg":"field required"}]`,
		},
		{
			name:       "404 empty body",
			give:       reply(404, ``),
			wantStatus: 404,
		},
		{
			name:       "error body over the limit keeps the status",
			give:       reply(503, `{"detail": "`+strings.Repeat("x", 2*limit)+`"}`),
			opts:       Options{MaxBodyBytes: limit},
			wantStatus: 503,
		},
		{name: "garbage", give: reply(200, `{"counters": [`), wantIs: ErrBadAnswer},
		{name: "not JSON", give: reply(200, `counters: none`), wantIs: ErrBadAnswer},
		{name: "trailing garbage", give: reply(200, `{"counters": []} {}`), wantIs: ErrBadAnswer},
		{name: "empty body", give: reply(200, ``), wantIs: ErrBadAnswer},
		{name: "wrong type of count", give: reply(200, `{"counters": [{"key": "a", "count": "5", "limit": 10, "remaining": 5}]}`), wantIs: ErrBadAnswer},
		{name: "fractional count", give: reply(200, `{"counters": [{"key": "a", "count": 5.5, "limit": 10, "remaining": 5}]}`), wantIs: ErrBadAnswer},
		{name: "wrong type of list", give: reply(200, `{"counters": {"a": 1}}`), wantIs: ErrBadAnswer},
		{name: "top level array", give: reply(200, `[]`), wantIs: ErrBadAnswer},
		{name: "list missing", give: reply(200, `{}`), wantIs: ErrBadAnswer},
		{name: "list null", give: reply(200, `{"counters": null}`), wantIs: ErrBadAnswer},
		{name: "field missing", give: reply(200, `{"counters": [{"key": "a", "count": 5, "limit": 10}]}`), wantIs: ErrBadAnswer},
		{name: "entry null", give: reply(200, `{"counters": [null]}`), wantIs: ErrBadAnswer},
		{
			name:   "body over the limit",
			give:   reply(200, `{"counters": [], "pad": "`+strings.Repeat("x", limit)+`"}`),
			opts:   Options{MaxBodyBytes: limit},
			wantIs: ErrBodyTooLarge,
		},
		{
			name:   "body over the default limit",
			give:   reply(200, `{"counters": [], "pad": "`+strings.Repeat("x", DefaultMaxBodyBytes)+`"}`),
			wantIs: ErrBodyTooLarge,
		},
		{
			name:      "body at the limit",
			give:      reply(200, `{"counters": [], "pad": "`+strings.Repeat("x", limit-len(`{"counters": [], "pad": ""}`))+`"}`),
			opts:      Options{MaxBodyBytes: limit},
			wantCount: 0,
		},
		{
			name: "slow answer beyond the context deadline",
			give: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			ctxTimeout: 50 * time.Millisecond,
			wantIs:     context.DeadlineExceeded,
		},
		{
			name: "slow answer beyond the client timeout",
			give: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			opts:   Options{Timeout: 50 * time.Millisecond},
			wantIs: context.DeadlineExceeded,
		},
		{
			name:      "unknown fields ignored",
			give:      reply(200, `{"counters": [{"key": "a", "count": 5, "limit": 10, "remaining": 5, "window_ms": 1000, "extra": {"x": [1]}}], "total": 1, "cursor": null}`),
			wantCount: 1,
		},
		{name: "empty list", give: reply(200, `{"counters": []}`), wantCount: 0},
		{name: "201 is success", give: reply(201, `{"counters": []}`), wantCount: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := serve(t, tt.give)
			c := newClient(t, base, tt.opts)
			ctx := t.Context()
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			got, err := c.Counters(ctx)
			switch {
			case tt.wantStatus != 0:
				var he *HTTPError
				if !errors.As(err, &he) {
					t.Fatalf("Counters() error = %v, want an *HTTPError", err)
				}
				if he.Status != tt.wantStatus || he.Detail != tt.wantDetail || he.Endpoint != PathCounters {
					t.Errorf("HTTPError = %+v, want status %d, detail %q, endpoint %s", *he, tt.wantStatus, tt.wantDetail, PathCounters)
				}
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("Counters() error = %v, want one matching %v", err, tt.wantIs)
				}
			default:
				if err != nil {
					t.Fatalf("Counters(): %v", err)
				}
				if len(got) != tt.wantCount {
					t.Errorf("Counters() = %d counters, want %d", len(got), tt.wantCount)
				}
				return
			}
			// Every error names the node and the endpoint.
			if want := "GET " + base + PathCounters + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func TestUnreachableNode(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	l.Close()
	c := newClient(t, base, Options{})
	_, err = c.Health(t.Context())
	if err == nil {
		t.Fatal("Health() of a closed port succeeded")
	}
	want := fmt.Sprintf("GET %s/health: ", base)
	if !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), base) != 1 {
		t.Errorf("error %q: want it to start with %q and name the URL once", err, want)
	}
	var he *HTTPError
	if errors.As(err, &he) {
		t.Errorf("a transport failure is not an HTTPError: %v", err)
	}
}

func TestPasswordNeverInErrors(t *testing.T) {
	base := serve(t, reply(500, `{"detail": "boom"}`))
	withPassword := strings.Replace(base, "http://", "http://user:s3cret@", 1)
	c := newClient(t, withPassword, Options{})
	_, err := c.Limits(t.Context())
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Limits() error = %v: want an error without the password", err)
	}
}
