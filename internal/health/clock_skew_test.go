package health

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// redisClockOff sets Redis's TIME as the poll read it a second before the
// evaluation: asked at that moment, answered 2 ms later, Redis's clock off
// observerd's by off when it read it 1 ms after the asking.
func redisClockOff(off time.Duration) func(*Input) {
	return func(in *Input) {
		asked := in.Now.Add(-time.Second)
		in.Redis.Clock = snapshot.ClockReading{
			Clock: asked.Add(time.Millisecond + off), Resolution: time.Microsecond,
			Read: snapshot.Interval{Start: asked, End: asked.Add(2 * time.Millisecond)},
		}
	}
}

// nodeClockOff sets node i's Date header as its /health answer showed it a
// second before the evaluation: asked at that moment, answered 10 ms later,
// the node's clock off observerd's by off when it wrote the header 5 ms
// after the asking, to the second.
func nodeClockOff(i int, off time.Duration) func(*Input) {
	return func(in *Input) {
		asked := in.Now.Add(-time.Second)
		in.Nodes.Nodes[i].Clock = snapshot.ClockReading{
			Clock: asked.Add(5*time.Millisecond + off).Truncate(time.Second), Resolution: time.Second,
			Read: snapshot.Interval{Start: asked, End: asked.Add(10 * time.Millisecond)},
		}
	}
}

// exactClocks sets Redis's TIME to observerd's clock a second before the
// evaluation, read then in no time and exactly, and node-1's Date to that
// moment plus date, read readAt after it in no time: the node's clock minus
// Redis's is then between date-readAt and one second more.
func exactClocks(date, readAt time.Duration) func(*Input) {
	return func(in *Input) {
		base := in.Now.Add(-time.Second)
		in.Redis.Clock = snapshot.ClockReading{Clock: base, Read: snapshot.Interval{Start: base, End: base}}
		at := base.Add(readAt)
		in.Nodes.Nodes[0].Clock = snapshot.ClockReading{
			Clock: base.Add(date), Resolution: time.Second, Read: snapshot.Interval{Start: at, End: at},
		}
	}
}

// future sets the keys sampled after the walk, at Redis's clock, with
// entries counted beyond futureAfter.
func future(futureAfter time.Duration, ks ...snapshot.KeySample) func(*Input) {
	return func(in *Input) {
		in.Redis.Sampled, in.Redis.SampledAt, in.Redis.FutureAfter = ks, in.Now.Add(-time.Second), futureAfter
	}
}

