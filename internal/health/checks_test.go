package health

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// redisUnknown are the invariants that need a fresh redis source, by name.
var redisUnknown = []string{
	"clock_skew", "counter_drift", "counter_without_ttl", "ghost_allowing", "hot_key",
	"over_limit", "over_throttling", "redis_slow", "sequence_key_leak", "ttl_beyond_window",
}

// nodesUnknown are the invariants that need a fresh ratelimiter source, by
// name.
var nodesUnknown = []string{"clock_skew", "counter_drift", "fail_open", "node_down"}

// promUnknown are the invariants that need a fresh prometheus source, by
// name, in the healthy input (no node is cut off from Redis, so fail_open
// has no subject to leave undecided).
var promUnknown = []string{"high_latency", "hot_key", "over_throttling"}

func TestChecks(t *testing.T) {
	tests := []struct {
		name        string
		give        func(*Input)
		want        []string
		wantUnknown []string
	}{
		{name: "healthy cluster"},
		{
			name: "nil snapshot and no sources judges nothing",
			give: func(in *Input) { *in = Input{Now: in.Now} },
		},

		// node_down
		{
			name: "unreachable node is down",
			give: func(in *Input) { nodeAt(in, "node-2").Reachable = false },
			want: []string{"critical node_down node-2 first=0s last=0s"},
		},
		{
			name: "node without id is named by its address",
			give: func(in *Input) {
				n := nodeAt(in, "node-2")
				n.Reachable, n.ID = false, ""
			},
			want: []string{"critical node_down 10.0.0.2:8000 first=0s last=0s"},
		},
		{
			name: "registry-only node that is not polled is not down",
			give: func(in *Input) {
				in.Snapshot.Nodes = append(in.Snapshot.Nodes, snapshot.Node{ID: "node-3", Address: "10.0.0.3:8000", Registered: true})
			},
		},
		{
			name: "node without url that the nodes section polled is judged",
			give: func(in *Input) {
				in.Snapshot.Nodes = append(in.Snapshot.Nodes, snapshot.Node{ID: "node-3", Address: "10.0.0.3:8000", Registered: true})
				in.Nodes.Nodes = append(in.Nodes.Nodes, snapshot.NodeReport{Address: "10.0.0.3:8000"})
			},
			want: []string{"critical node_down node-3 first=0s last=0s"},
		},
		{
			name: "reachable node never seen registered is not down",
			give: func(in *Input) { nodeAt(in, "node-2").Registered = false },
		},
		{
			name: "ratelimiter source stale makes the invariants that judge nodes unknown",
			give: func(in *Input) {
				staleSource(in, source.Ratelimiter, "boom")
				nodeAt(in, "node-2").Reachable = false
			},
			wantUnknown: nodesUnknown,
		},
		{
			name: "without the ratelimiter source unreachability says nothing",
			give: func(in *Input) {
				in.Enabled = []string{source.Redis, source.Prometheus}
				nodeAt(in, "node-2").Reachable = false
			},
		},
		{
			name: "without the ratelimiter source and with redis stale node_down is unknown",
			give: func(in *Input) {
				in.Enabled = []string{source.Redis}
				staleSource(in, source.Redis, "boom")
			},
			want: []string{"critical redis_disconnected redis first=0s last=0s"},
			wantUnknown: []string{
				"clock_skew", "counter_without_ttl", "ghost_allowing", "node_down", "over_limit",
				"redis_slow", "sequence_key_leak", "ttl_beyond_window",
			},
		},

		// redis_disconnected
		{
			name:        "failing redis polls",
			give:        func(in *Input) { staleSource(in, source.Redis, "connection refused") },
			want:        []string{"critical redis_disconnected redis first=0s last=0s"},
			wantUnknown: redisUnknown,
		},
		{
			name: "redis source in error",
			give: func(in *Input) {
				staleSource(in, source.Redis, "x")
				setStatus(in, source.Redis, snapshot.StatusError)
			},
			want:        []string{"critical redis_disconnected redis first=0s last=0s"},
			wantUnknown: redisUnknown,
		},
		{
			name: "redis reporting itself not connected",
			give: func(in *Input) { in.Snapshot.Redis.Connected = false },
			want: []string{"critical redis_disconnected redis first=0s last=0s"},
		},
		{
			name: "redis not polled yet is unknown, not disconnected",
			give: func(in *Input) {
				in.Snapshot.Sources[source.Redis] = snapshot.SourceStatus{Status: snapshot.StatusPending}
				in.Fresh[source.Redis] = false
				in.Redis = nil
				in.Snapshot.Redis.Connected = false
			},
			wantUnknown: []string{
				"clock_skew", "counter_drift", "counter_without_ttl", "ghost_allowing", "hot_key", "over_limit",
				"over_throttling", "redis_disconnected", "redis_slow", "sequence_key_leak", "ttl_beyond_window",
			},
		},
		{
			name: "redis disabled is not judged",
			give: func(in *Input) {
				in.Enabled = []string{source.Ratelimiter, source.Prometheus}
				delete(in.Snapshot.Sources, source.Redis)
				in.Fresh[source.Redis] = false
				in.Snapshot.Redis.Connected = false
				in.Redis = nil
			},
		},

		// high_latency
		{
			name: "check latency above the threshold",
			give: func(in *Input) { nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250)) },
			want: []string{"warning high_latency node-1 first=0s last=0s"},
		},
		{
			name: "check latency at the threshold",
			give: func(in *Input) { nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(100)) },
		},
		{
			name: "check latency NaN or infinite is not judged",
			give: func(in *Input) {
				nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Duration{}
				nodeAt(in, "node-2").CheckLatencyP99 = snapshot.Duration{}
			},
		},
		{
			name: "prometheus stale makes high_latency, hot_key and over_throttling unknown",
			give: func(in *Input) {
				staleSource(in, source.Prometheus, "timeout")
				nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250))
			},
			wantUnknown: promUnknown,
		},
		{
			name: "prometheus disabled is not judged",
			give: func(in *Input) {
				in.Enabled = []string{source.Ratelimiter, source.Redis}
				nodeAt(in, "node-1").CheckLatencyP99 = snapshot.Known(ms(250))
			},
		},

		// Redis-based invariants
		{
			name: "keys over their own limit",
			give: func(in *Input) {
				in.Redis.OverLimit = []snapshot.Block{
					{Key: "b", Count: 12, Limit: 5}, {Key: "a", Count: 6, Limit: 5},
					{Key: "at", Count: 5, Limit: 5}, {Key: "zero", Count: 5, Limit: 0},
				}
			},
			want: []string{"warning over_limit a first=0s last=0s", "warning over_limit b first=0s last=0s"},
		},
		{
			name: "key with limit 0 still counting requests",
			give: func(in *Input) { in.Redis.ZeroLimitActive = []snapshot.Block{{Key: "g", Count: 3}} },
			want: []string{"warning ghost_allowing g first=0s last=0s"},
		},
		{
			name: "counter key without ttl",
			give: func(in *Input) { in.Redis.WithoutTTL = []string{"x"} },
			want: []string{"warning counter_without_ttl x first=0s last=0s"},
		},
		{
			name: "orphan sequence keys above the threshold",
			give: func(in *Input) { in.Redis.Counters.OrphanSequenceKeys = 10001 },
			want: []string{"info sequence_key_leak redis first=0s last=0s"},
		},
		{
			name: "orphan sequence keys at the threshold",
			give: func(in *Input) { in.Redis.Counters.OrphanSequenceKeys = 10000 },
		},
		{
			name: "stale redis data raises nothing",
			give: func(in *Input) {
				staleSource(in, source.Redis, "boom")
				in.Redis.OverLimit = []snapshot.Block{{Key: "a", Count: 6, Limit: 5}}
				in.Redis.ZeroLimitActive = []snapshot.Block{{Key: "g", Count: 3}}
				in.Redis.WithoutTTL = []string{"x"}
				in.Redis.Counters.OrphanSequenceKeys = 20000
				in.Nodes.Nodes[0].Counters[0].Count = 99
				in.Redis.KeyCounts["c"] = 1
			},
			want:        []string{"critical redis_disconnected redis first=0s last=0s"},
			wantUnknown: redisUnknown,
		},
		{
			name:        "fresh redis source without a section yet is unknown",
			give:        func(in *Input) { in.Redis = nil },
			wantUnknown: redisUnknown,
		},

		// counter_drift
		{
			name: "node count differs from redis and from the other node",
			give: func(in *Input) { in.Nodes.Nodes[0].Counters[0].Count = 20 },
			want: []string{"warning counter_drift node-1 first=0s last=0s", "warning counter_drift node-1/node-2 first=0s last=0s"},
		},
		{
			name: "differences at the threshold",
			give: func(in *Input) {
				in.Nodes.Nodes[0].Counters[0].Count = 15
				in.Nodes.Nodes[1].Counters[1].Count = 0 // b: 3 in redis and on node-1
			},
		},
		{
			name: "keys redis did not count are compared between nodes only",
			give: func(in *Input) {
				in.Nodes.Nodes[0].Counters = append(in.Nodes.Nodes[0].Counters, snapshot.APICounter{Key: "c", Count: 50})
				in.Nodes.Nodes[1].Counters = append(in.Nodes.Nodes[1].Counters, snapshot.APICounter{Key: "c", Count: 30})
			},
			want: []string{"warning counter_drift node-1/node-2 first=0s last=0s"},
		},
		{
			name: "key sampled by one node only is not compared between nodes",
			give: func(in *Input) {
				in.Nodes.Nodes[0].Counters = append(in.Nodes.Nodes[0].Counters, snapshot.APICounter{Key: "c", Count: 50})
			},
		},
		{
			name: "node whose counters endpoint failed says nothing",
			give: func(in *Input) {
				in.Nodes.Nodes[0].Counters[0].Count = 20
				in.Nodes.Nodes[1].Counters = nil
			},
			want: []string{"warning counter_drift node-1 first=0s last=0s"},
		},
		{
			name: "drifting node without id is named by its address",
			give: func(in *Input) {
				in.Nodes.Nodes[1].ID = ""
				in.Nodes.Nodes[1].Counters[0].Count = 0
			},
			want: []string{"warning counter_drift 10.0.0.2:8000 first=0s last=0s", "warning counter_drift 10.0.0.2:8000/node-1 first=0s last=0s"},
		},
		{
			name: "without redis nodes are compared with each other",
			give: func(in *Input) {
				in.Enabled = []string{source.Ratelimiter}
				in.Redis = nil
				in.Nodes.Nodes[0].Counters[0].Count = 20
			},
			want: []string{"warning counter_drift node-1/node-2 first=0s last=0s"},
		},
		{
			name:        "no nodes section yet",
			give:        func(in *Input) { in.Nodes = nil },
			wantUnknown: []string{"counter_drift", "fail_open"},
		},

		// source_stale
		{
			name: "source without success for longer than its bound",
			give: func(in *Input) { lastSuccess(in, source.Prometheus, 16*time.Second) },
			want: []string{"warning source_stale prometheus first=0s last=0s"},
		},
		{
			name: "source without success for exactly its bound",
			give: func(in *Input) { lastSuccess(in, source.Prometheus, 15*time.Second) },
		},
		{
			name: "disabled source is not judged",
			give: func(in *Input) {
				lastSuccess(in, source.Prometheus, time.Hour)
				in.Enabled = []string{source.Ratelimiter, source.Redis}
			},
		},
		{
			name: "enabled sources default to the snapshot's sources",
			give: func(in *Input) {
				lastSuccess(in, source.Prometheus, time.Hour)
				in.Enabled = nil
			},
			want: []string{"warning source_stale prometheus first=0s last=0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, noGrace(), []step{{give: tt.give, want: tt.want, wantUnknown: tt.wantUnknown}})
		})
	}
}

// setStatus sets src's status.
func setStatus(in *Input, src, status string) {
	st := in.Snapshot.Sources[src]
	st.Status = status
	in.Snapshot.Sources[src] = st
}

// lastSuccess moves src's last success to age before now.
func lastSuccess(in *Input, src string, age time.Duration) {
	st := in.Snapshot.Sources[src]
	last := in.Now.Add(-age)
	st.LastSuccess = &last
	in.Snapshot.Sources[src] = st
}
