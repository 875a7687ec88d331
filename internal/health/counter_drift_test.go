package health

import (
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// readAt sets when Redis read its counts of the keys of interest and when
// the nodes read their /api/counters, relative to the evaluation, and the
// counts: key "a" in Redis, and on node-1 (node-2 agrees with Redis).
func readAt(redisAt, nodeAt time.Duration, redisA, nodeA int64) func(*Input) {
	return func(in *Input) {
		span := func(d time.Duration) snapshot.Interval {
			return snapshot.Interval{Start: in.Now.Add(d), End: in.Now.Add(d + 10*time.Millisecond)}
		}
		in.Redis.KeyCounts["a"], in.Redis.KeyCountsRead = redisA, span(redisAt)
		for i := range in.Nodes.Nodes {
			in.Nodes.Nodes[i].CountersRead = span(nodeAt)
			in.Nodes.Nodes[i].Counters[0].Count = redisA
		}
		in.Nodes.Nodes[0].Counters[0].Count = nodeA
	}
}

// TestCounterDriftBrackets: a node's count is judged against the Redis
// readings just before and just after it, so a key that grows while it is
// read does not drift, and one outside both readings by more than the
// threshold does. Evaluations come every second; Redis and the nodes are
// read within it at the offsets given.
func TestCounterDriftBrackets(t *testing.T) {
	drifts := seen{
		subject: "node-1",
		message: `^node "node-1": 1 of 2 sampled keys differ from redis by more than 5; worst: key "a" counts \d+ on the node, \d+ and \d+ in redis just before and after$`,
		sources: []string{"node-1", SourceObserverd, source.Redis},
	}
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name: "a key growing by a hundred a second, the node read between two Redis readings",
			steps: []judgement{
				{at: 0, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 100, 130)},
				// Redis read 200 after the node's 130: 100 <= 130 <= 200.
				{at: time.Second, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 200, 230)},
				{at: 2 * time.Second, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 300, 330)},
			},
		},
		{
			name: "a node outside both readings by more than the threshold",
			steps: []judgement{
				{at: 0, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 100, 180)},
				{at: time.Second, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 110, 190), want: []seen{drifts}},
			},
		},
		{
			name: "a node below both readings",
			steps: []judgement{
				{at: 0, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 100, 90)},
				{at: time.Second, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 100, 90), want: []seen{drifts}},
			},
		},
		{
			name: "a node read after the last Redis reading is not judged yet",
			steps: []judgement{
				{at: 0, give: readAt(-800*time.Millisecond, -500*time.Millisecond, 100, 180)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "counter_drift", tt.steps) })
	}
}

// TestCounterDriftCauses: a node on the right clock and window, drifting
// alone, is most likely on another Redis; a node whose clock is off, most
// likely drifts for that.
func TestCounterDriftCauses(t *testing.T) {
	e := noGrace().evaluator(nil)
	drift := func(in *Input) { in.Nodes.Nodes[0].Counters[0].Count = 30 }
	in := healthy(t0)
	drift(&in)
	res := e.Evaluate(in)
	causes := func(res Result) []string {
		for _, v := range res.Violations {
			if v.Invariant == "counter_drift" && v.Subject == "node-1" {
				return v.Causes
			}
		}
		t.Fatalf("no counter_drift on node-1: %v", res.Violations)
		return nil
	}
	if c := causes(res); len(c) < 3 || !strings.HasPrefix(c[0], "the node counts on another Redis") {
		t.Errorf("causes of a drift with no clock or window off start %q, want another Redis first", c[:1])
	}
	in = healthy(t0.Add(time.Second))
	drift(&in)
	read := snapshot.Interval{Start: in.Now.Add(-time.Second), End: in.Now.Add(-time.Second + time.Millisecond)}
	in.Redis.Clock = snapshot.ClockReading{Clock: read.Start, Resolution: time.Microsecond, Read: read}
	in.Nodes.Nodes[0].Clock = snapshot.ClockReading{Clock: read.Start.Add(time.Minute), Resolution: time.Second, Read: read}
	if c := causes(e.Evaluate(in)); !strings.HasPrefix(c[0], "the node's clock is off") {
		t.Errorf("causes of a drift of a node a minute ahead start %q, want its clock first", c[:1])
	}
}
