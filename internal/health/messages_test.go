package health

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func TestMessages(t *testing.T) {
	tests := []struct {
		name      string
		give      func(*Input)
		invariant string
		subject   string
		want      string
	}{
		{
			name: "node_down with the health error",
			give: func(in *Input) {
				n := nodeAt(in, "node-2")
				n.Reachable = false
				n.EndpointErrors = map[string]string{"/health": "dial tcp 10.0.0.2:8000: connection refused"}
			},
			invariant: "node_down", subject: "node-2",
			want: `node "node-2" (10.0.0.2:8000) is unreachable: dial tcp 10.0.0.2:8000: connection refused`,
		},
		{
			name:      "redis_disconnected after failed polls",
			give:      func(in *Input) { staleSource(in, source.Redis, "dial tcp 127.0.0.1:6379: connection refused") },
			invariant: "redis_disconnected", subject: SubjectRedis,
			want: "redis does not answer: source is stale after 3 consecutive failures: dial tcp 127.0.0.1:6379: connection refused",
		},
		{
			name:      "redis_disconnected by its own word",
			give:      func(in *Input) { in.Snapshot.Redis.Connected = false },
			invariant: "redis_disconnected", subject: SubjectRedis,
			want: "redis reports itself not connected",
		},
		{
			name:      "high_latency",
			give:      func(in *Input) { nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250.0004)) },
			invariant: "high_latency", subject: "node-1",
			want: `node "node-1" check latency p99 is 250ms, above the threshold of 100ms`,
		},
		{
			name:      "over_limit",
			give:      func(in *Input) { in.Redis.OverLimit = []snapshot.Block{{Key: "a", Count: 12, Limit: 5}} },
			invariant: "over_limit", subject: "a",
			want: `key "a" counts 12 requests in its window, over its limit of 5`,
		},
		{
			name:      "ghost_allowing",
			give:      func(in *Input) { in.Redis.ZeroLimitActive = []snapshot.Block{{Key: "g", Count: 3}} },
			invariant: "ghost_allowing", subject: "g",
			want: `key "g" has a limit of 0 yet counts 3 requests in its window`,
		},
		{
			name: "counter_without_ttl",
			give: func(in *Input) {
				in.Redis.WithoutTTL = []string{"x"}
				in.Redis.Counters.KeysWithoutTTL = 7
			},
			invariant: "counter_without_ttl", subject: "x",
			want: `counter key "x" has no TTL, so it never expires (7 keys without TTL in all)`,
		},
		{
			name:      "sequence_key_leak",
			give:      func(in *Input) { in.Redis.Counters.OrphanSequenceKeys = 12000 },
			invariant: "sequence_key_leak", subject: SubjectRedis,
			want: "12000 orphan sequence keys (no sorted set left), above the threshold of 10000",
		},
		{
			name: "counter_drift against redis names the worst key",
			give: func(in *Input) {
				in.Nodes.Nodes[0].Counters[0].Count = 20
				in.Nodes.Nodes[0].Counters[1].Count = 30
			},
			invariant: "counter_drift", subject: "node-1",
			want: `node "node-1": 2 of 2 sampled keys differ from redis by more than 5; worst: key "b" counts 30 on the node, 3 and 3 in redis just before and after`,
		},
		{
			name:      "counter_drift between nodes",
			give:      func(in *Input) { in.Nodes.Nodes[0].Counters[0].Count = 20 },
			invariant: "counter_drift", subject: "node-1/node-2",
			want: `nodes "node-1" and "node-2": 1 of 2 keys sampled by both differ by more than 5; worst: key "a" counts 20 on "node-1", 10 and 10 on "node-2" just before and after`,
		},
		{
			name: "source_stale with the error",
			give: func(in *Input) {
				staleSource(in, source.Prometheus, "context deadline exceeded")
				lastSuccess(in, source.Prometheus, 20*time.Second)
			},
			invariant: "source_stale", subject: source.Prometheus,
			want: `source "prometheus" last succeeded 20s ago, above its bound of 15s: context deadline exceeded`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := healthy(t0)
			tt.give(&in)
			res := noGrace().evaluator(zaptest.NewLogger(t)).Evaluate(in)
			for _, v := range res.Violations {
				if v.Invariant == tt.invariant && v.Subject == tt.subject {
					if v.Message != tt.want {
						t.Errorf("message\n got  %s\n want %s", v.Message, tt.want)
					}
					return
				}
			}
			t.Fatalf("no %s violation for %q in %v", tt.invariant, tt.subject, res.Violations)
		})
	}
}

