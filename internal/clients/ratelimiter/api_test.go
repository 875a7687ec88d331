package ratelimiter

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	tests := []struct {
		give        string
		want        Health
		wantHealthy bool
		wantErr     error
	}{
		{give: `{"status": "healthy", "node_id": "node-1"}`, want: Health{Status: "healthy", NodeID: "node-1"}, wantHealthy: true},
		{give: `{"status": "degraded", "node_id": "node-1", "redis": false}`, want: Health{Status: "degraded", NodeID: "node-1"}},
		{give: `{"status": "healthy"}`, wantErr: ErrBadAnswer},
		{give: `{"node_id": "node-1"}`, wantErr: ErrBadAnswer},
		{give: `{"status": true, "node_id": "node-1"}`, wantErr: ErrBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			c := newClient(t, serve(t, reply(200, tt.give)), Options{})
			got, err := c.Health(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Health() error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got.Date.IsZero() {
				t.Errorf("Health() = %+v: no Date, though the answer had one", got)
			}
			got.Date = time.Time{}
			if got != tt.want || got.Healthy() != tt.wantHealthy {
				t.Errorf("Health() = %+v (healthy %t), want %+v (healthy %t)", got, got.Healthy(), tt.want, tt.wantHealthy)
			}
		})
	}
}

func TestNodes(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	at := func(t time.Time) *time.Time { return &t }
	tests := []struct {
		name    string
		give    string
		loc     *time.Location
		want    []Peer
		wantErr error
	}{
		{
			name: "isoformat with microseconds",
			give: `{"nodes": [{"id": "node-1", "address": "10.0.0.1:8000", "state": "Up", "registered_at": "2026-01-27T01:48:37.123456"}]}`,
			want: []Peer{{ID: "node-1", Address: "10.0.0.1:8000", State: "Up", RegisteredAt: at(time.Date(2026, 1, 27, 1, 48, 37, 123456000, time.UTC))}},
		},
		{
			name: "isoformat without microseconds in the nodes' zone",
			give: `{"nodes": [{"id": "node-1", "address": "10.0.0.1:8000", "state": "Up", "registered_at": "2026-01-27T01:48:37"}]}`,
			loc:  berlin,
			want: []Peer{{ID: "node-1", Address: "10.0.0.1:8000", State: "Up", RegisteredAt: at(time.Date(2026, 1, 27, 0, 48, 37, 0, time.UTC))}},
		},
		{
			name: "RFC 3339 with offset ignores the zone",
			give: `{"nodes": [{"id": "node-2", "address": "10.0.0.2:8000", "state": "Up", "registered_at": "2026-01-27T01:48:37+02:00"}]}`,
			loc:  berlin,
			want: []Peer{{ID: "node-2", Address: "10.0.0.2:8000", State: "Up", RegisteredAt: at(time.Date(2026, 1, 26, 23, 48, 37, 0, time.UTC))}},
		},
		{
			name: "null, absent and empty timestamps",
			give: `{"nodes": [
				{"id": "a", "address": "h:1", "state": "Up", "registered_at": null},
				{"id": "b", "address": "h:2", "state": "Up"},
				{"id": "c", "address": "h:3", "registered_at": "", "zone": "eu"}]}`,
			want: []Peer{{ID: "a", Address: "h:1", State: "Up"}, {ID: "b", Address: "h:2", State: "Up"}, {ID: "c", Address: "h:3"}},
		},
		{name: "no nodes", give: `{"nodes": []}`, want: []Peer{}},
		{name: "unparsable timestamp", give: `{"nodes": [{"id": "a", "address": "h:1", "registered_at": "yesterday"}]}`, wantErr: ErrBadAnswer},
		{name: "numeric timestamp", give: `{"nodes": [{"id": "a", "address": "h:1", "registered_at": 1769478517}]}`, wantErr: ErrBadAnswer},
		{name: "address missing", give: `{"nodes": [{"id": "a"}]}`, wantErr: ErrBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, serve(t, reply(200, tt.give)), Options{Location: tt.loc})
			got, err := c.Nodes(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Nodes() error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Nodes() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCountersLimitsBlocks(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/counters", reply(200, `{"counters": [{"key": "user:1", "count": 12, "limit": 10, "remaining": 0}, {"key": "user:2", "count": 0, "limit": 0, "remaining": 0}]}`))
	mux.HandleFunc("GET /api/limits", reply(200, `{"default_limit": 100, "default_window_ms": 60000}`))
	mux.HandleFunc("GET /api/blocks", reply(200, `{"blocked": [{"key": "user:1", "current_count": 12, "limit": 10}, {"key": "user:3", "current_count": 10, "limit": 10}]}`))
	c := newClient(t, serve(t, mux.ServeHTTP), Options{})

	counters, err := c.Counters(t.Context())
	if err != nil {
		t.Fatalf("Counters(): %v", err)
	}
	wantCounters := []Counter{{Key: "user:1", Count: 12, Limit: 10}, {Key: "user:2"}}
	if !reflect.DeepEqual(counters, wantCounters) {
		t.Errorf("Counters() = %+v, want %+v", counters, wantCounters)
	}

	limits, err := c.Limits(t.Context())
	if err != nil {
		t.Fatalf("Limits(): %v", err)
	}
	if want := (Limits{DefaultLimit: 100, DefaultWindow: time.Minute}); *limits != want {
		t.Errorf("Limits() = %+v, want %+v", *limits, want)
	}

	blocks, err := c.Blocks(t.Context())
	if err != nil {
		t.Fatalf("Blocks(): %v", err)
	}
	wantBlocks := []Counter{{Key: "user:1", Count: 12, Limit: 10}, {Key: "user:3", Count: 10, Limit: 10}}
	if !reflect.DeepEqual(blocks, wantBlocks) {
		t.Errorf("Blocks() = %+v, want %+v", blocks, wantBlocks)
	}
}

func TestLimitsInvalid(t *testing.T) {
	tests := []struct {
		give string
	}{
		{give: `{"default_limit": 100}`},
		{give: `{"default_limit": 100, "default_window_ms": -1}`},
		{give: `{"default_limit": 100, "default_window_ms": 9223372036854775807}`},
		{give: `{"default_limit": "100", "default_window_ms": 60000}`},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			c := newClient(t, serve(t, reply(200, tt.give)), Options{})
			got, err := c.Limits(t.Context())
			if !errors.Is(err, ErrBadAnswer) || got != nil {
				t.Errorf("Limits() = %v, %v; want nil, ErrBadAnswer", got, err)
			}
		})
	}
}
