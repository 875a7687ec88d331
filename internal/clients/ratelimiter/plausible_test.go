package ratelimiter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestImplausibleValues feeds each endpoint values that no node can mean:
// each is a bad answer of that endpoint, naming the field and the value.
func TestImplausibleValues(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		give     string
		wantText string // in the error, after the endpoint
	}{
		{name: "negative count", path: PathCounters, give: `{"counters": [{"key": "a", "count": -5, "limit": 10, "remaining": 10}]}`, wantText: "counters[0].count = -5"},
		{name: "count beyond a sorted set", path: PathCounters, give: `{"counters": [{"key": "a", "count": 9007199254740993, "limit": 10, "remaining": 0}]}`, wantText: "counters[0].count = 9007199254740993"},
		{name: "negative limit", path: PathCounters, give: `{"counters": [{"key": "a", "count": 1, "limit": -1, "remaining": 0}]}`, wantText: "counters[0].limit = -1"},
		{name: "negative remaining", path: PathCounters, give: `{"counters": [{"key": "a", "count": 1, "limit": 10, "remaining": -3}]}`, wantText: "counters[0].remaining = -3"},
		{name: "remaining above limit", path: PathCounters, give: `{"counters": [{"key": "a", "count": 1, "limit": 10, "remaining": 11}]}`, wantText: "counters[0].remaining = 11, want 0 to 10"},
		{name: "second entry named", path: PathCounters, give: `{"counters": [{"key": "a", "count": 1, "limit": 10, "remaining": 9}, {"key": "b", "count": -1, "limit": 10, "remaining": 9}]}`, wantText: "counters[1].count = -1"},
		{name: "negative default limit", path: PathLimits, give: `{"default_limit": -100, "default_window_ms": 60000}`, wantText: "default_limit = -100"},
		{name: "window zero", path: PathLimits, give: `{"default_limit": 100, "default_window_ms": 0}`, wantText: "default_window_ms = 0"},
		{name: "window negative", path: PathLimits, give: `{"default_limit": 100, "default_window_ms": -60000}`, wantText: "default_window_ms = -60000"},
		{name: "window in nanoseconds", path: PathLimits, give: `{"default_limit": 100, "default_window_ms": 60000000000}`, wantText: "default_window_ms = 60000000000"},
		{name: "negative block count", path: PathBlocks, give: `{"blocked": [{"key": "a", "current_count": -12, "limit": 10}]}`, wantText: "blocked[0].current_count = -12"},
		{name: "negative block limit", path: PathBlocks, give: `{"blocked": [{"key": "a", "current_count": 12, "limit": -10}]}`, wantText: "blocked[0].limit = -10"},
		{name: "empty node id", path: PathHealth, give: `{"status": "healthy", "node_id": ""}`, wantText: "node_id is empty"},
		{name: "empty peer address", path: PathNodes, give: `{"nodes": [{"id": "a", "address": "", "state": "Up"}]}`, wantText: "nodes[0].address is empty"},
		{name: "registered before 1970", path: PathNodes, give: `{"nodes": [{"id": "a", "address": "h:1", "registered_at": "0001-01-01T00:00:00"}]}`, wantText: "nodes[0].registered_at = 0001-01-01T00:00:00Z"},
		{name: "registered after 2262", path: PathNodes, give: `{"nodes": [{"id": "a", "address": "h:1", "registered_at": "9999-12-31T23:59:59"}]}`, wantText: "nodes[0].registered_at = 9999-12-31T23:59:59Z"},
		{name: "huge timestamp", path: PathNodes, give: `{"nodes": [{"id": "a", "address": "h:1", "registered_at": "` + strings.Repeat("2", 4096) + `"}]}`, wantText: "nodes[0].registered_at: 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := serve(t, reply(200, tt.give))
			c := newClient(t, base, Options{})
			err := askRead(t, c, tt.path)
			if !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("GET %s of %s: error = %v, want ErrBadAnswer", tt.path, tt.give, err)
			}
			if want := "GET " + base + tt.path + ": bad answer: "; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q: want it to start with %q and contain %q", err, want, tt.wantText)
			}
		})
	}
}

// askRead asks the read endpoint path and returns its error.
func askRead(t *testing.T, c *Client, path string) error {
	t.Helper()
	var err error
	switch path {
	case PathHealth:
		_, err = c.Health(t.Context())
	case PathNodes:
		_, err = c.Nodes(t.Context())
	case PathCounters:
		_, err = c.Counters(t.Context())
	case PathLimits:
		_, err = c.Limits(t.Context())
	case PathBlocks:
		_, err = c.Blocks(t.Context())
	default:
		t.Fatalf("no read endpoint %s", path)
	}
	return err
}

// TestImplausibleWrites covers the answers of the writing endpoints.
func TestImplausibleWrites(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		give     string
		call     func(context.Context, *Client) error
		wantText string
	}{
		{
			name: "check negative count", status: 200, give: `{"allowed": true, "current_count": -1, "remaining": 9}`,
			call: check, wantText: "current_count = -1",
		},
		{
			name: "check negative remaining", status: 200, give: `{"allowed": true, "current_count": 1, "remaining": -9}`,
			call: check, wantText: "remaining = -9",
		},
		{
			name: "check negative retry", status: 429, give: `{"allowed": false, "current_count": 1, "remaining": 0, "retry_after_seconds": -2}`,
			call: check, wantText: "retry_after_seconds = -2",
		},
		{
			name: "check negative limit header", status: 200, header: map[string]string{"X-RateLimit-Limit": "-10"},
			give: `{"allowed": true, "current_count": 1, "remaining": 9}`, call: check, wantText: "header X-RateLimit-Limit = -10",
		},
		{
			name: "check negative remaining header", status: 200, header: map[string]string{"X-RateLimit-Remaining": "-1"},
			give: `{"allowed": true, "current_count": 1, "remaining": 9}`, call: check, wantText: "header X-RateLimit-Remaining = -1",
		},
		{
			name: "override window zero", status: 200, give: `{"key": "k", "limit": 5, "window_ms": 0, "updated": true}`,
			call: setLimit, wantText: "window_ms = 0",
		},
		{
			name: "override negative limit", status: 200, give: `{"key": "k", "limit": -5, "window_ms": 1000, "updated": true}`,
			call: setLimit, wantText: "limit = -5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan recorded, 1)
			c := newClient(t, serve(t, recorder(t, seen, tt.status, tt.header, tt.give)), Options{})
			err := tt.call(t.Context(), c)
			<-seen
			if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %v, want ErrBadAnswer containing %q", err, tt.wantText)
			}
		})
	}
}

func check(ctx context.Context, c *Client) error {
	_, err := c.Check(ctx, CheckRequest{Key: "k"})
	return err
}

func setLimit(ctx context.Context, c *Client) error {
	_, err := c.SetLimit(ctx, "k", 5, 0)
	return err
}

// TestManyProblemsShortError: a long list of broken entries makes a short
// error that counts the rest.
func TestManyProblemsShortError(t *testing.T) {
	body := `{"counters": [` + strings.Repeat(`{"count": -1},`, 999) + `{}]}`
	c := newClient(t, serve(t, reply(http.StatusOK, body)), Options{})
	_, err := c.Counters(t.Context())
	if !errors.Is(err, ErrBadAnswer) || len(err.Error()) > 400 || !strings.Contains(err.Error(), "more") {
		t.Errorf("error = %v (%d bytes), want a short ErrBadAnswer counting the rest", err, len(err.Error()))
	}
}