func TestUnknownReasons(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name      string
		give      func(*Input)
		invariant string
		want      string
	}{
		{
			name:      "stale source with its error",
			give:      func(in *Input) { staleSource(in, source.Redis, "i/o timeout") },
			invariant: "over_limit",
			want:      "redis source is stale: i/o timeout",
		},
		{
			name: "source not polled yet",
			give: func(in *Input) {
				in.Snapshot.Sources[source.Prometheus] = snapshot.SourceStatus{Status: snapshot.StatusPending}
				in.Fresh[source.Prometheus] = false
			},
			invariant: "high_latency",
			want:      "prometheus source has not been polled yet",
		},
		{
			name:      "source too old without an error",
			give:      func(in *Input) { staleSource(in, source.Ratelimiter, "") },
			invariant: "node_down",
			want:      "ratelimiter source is not fresh (status stale)",
		},
		{
			name: "source without status",
			give: func(in *Input) {
				delete(in.Snapshot.Sources, source.Ratelimiter)
				in.Fresh[source.Ratelimiter] = false
			},
			invariant: "counter_drift",
			want:      "ratelimiter source has no status",
		},
		{
			name:      "fresh source without data",
			give:      func(in *Input) { in.Redis = nil },
			invariant: "sequence_key_leak",
			want:      "redis source has no data yet",
		},
		{
			name:      "fresh prometheus source without data",
			give:      func(in *Input) { in.Prometheus = nil },
			invariant: "hot_key",
			want:      "prometheus source has no data yet",
		},
		{
			name:      "stale prometheus source",
			give:      func(in *Input) { staleSource(in, source.Prometheus, "timeout") },
			invariant: "over_throttling",
			want:      "prometheus source is stale: timeout",
		},
		{
			name:      "fresh ratelimiter source without data",
			give:      func(in *Input) { in.Nodes = nil },
			invariant: "fail_open",
			want:      "ratelimiter source has no data yet",
		},
		{
			name:      "long error is cut on a rune boundary",
			give:      func(in *Input) { staleSource(in, source.Redis, long) },
			invariant: "ghost_allowing",
			want:      "redis source is stale: " + strings.Repeat("é", maxReasonBytes/2) + "...",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := healthy(t0)
			tt.give(&in)
			res := noGrace().evaluator(zaptest.NewLogger(t)).Evaluate(in)
			for _, u := range res.Unknown {
				if u.Invariant == tt.invariant {
					if u.Reason != tt.want {
						t.Errorf("reason\n got  %s\n want %s", u.Reason, tt.want)
					}
					return
				}
			}
			t.Fatalf("%s not unknown in %v", tt.invariant, res.Unknown)
		})
	}
}

func TestNodeDownMessage(t *testing.T) {
	n := snapshot.Node{ID: "node-2", Address: "10.0.0.2:8000"}
	tests := []struct {
		name                 string
		reachable            bool
		unreachable, expired bool
		want                 string
	}{
		{name: "unreachable and expired", unreachable: true, expired: true, want: `node "node-2" (10.0.0.2:8000) is unreachable and its registry entry expired`},
		{name: "no longer polled, expired", expired: true, want: `node "node-2" (10.0.0.2:8000) is not reachable and its registry entry expired`},
		{name: "reachable, expired", reachable: true, expired: true, want: `node "node-2" (10.0.0.2:8000) is reachable but its registry entry expired`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n.Reachable = tt.reachable
			if got := nodeDownMessage(n, tt.unreachable, tt.expired); got != tt.want {
				t.Errorf("nodeDownMessage = %q, want %q", got, tt.want)
			}
		})
	}
}
