package health

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/clients/ratelimiter"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// cutNode2 makes node-2 answer /health while every endpoint that reads Redis
// fails.
func cutNode2(in *Input) {
	n := &in.Nodes.Nodes[1]
	n.Counters = nil
	n.Errors = map[string]string{
		ratelimiter.PathNodes:    "500 Internal Server Error",
		ratelimiter.PathCounters: "redis: connection refused",
		ratelimiter.PathBlocks:   "500 Internal Server Error",
	}
	n.ErrorStatus = map[string]int{ratelimiter.PathNodes: 500, ratelimiter.PathCounters: 500, ratelimiter.PathBlocks: 503}
}

// TestFailOpenNeedsTheNodesWord: endpoints that did not answer in time
// (observerd's own deadline, a Redis slow but working) do not say the node
// is cut off from Redis: only the node's own 5xx answers do.
func TestFailOpenNeedsTheNodesWord(t *testing.T) {
	timedOut := func(in *Input) {
		cutNode2(in)
		in.Nodes.Nodes[1].ErrorStatus = map[string]int{ratelimiter.PathNodes: 500, ratelimiter.PathBlocks: 500}
		in.Nodes.Nodes[1].Errors[ratelimiter.PathCounters] = "context deadline exceeded"
	}
	judge(t, noGrace(), "fail_open", []judgement{
		{at: 0, give: both(timedOut, allowed(5000, -3*time.Second))},
		{at: 10 * time.Second, give: both(timedOut, allowed(5000, 8*time.Second))},
		{at: 20 * time.Second, give: both(timedOut, allowed(5040, 18*time.Second))},
	})
}

// allowed sets node-2's allowed checks counter as Prometheus scraped it at
// t0+at.
func allowed(total float64, at time.Duration) func(*Input) {
	return func(in *Input) {
		inst := in.Prometheus.Instances["10.0.0.2:8000"]
		inst.AllowedTotal, inst.AllowedScraped = snapshot.Float(total), t0.Add(at)
		in.Prometheus.Instances["10.0.0.2:8000"] = inst
	}
}

func TestFailOpen(t *testing.T) {
	admitted := func(message string) seen {
		return seen{subject: "node-2", message: message, sources: []string{"node-2", source.Prometheus}}
	}
	kept := func(message string) seen {
		w := admitted(message)
		w.kept = true
		return w
	}
	s := time.Second
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name: "a rise after the first scrape after the cut",
			steps: []judgement{
				// Scraped before the cut was seen: no baseline.
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				// The first scrape after it is the baseline.
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 15 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5040, 18*s)), want: []seen{admitted(
					`^node "node-2" admitted 40 checks between scrapes at 12:00:08 and 12:00:18 while it cannot reach Redis \(since 12:00:00: redis: connection refused\)$`)}},
				// Counted from the baseline for as long as the cut lasts.
				{at: 30 * s, give: both(cutNode2, allowed(5040, 28*s)), want: []seen{admitted(
					`^node "node-2" admitted 40 checks between scrapes at 12:00:08 and 12:00:28 `)}},
			},
		},
		{
			name: "a rise scraped before the cut never holds",
			steps: []judgement{
				{at: -10 * s, give: allowed(4000, -13*s)},
				{at: 0, give: both(cutNode2, allowed(5000, -2*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5000, 18*s))},
			},
		},
		{
			name: "a rise up to the first scrape after the cut never holds",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5100, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5100, 18*s))},
			},
		},
		{
			name: "a counter reset does not hold; the rise after it does",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(3, 18*s))},
				{at: 30 * s, give: both(cutNode2, allowed(3, 28*s))},
				{at: 40 * s, give: both(cutNode2, allowed(12, 38*s)), want: []seen{admitted(
					`^node "node-2" admitted 9 checks between scrapes at 12:00:18 and 12:00:38 while it cannot reach Redis \(since 12:00:00: `)}},
			},
		},
		{
			name: "after a restart a reported node is kept, then judged from its new counter",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5040, 18*s)), want: []seen{admitted(`admitted 40 checks`)}},
				{at: 30 * s, give: both(cutNode2, allowed(2, 28*s)), want: []seen{kept(`admitted 40 checks`)}},
				{at: 40 * s, give: both(cutNode2, allowed(2, 38*s))},
			},
		},
		{
			name: "a node that reaches Redis again clears, and a new cut starts over",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5040, 18*s)), want: []seen{admitted(`admitted 40 checks`)}},
				{at: 30 * s, give: allowed(5100, 28*s)},
				{at: 40 * s, give: both(cutNode2, allowed(5200, 38*s))},
				{at: 50 * s, give: both(cutNode2, allowed(5300, 48*s))},
				{at: 60 * s, give: both(cutNode2, allowed(5301, 58*s)), want: []seen{admitted(
					`^node "node-2" admitted 1 checks between scrapes at 12:00:48 and 12:00:58 while it cannot reach Redis \(since 12:00:40: `)}},
			},
		},
		{
			name: "stale prometheus leaves a cut node undecided",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5040, 18*s)), want: []seen{admitted(`admitted 40 checks`)}},
				{at: 30 * s, give: both(cutNode2, allowed(5100, 28*s), func(in *Input) { staleSource(in, source.Prometheus, "timeout") }),
					want: []seen{kept(`admitted 40 checks`)}},
				{at: 40 * s, give: both(cutNode2, allowed(5100, 38*s)), want: []seen{admitted(`admitted 100 checks between scrapes at 12:00:08 and 12:00:38`)}},
			},
		},
		{
			name: "a cut seen while prometheus is stale is judged once it is fresh",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s), func(in *Input) { staleSource(in, source.Prometheus, "timeout") })},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5001, 18*s)), want: []seen{admitted(`admitted 1 checks between scrapes at 12:00:08 and 12:00:18`)}},
			},
		},
		{
			name: "a node without a usable counter is undecided",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5040, 18*s)), want: []seen{admitted(`admitted 40 checks`)}},
				{at: 30 * s, give: both(cutNode2, func(in *Input) { delete(in.Prometheus.Instances, "10.0.0.2:8000") }), want: []seen{kept(`admitted 40 checks`)}},
				{at: 40 * s, give: both(cutNode2, allowed(5080, 38*s), func(in *Input) {
					inst := in.Prometheus.Instances["10.0.0.2:8000"]
					inst.AllowedTotal = snapshot.Null()
					in.Prometheus.Instances["10.0.0.2:8000"] = inst
				}), want: []seen{kept(`admitted 40 checks`)}},
				{at: 50 * s, give: both(cutNode2, allowed(5080, 0), func(in *Input) {
					inst := in.Prometheus.Instances["10.0.0.2:8000"]
					inst.AllowedScraped = time.Time{}
					in.Prometheus.Instances["10.0.0.2:8000"] = inst
				}), want: []seen{kept(`admitted 40 checks`)}},
				{at: 60 * s, give: both(cutNode2, allowed(5090, 58*s)), want: []seen{admitted(`admitted 90 checks`)}},
			},
		},
		{
			name: "a node with one endpoint that reads Redis answering is not cut",
			steps: []judgement{
				{at: 0, give: both(cutNode2, func(in *Input) { delete(in.Nodes.Nodes[1].Errors, ratelimiter.PathBlocks) }, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, func(in *Input) { delete(in.Nodes.Nodes[1].Errors, ratelimiter.PathBlocks) }, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, func(in *Input) { delete(in.Nodes.Nodes[1].Errors, ratelimiter.PathBlocks) }, allowed(5040, 18*s))},
			},
		},
		{
			name: "an unreachable node is not cut",
			steps: []judgement{
				{at: 0, give: both(cutNode2, func(in *Input) { in.Nodes.Nodes[1].Reachable = false }, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, func(in *Input) { in.Nodes.Nodes[1].Reachable = false }, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, func(in *Input) { in.Nodes.Nodes[1].Reachable = false }, allowed(5040, 18*s))},
			},
		},
		{
			name: "stale ratelimiter is unknown, and a reported node is kept",
			steps: []judgement{
				{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
				{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
				{at: 20 * s, give: both(cutNode2, allowed(5040, 18*s)), want: []seen{admitted(`admitted 40 checks`)}},
				{at: 30 * s, give: both(cutNode2, allowed(5040, 28*s), func(in *Input) { staleSource(in, source.Ratelimiter, "boom") }),
					want: []seen{kept(`admitted 40 checks`)}, unknown: true},
			},
		},
		{
			name:  "no nodes section yet is unknown",
			steps: []judgement{{give: func(in *Input) { in.Nodes = nil }, unknown: true}},
		},
		{
			name: "prometheus disabled is not judged",
			steps: []judgement{
				{at: 0, give: both(cutNode2, func(in *Input) { in.Enabled = []string{source.Ratelimiter, source.Redis} })},
				{at: 10 * s, give: both(cutNode2, func(in *Input) { in.Enabled = []string{source.Ratelimiter, source.Redis} })},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "fail_open", tt.steps) })
	}
}

