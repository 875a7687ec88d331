package ratelimiter

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// recorded is what a node double saw of one request.
type recorded struct {
	method string
	path   string // escaped, as sent
	body   map[string]any
}

// recorder answers with status, headers and body and passes on what it saw.
func recorder(t *testing.T, seen chan<- recorded, status int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{method: r.Method, path: r.URL.EscapedPath()}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &rec.body); err != nil {
				t.Errorf("request body %q: %v", b, err)
			}
		}
		seen <- rec
		for k, v := range header {
			w.Header().Set(k, v)
		}
		reply(status, body)(w, r)
	}
}

func int64p(v int64) *int64               { return &v }
func durp(d time.Duration) *time.Duration { return &d }

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		give       CheckRequest
		status     int
		header     map[string]string
		body       string
		wantSent   map[string]any
		want       CheckResult
		wantErr    error
		wantStatus int
	}{
		{
			name:     "allowed with node defaults",
			give:     CheckRequest{Key: "user:1"},
			status:   200,
			header:   map[string]string{"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"},
			body:     `{"allowed": true, "current_count": 1, "remaining": 9, "retry_after_seconds": 0}`,
			wantSent: map[string]any{"key": "user:1"},
			want:     CheckResult{Allowed: true, CurrentCount: 1, Remaining: 9, HeaderLimit: int64p(10), HeaderRemaining: int64p(9)},
		},
		{
			name:     "429 is a blocked answer",
			give:     CheckRequest{Key: "user:1", Limit: int64p(0), Window: 1500 * time.Millisecond},
			status:   429,
			header:   map[string]string{"X-RateLimit-Limit": "0", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"},
			body:     `{"allowed": false, "current_count": 0, "remaining": 0, "retry_after_seconds": 2, "detail": "blocked"}`,
			wantSent: map[string]any{"key": "user:1", "limit": float64(0), "window_ms": float64(1500)},
			want:     CheckResult{CurrentCount: 0, RetryAfter: 2 * time.Second, HeaderLimit: int64p(0), HeaderRemaining: int64p(0), HeaderReset: durp(2 * time.Second)},
		},
		{
			name:     "no headers, no retry_after",
			give:     CheckRequest{Key: "k", Limit: int64p(5)},
			status:   200,
			body:     `{"allowed": true, "current_count": 3, "remaining": 2}`,
			wantSent: map[string]any{"key": "k", "limit": float64(5)},
			want:     CheckResult{Allowed: true, CurrentCount: 3, Remaining: 2},
		},
		{
			name:     "429 saying allowed",
			give:     CheckRequest{Key: "k"},
			status:   429,
			body:     `{"allowed": true, "current_count": 3, "remaining": 2}`,
			wantSent: map[string]any{"key": "k"},
			wantErr:  ErrBadAnswer,
		},
		{
			name:     "bad header",
			give:     CheckRequest{Key: "k"},
			status:   200,
			header:   map[string]string{"X-RateLimit-Remaining": "many"},
			body:     `{"allowed": true, "current_count": 3, "remaining": 2}`,
			wantSent: map[string]any{"key": "k"},
			wantErr:  ErrBadAnswer,
		},
		{
			name:     "allowed missing",
			give:     CheckRequest{Key: "k"},
			status:   200,
			body:     `{"current_count": 3, "remaining": 2}`,
			wantSent: map[string]any{"key": "k"},
			wantErr:  ErrBadAnswer,
		},
		{
			name:       "validation error",
			give:       CheckRequest{Key: "k", Limit: int64p(-1)},
			status:     422,
			body:       `{"detail": "limit must be >= 0"}`,
			wantSent:   map[string]any{"key": "k", "limit": float64(-1)},
			wantStatus: 422,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan recorded, 1)
			c := newClient(t, serve(t, recorder(t, seen, tt.status, tt.header, tt.body)), Options{})
			got, err := c.Check(t.Context(), tt.give)
			rec := <-seen
			if rec.method != http.MethodPost || rec.path != PathCheck || !reflect.DeepEqual(rec.body, tt.wantSent) {
				t.Errorf("sent %s %s %v, want POST %s %v", rec.method, rec.path, rec.body, PathCheck, tt.wantSent)
			}
			if tt.wantStatus != 0 {
				var he *HTTPError
				if !errors.As(err, &he) || he.Status != tt.wantStatus {
					t.Fatalf("Check() error = %v, want HTTPError %d", err, tt.wantStatus)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check() error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckRefusedBeforeSending(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1", Options{})
	for _, give := range []CheckRequest{{}, {Key: "k", Window: -time.Second}, {Key: "k", Window: time.Microsecond}} {
		if _, err := c.Check(t.Context(), give); err == nil {
			t.Errorf("Check(%+v) succeeded", give)
		}
	}
	if _, err := c.ResetCounter(t.Context(), ""); !errors.Is(err, ErrEmptyKey) {
		t.Errorf("ResetCounter(\"\") error = %v, want ErrEmptyKey", err)
	}
	if _, err := c.SetLimit(t.Context(), "", 1, 0); !errors.Is(err, ErrEmptyKey) {
		t.Errorf("SetLimit(\"\") error = %v, want ErrEmptyKey", err)
	}
}

func TestResetCounter(t *testing.T) {
	tests := []struct {
		give     string
		body     string
		wantPath string
		want     ResetResult
		wantErr  error
	}{
		{give: "user:1", body: `{"key": "user:1", "reset": true}`, wantPath: "/api/counters/user:1/reset", want: ResetResult{Key: "user:1", Reset: true}},
		{give: "a/b c?d", body: `{"key": "a/b c?d", "reset": false}`, wantPath: "/api/counters/a%2Fb%20c%3Fd/reset", want: ResetResult{Key: "a/b c?d"}},
		{give: "k", body: `{"key": "k"}`, wantPath: "/api/counters/k/reset", wantErr: ErrBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			seen := make(chan recorded, 1)
			c := newClient(t, serve(t, recorder(t, seen, 200, nil, tt.body)), Options{})
			got, err := c.ResetCounter(t.Context(), tt.give)
			rec := <-seen
			if rec.method != http.MethodPost || rec.path != tt.wantPath {
				t.Errorf("sent %s %s, want POST %s", rec.method, rec.path, tt.wantPath)
			}
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ResetCounter() = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSetLimit(t *testing.T) {
	tests := []struct {
		name     string
		giveKey  string
		giveLim  int64
		giveWin  time.Duration
		body     string
		wantSent map[string]any
		want     LimitOverride
		wantErr  error
	}{
		{
			name: "with window", giveKey: "user:1", giveLim: 5, giveWin: time.Second,
			body:     `{"key": "user:1", "limit": 5, "window_ms": 1000, "updated": true}`,
			wantSent: map[string]any{"limit": float64(5), "window_ms": float64(1000)},
			want:     LimitOverride{Key: "user:1", Limit: 5, Window: time.Second, Updated: true},
		},
		{
			name: "default window", giveKey: "user:2", giveLim: 0,
			body:     `{"key": "user:2", "limit": 0, "window_ms": 60000, "updated": true}`,
			wantSent: map[string]any{"limit": float64(0)},
			want:     LimitOverride{Key: "user:2", Window: time.Minute, Updated: true},
		},
		{
			name: "window missing", giveKey: "k", giveLim: 1,
			body:     `{"key": "k", "limit": 1, "updated": true}`,
			wantSent: map[string]any{"limit": float64(1)},
			wantErr:  ErrBadAnswer,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan recorded, 1)
			c := newClient(t, serve(t, recorder(t, seen, 200, nil, tt.body)), Options{})
			got, err := c.SetLimit(t.Context(), tt.giveKey, tt.giveLim, tt.giveWin)
			rec := <-seen
			if wantPath := "/api/limits/" + tt.giveKey; rec.method != http.MethodPut || rec.path != wantPath || !reflect.DeepEqual(rec.body, tt.wantSent) {
				t.Errorf("sent %s %s %v, want PUT %s %v", rec.method, rec.path, rec.body, wantPath, tt.wantSent)
			}
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("SetLimit() = %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