func TestClockSkew(t *testing.T) {
	skewed := func(node, message string) seen {
		return seen{subject: node, message: message, sources: []string{node, SourceObserverd, source.Redis}}
	}
	ahead := func(node, least string) seen {
		return skewed(node, `^node "`+node+`"'s clock is at least `+least+` ahead of Redis's TIME, above the threshold of 2s$`)
	}
	behind := func(node, least string) seen {
		return skewed(node, `^node "`+node+`"'s clock is at least `+least+` behind Redis's TIME, above the threshold of 2s$`)
	}
	inFuture := func(message string) seen {
		return seen{subject: SubjectRedis, message: message, sources: []string{source.Redis}}
	}
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name:  "clocks in step",
			steps: []judgement{{give: both(redisClockOff(0), nodeClockOff(0, 0), nodeClockOff(1, 0))}},
		},
		// A Date is to the second and read over a round trip: a node is
		// reported only when even the most favourable reading is off by
		// more than the threshold.
		{
			name:  "a node 1.5 s ahead might be 1 s ahead",
			steps: []judgement{{give: both(redisClockOff(0), nodeClockOff(0, 1500*time.Millisecond))}},
		},
		{
			name:  "a node 2.5 s ahead might be 2 s ahead",
			steps: []judgement{{give: both(redisClockOff(0), nodeClockOff(0, 2500*time.Millisecond))}},
		},
		{
			name: "a node 3 s ahead",
			steps: []judgement{{
				give: both(redisClockOff(0), nodeClockOff(0, 3*time.Second)),
				// Date 3 s ahead, read within 10 ms; TIME read within 2 ms.
				want: []seen{ahead("node-1", `2\.989s`)},
			}},
		},
		{
			name:  "a node 3 s behind might be 2 s behind",
			steps: []judgement{{give: both(redisClockOff(0), nodeClockOff(1, -3*time.Second))}},
		},
		{
			name: "a node 3.5 s behind",
			steps: []judgement{{
				give: both(redisClockOff(0), nodeClockOff(1, -3500*time.Millisecond)),
				want: []seen{behind("node-2", `2\.999s`)},
			}},
		},
		{
			name: "redis's clock ahead puts every node behind",
			steps: []judgement{{
				give: both(redisClockOff(3500*time.Millisecond), nodeClockOff(0, 0), nodeClockOff(1, 0)),
				want: []seen{behind("node-1", `2\.499s`), behind("node-2", `2\.499s`)},
			}},
		},
		{
			name:  "a difference of exactly the threshold ahead",
			steps: []judgement{{give: exactClocks(2*time.Second, 0)}},
		},
		{
			name:  "a millisecond beyond the threshold ahead",
			steps: []judgement{{give: exactClocks(2*time.Second, -time.Millisecond), want: []seen{ahead("node-1", `2\.001s`)}}},
		},
		{
			name:  "a difference of exactly the threshold behind",
			steps: []judgement{{give: exactClocks(-3*time.Second, 0)}},
		},
		{
			name:  "a millisecond beyond the threshold behind",
			steps: []judgement{{give: exactClocks(-3*time.Second, time.Millisecond), want: []seen{behind("node-1", `2\.001s`)}}},
		},
		{
			name:  "a node without a Date is not judged",
			steps: []judgement{{give: both(redisClockOff(0), nodeClockOff(0, time.Minute), func(in *Input) { in.Nodes.Nodes[0].Clock = snapshot.ClockReading{} })}},
		},
		{
			name:  "nodes are not judged without Redis's TIME",
			steps: []judgement{{give: both(nodeClockOff(0, time.Minute), nodeClockOff(1, -time.Minute))}},
		},

		// Entries scored in the future.
		{
			name: "entries in the future with no node ahead are named on redis",
			steps: []judgement{{
				give: both(redisClockOff(0), nodeClockOff(0, 0), future(2*time.Second,
					snapshot.KeySample{Key: "a", Seq: 9, Future: 3, Ahead: 4200 * time.Millisecond},
					snapshot.KeySample{Key: "b", Seq: 4, Future: 1, Ahead: 2500 * time.Millisecond},
					snapshot.KeySample{Key: "c", Seq: 1, Ahead: -time.Second},
				)),
				want: []seen{inFuture(`^4 entries of 2 sampled keys are scored up to 4\.2s after Redis's clock, beyond the threshold of 2s; they count in their windows until Redis's clock passes them$`)},
			}},
		},
		{
			name: "entries in the future are named on the node ahead",
			steps: []judgement{{
				give: both(redisClockOff(0), nodeClockOff(0, 3*time.Second), future(2*time.Second,
					snapshot.KeySample{Key: "a", Seq: 9, Future: 3, Ahead: 2900 * time.Millisecond},
				)),
				want: []seen{skewed("node-1", `^node "node-1"'s clock is at least 2\.989s ahead of Redis's TIME, above the threshold of 2s; 3 entries of 1 sampled keys are scored up to 2\.9s in the future, as its checks write them$`)},
			}},
		},
		{
			name: "a node behind does not explain entries in the future",
			steps: []judgement{{
				give: both(redisClockOff(0), nodeClockOff(1, -4*time.Second), future(2*time.Second,
					snapshot.KeySample{Key: "a", Seq: 9, Future: 1, Ahead: 3 * time.Second},
				)),
				want: []seen{
					behind("node-2", `2\.999s`),
					inFuture(`^1 entries of 1 sampled keys are scored up to 3s after Redis's clock`),
				},
			}},
		},
		{
			name: "no entry beyond the threshold",
			steps: []judgement{{give: future(2*time.Second,
				snapshot.KeySample{Key: "a", Seq: 9, Ahead: 2 * time.Second},
				snapshot.KeySample{Key: "b", Seq: 9, Ahead: 500 * time.Millisecond},
			)}},
		},
		{
			name: "sampled with another margin, the newest entry of each key is judged",
			steps: []judgement{{
				give: future(time.Second,
					snapshot.KeySample{Key: "a", Seq: 9, Future: 7, Ahead: 2500 * time.Millisecond},
					snapshot.KeySample{Key: "b", Seq: 9, Future: 4, Ahead: 2 * time.Second},
				),
				want: []seen{inFuture(`^1 entries of 1 sampled keys are scored up to 2\.5s after`)},
			}},
		},
		{
			name: "without the ratelimiter source entries in the future are named on redis",
			steps: []judgement{{
				give: both(redisClockOff(0), nodeClockOff(0, 3*time.Second), future(2*time.Second,
					snapshot.KeySample{Key: "a", Seq: 9, Future: 3, Ahead: 2900 * time.Millisecond},
				), func(in *Input) { in.Enabled = []string{source.Redis, source.Prometheus}; in.Nodes = nil }),
				want: []seen{inFuture(`^3 entries of 1 sampled keys`)},
			}},
		},

		// Sources.
		{
			name: "stale redis is unknown, and a reported node is kept",
			steps: []judgement{
				{give: both(redisClockOff(0), nodeClockOff(0, 5*time.Second)), want: []seen{ahead("node-1", `4\.989s`)}},
				{at: 10 * time.Second, give: both(redisStale, redisClockOff(0)), want: []seen{{
					subject: "node-1", message: "ahead", sources: []string{"node-1", SourceObserverd, source.Redis}, kept: true,
				}}, unknown: true},
				{at: 20 * time.Second, give: both(redisClockOff(0), nodeClockOff(0, 0))},
			},
		},
		{
			name: "skew seen only in stale data is not raised",
			steps: []judgement{{
				give:    both(redisStale, redisClockOff(0), nodeClockOff(0, 5*time.Second)),
				unknown: true,
			}},
		},
		{
			name: "redis disabled is not judged",
			steps: []judgement{{give: func(in *Input) {
				in.Enabled = []string{source.Ratelimiter, source.Prometheus}
				delete(in.Snapshot.Sources, source.Redis)
				in.Fresh[source.Redis] = false
				in.Redis = nil
				nodeClockOff(0, time.Minute)(in)
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "clock_skew", tt.steps) })
	}
}

