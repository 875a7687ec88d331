package prometheus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const okAnswer = `{"status":"success","data":{"resultType":"vector","result":[]}}`

// recorder answers okAnswer and hands each request's details to the test.
type recorder struct {
	reqs chan *http.Request
}

func newRecorder() *recorder { return &recorder{reqs: make(chan *http.Request, 1)} }

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// The query API takes its parameters from the URL or a form body.
	if err := req.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.reqs <- req.Clone(context.Background())
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(okAnswer))
}

func TestQueryRequest(t *testing.T) {
	rec := newRecorder()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/prom/", Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	const query = `sum by (instance) (rate(x{result="allowed"}[1m]))`
	if _, err := c.Query(t.Context(), query); err != nil {
		t.Fatalf("Query: %v", err)
	}
	req := <-rec.reqs
	if req.Method != http.MethodPost || req.URL.Path != "/prom/api/v1/query" {
		t.Errorf("request = %s %s, want POST /prom/api/v1/query", req.Method, req.URL.Path)
	}
	if got := req.Form.Get("query"); got != query {
		t.Errorf("query = %q, want %q", got, query)
	}
	if c.Endpoint() != srv.URL+"/prom/api/v1/query" {
		t.Errorf("Endpoint() = %q", c.Endpoint())
	}
}

// TestQueryFallsBackToGET: a peer that refuses the form POST (a proxy
// that allows GET only) is asked again with GET.
func TestQueryFallsBackToGET(t *testing.T) {
	rec := newRecorder()
	getOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		rec.ServeHTTP(w, r)
	})
	c, _ := serve(t, getOnly, Options{})
	if _, err := c.Query(t.Context(), "up"); err != nil {
		t.Fatalf("Query: %v", err)
	}
	if req := <-rec.reqs; req.URL.Query().Get("query") != "up" {
		t.Errorf("GET %s, want the query in the URL", req.URL)
	}
}

func TestQueryTimeoutParam(t *testing.T) {
	tests := []struct {
		name     string
		giveOpts Options
		giveCtx  time.Duration // 0: no deadline
		wantMin  time.Duration
		wantMax  time.Duration
	}{
		{name: "ctx deadline", giveCtx: 3 * time.Second, wantMin: 2 * time.Second, wantMax: 3 * time.Second},
		{name: "long ctx deadline", giveCtx: time.Minute, wantMin: 58 * time.Second, wantMax: time.Minute},
		{name: "default timeout", wantMin: DefaultTimeout - 4*time.Second, wantMax: DefaultTimeout},
		{name: "option timeout", giveOpts: Options{Timeout: 2 * time.Second}, wantMin: time.Second, wantMax: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			c, _ := serve(t, rec, tt.giveOpts)
			ctx := t.Context()
			if tt.giveCtx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.giveCtx)
				defer cancel()
			}
			if _, err := c.Query(ctx, "up"); err != nil {
				t.Fatalf("Query: %v", err)
			}
			raw := (<-rec.reqs).Form.Get("timeout")
			got, err := time.ParseDuration(raw)
			if err != nil {
				t.Fatalf("timeout parameter %q: %v", raw, err)
			}
			if got < tt.wantMin || got >= tt.wantMax {
				t.Errorf("timeout = %s, want in [%s, %s)", got, tt.wantMin, tt.wantMax)
			}
		})
	}
}

func TestQuerySlowAnswer(t *testing.T) {
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answers only once the client has given up (or the test ends).
		select {
		case <-r.Context().Done():
		case <-release:
		}
		_, _ = w.Write([]byte(okAnswer))
	})
	c, _ := serve(t, slow, Options{})
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Query(ctx, "up")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Query error = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), c.Endpoint()) {
		t.Errorf("error %q does not name the endpoint", err)
	}
	if strings.Contains(err.Error(), "query=") {
		t.Errorf("error %q repeats the query string", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Query returned after %s, want soon after the 200ms deadline", elapsed)
	}
}