// TestFailOpenRiseScrapedAfterTheNodesWereRead: the nodes' answers show a
// node cut off when they were read; a rise scraped later may be checks it
// admitted with Redis again, so it is judged once the nodes are read after
// it, and a node that reached Redis again by then is not reported.
func TestFailOpenRiseScrapedAfterTheNodesWereRead(t *testing.T) {
	s := time.Second
	nodesReadAt := func(at time.Duration) func(*Input) {
		return func(in *Input) { lastSuccess(in, source.Ratelimiter, in.Now.Sub(t0.Add(at))) }
	}
	judge(t, noGrace(), "fail_open", []judgement{
		{at: 0, give: both(cutNode2, allowed(5000, -3*s))},
		{at: 10 * s, give: both(cutNode2, allowed(5000, 8*s))},
		// The nodes were read at +9 s, the rise scraped at +18 s.
		{at: 20 * s, give: both(cutNode2, nodesReadAt(9*s), allowed(5040, 18*s))},
		{at: 25 * s, give: both(cutNode2, nodesReadAt(24*s), allowed(5040, 18*s)), want: []seen{{
			subject: "node-2", message: `^node "node-2" admitted 40 checks between scrapes at 12:00:08 and 12:00:18 `,
			sources: []string{"node-2", source.Prometheus},
		}}},
		{at: 30 * s, give: both(cutNode2, nodesReadAt(24*s), allowed(5080, 28*s)), want: []seen{{
			subject: "node-2", message: `admitted 40 checks`, sources: []string{"node-2", source.Prometheus}, kept: true,
		}}},
		// Read at +34 s, the node reaches Redis again.
		{at: 35 * s, give: both(nodesReadAt(34*s), allowed(5080, 28*s))},
		// A node that reached Redis again before a rise was scraped.
		{at: 40 * s, give: both(cutNode2, allowed(5080, 38*s))},
		{at: 50 * s, give: both(cutNode2, allowed(5080, 48*s))},
		{at: 60 * s, give: both(cutNode2, nodesReadAt(55*s), allowed(5200, 58*s))},
		{at: 65 * s, give: both(nodesReadAt(64*s), allowed(5200, 58*s))},
	})
}