// TestClockSkewThreshold: the threshold bounds nodes and entries alike.
func TestClockSkewThreshold(t *testing.T) {
	cfg := noGrace()
	cfg.settings = cfg.settings.WithThreshold("clock_skew", 500*time.Millisecond)
	judge(t, cfg, "clock_skew", []judgement{{
		give: both(redisClockOff(0), nodeClockOff(0, 1500*time.Millisecond), future(500*time.Millisecond,
			snapshot.KeySample{Key: "a", Seq: 9, Future: 2, Ahead: 700 * time.Millisecond},
		)),
		want: []seen{{
			subject: "node-1",
			message: `^node "node-1"'s clock is at least 989ms ahead of Redis's TIME, above the threshold of 500ms; 2 entries of 1 sampled keys are scored up to 700ms in the future`,
			sources: []string{"node-1", SourceObserverd, source.Redis},
		}},
	}})
}

// TestClockSkewStaleNodes: while the nodes' answers are stale no node's
// clock can be judged, nor whether a node ahead explains entries in the
// future: a stale source turns neither red into green nor green into red.
func TestClockSkewStaleNodes(t *testing.T) {
	nodesStale := func(in *Input) { staleSource(in, source.Ratelimiter, "boom") }
	ahead := func(in *Input) {
		redisClockOff(0)(in)
		nodeClockOff(0, 5*time.Second)(in)
		future(2*time.Second, snapshot.KeySample{Key: "a", Seq: 9, Future: 3, Ahead: 4900 * time.Millisecond})(in)
	}
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name: "a reported node is kept",
			steps: []judgement{
				{give: ahead, want: []seen{{
					subject: "node-1", message: `^node "node-1"'s clock is at least 4\.989s ahead of Redis's TIME`,
					sources: []string{"node-1", SourceObserverd, source.Redis},
				}}},
				{at: 10 * time.Second, give: both(ahead, nodesStale), want: []seen{{
					subject: "node-1", message: "ahead", sources: []string{"node-1", SourceObserverd, source.Redis}, kept: true,
				}}, unknown: true},
			},
		},
		{
			name: "entries a node ahead may write are not named on redis",
			steps: []judgement{
				{give: both(ahead, nodesStale), unknown: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "clock_skew", tt.steps) })
	}
}