func TestQueryAuth(t *testing.T) {
	tests := []struct {
		name     string
		giveUser string // user info put in the base URL
		giveOpts Options
		want     string // Authorization header
	}{
		{name: "none", want: ""},
		{name: "basic from options", giveOpts: Options{HTTP: basicAuth("obs", "pa55", "")}, want: "Basic b2JzOnBhNTU="},
		{name: "basic from URL", giveUser: "obs:pa55@", want: "Basic b2JzOnBhNTU="},
		{name: "options beat URL", giveUser: "other:x@", giveOpts: Options{HTTP: basicAuth("obs", "pa55", "")}, want: "Basic b2JzOnBhNTU="},
		{name: "bearer", giveOpts: Options{HTTP: bearer("t0ken", "")}, want: "Bearer t0ken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			srv := httptest.NewServer(rec)
			t.Cleanup(srv.Close)
			c, err := New(strings.Replace(srv.URL, "://", "://"+tt.giveUser, 1), tt.giveOpts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(c.CloseIdleConnections)
			if _, err := c.Query(t.Context(), "up"); err != nil {
				t.Fatalf("Query: %v", err)
			}
			if got := (<-rec.reqs).Header.Get("Authorization"); got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
			if strings.Contains(c.Endpoint(), "pa55") || strings.Contains(c.Endpoint(), "@") {
				t.Errorf("Endpoint() = %q holds user info", c.Endpoint())
			}
		})
	}
}

func TestCredentialsNotInErrors(t *testing.T) {
	// echo answers with the request's credentials in its error text, as a
	// careless proxy might.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		user, pass, _ := r.BasicAuth()
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"` + pass + `","error":"denied ` + auth + ` ` + user + `:` + pass + `"}`))
	})
	echoHTML := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("<p>denied " + r.Header.Get("Authorization") + "</p>"))
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name     string
		giveURL  func(srv *httptest.Server) string
		giveH    http.Handler
		giveOpts Options
	}{
		{name: "basic echoed in api error", giveH: echo, giveOpts: Options{HTTP: basicAuth("obs", "s3cret-pw", "")}},
		{name: "bearer echoed in api error", giveH: echo, giveOpts: Options{HTTP: bearer("s3cret-pw", "")}},
		{name: "basic echoed in html", giveH: echoHTML, giveOpts: Options{HTTP: basicAuth("obs", "s3cret-pw", "")}},
		{name: "bearer echoed in html", giveH: echoHTML, giveOpts: Options{HTTP: bearer("s3cret-pw", "")}},
		{name: "URL password echoed", giveH: echo, giveURL: func(srv *httptest.Server) string {
			return strings.Replace(srv.URL, "://", "://obs:s3cret-pw@", 1)
		}},
		{name: "URL password, connection refused", giveURL: func(*httptest.Server) string {
			return strings.Replace(closedURL, "://", "://obs:s3cret-pw@", 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.giveH
			if h == nil {
				h = http.NotFoundHandler()
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			base := srv.URL
			if tt.giveURL != nil {
				base = tt.giveURL(srv)
			}
			c, err := New(base, tt.giveOpts)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(c.CloseIdleConnections)
			_, err = c.Query(t.Context(), "up")
			if err == nil {
				t.Fatal("Query succeeded, want an error")
			}
			for _, secret := range []string{"s3cret-pw", "b2JzOnMzY3JldC1wdw=="} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds the credential %q", err, secret)
				}
			}
			if !strings.Contains(err.Error(), c.Endpoint()) {
				t.Errorf("error %q does not name the endpoint", err)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		giveURL  string
		giveOpts Options
		wantText string
	}{
		{name: "unparsable", giveURL: "http://obs:s3cret@host:port/", wantText: "parse base URL"},
		{name: "no scheme", giveURL: "localhost:9090", wantText: "scheme must be http or https"},
		{name: "other scheme", giveURL: "ftp://obs:s3cret@localhost:9090", wantText: "scheme must be http or https"},
		{name: "no host", giveURL: "http:///api", wantText: "no host"},
		{name: "query", giveURL: "http://localhost:9090/?x=1", wantText: "query and fragment"},
		{name: "both auths", giveURL: "http://obs:s3cret@localhost:9090", giveOpts: Options{HTTP: bearer("t", "")}, wantText: "exclusive"},
		{name: "negative body", giveURL: "http://localhost:9090", giveOpts: Options{MaxBodyBytes: -1}, wantText: "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.giveURL, tt.giveOpts)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q holds the password", err)
			}
		})
	}
}
