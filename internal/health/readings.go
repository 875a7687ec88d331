package health

import (
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// The readings the evaluator keeps from earlier inputs for the checks that
// compare figures over time. Each is bounded: by a time span or a count,
// and by what the inputs still name.
const (
	// latencySpan is how far back redis_slow looks at round trips: a
	// Redis that stalls again and again is slow between the stalls too,
	// and a verdict that flapped with each reading would never outlast a
	// grace period.
	latencySpan = 10 * time.Second
	// seqSpan is how long sequence readings are kept: hot_key looks one
	// minute back, over_throttling its recent window.
	seqSpan = 70 * time.Second
	// countReadings is how many readings of counts are kept per reader
	// (Redis, each node): enough that a node's reading is usually
	// bracketed by two of Redis's.
	countReadings = 6
)

// latencyReading is one poll's Redis round trips.
type latencyReading struct {
	at         time.Time
	ping, walk time.Duration
}

// seqReading is one sample of a key's sequence value, at Redis's clock.
type seqReading struct {
	at           time.Time
	seq          int64
	count, limit int64
}

// countsReading is one reader's counts of keys and when it read them.
type countsReading struct {
	read   snapshot.Interval
	counts map[string]int64
}

// cutOff is a node seen unable to reach Redis since a moment, with the
// first reading of its allowed counter scraped after that moment.
type cutOff struct {
	since    time.Time
	why      string
	baseline float64
	scraped  time.Time
}

// readings are the figures kept across inputs.
type readings struct {
	latency    []latencyReading
	seqs       map[string][]seqReading
	seqAt      time.Time
	redisCount []countsReading
	nodeCount  map[string][]countsReading
	cut        map[string]*cutOff
}

func newReadings() readings {
	return readings{
		seqs:      make(map[string][]seqReading),
		nodeCount: make(map[string][]countsReading),
		cut:       make(map[string]*cutOff),
	}
}

// record adds what v holds that is new.
func (r *readings) record(v *View) {
	if v.enabled[source.Redis] && v.fresh[source.Redis] && v.redis != nil {
		r.recordRedis(v)
	}
	r.recordNodes(v)
}

func (r *readings) recordRedis(v *View) {
	at := v.redisAt()
	if n := len(r.latency); n == 0 || at.After(r.latency[n-1].at) {
		ping := time.Duration(0)
		if v.snap.Redis.Ping.Valid {
			ping = v.snap.Redis.Ping.Duration
		}
		r.latency = append(r.latency, latencyReading{at: at, ping: ping, walk: v.redis.WalkLatency})
	}
	r.latency = dropBefore(r.latency, v.now.Add(-latencySpan), func(l latencyReading) time.Time { return l.at }, 1)

	if sec := v.redis; !sec.SampledAt.IsZero() && sec.SampledAt.After(r.seqAt) {
		r.seqAt = sec.SampledAt
		for _, s := range sec.Sampled {
			if s.Seq < 0 {
				continue
			}
			rs := r.seqs[s.Key]
			if n := len(rs); n > 0 && s.Seq < rs[n-1].seq {
				rs = rs[:0] // reset: the key started again
			}
			r.seqs[s.Key] = append(rs, seqReading{at: sec.SampledAt, seq: s.Seq, count: s.Count, limit: s.Limit})
		}
	}
	for k, rs := range r.seqs {
		rs = dropBefore(rs, r.seqAt.Add(-seqSpan), func(s seqReading) time.Time { return s.at }, 0)
		if len(rs) == 0 {
			delete(r.seqs, k)
			continue
		}
		r.seqs[k] = rs
	}

	if v.redis.KeyCounts != nil {
		rd := readAtOr(v.redis.KeyCountsRead, v.now)
		if n := len(r.redisCount); n == 0 || rd.Start.After(r.redisCount[n-1].read.Start) {
			r.redisCount = lastN(append(r.redisCount, countsReading{read: rd, counts: v.redis.KeyCounts}), countReadings)
		}
	}
}

// readAtOr is when a reading was taken, or the instant now for a reading
// that does not say.
func readAtOr(read snapshot.Interval, now time.Time) snapshot.Interval {
	if read.Start.IsZero() || read.End.IsZero() {
		return snapshot.Interval{Start: now, End: now}
	}
	return read
}

func (r *readings) recordNodes(v *View) {
	if v.nodes == nil {
		return
	}
	present := make(map[string]bool, len(v.nodes.Nodes))
	for _, n := range v.nodes.Nodes {
		subject := n.Name()
		present[subject] = true
		if n.Counters == nil {
			continue
		}
		read := readAtOr(n.CountersRead, v.now)
		rs := r.nodeCount[subject]
		if k := len(rs); k > 0 && !read.Start.After(rs[k-1].read.Start) {
			continue
		}
		counts := make(map[string]int64, len(n.Counters))
		for _, c := range n.Counters {
			counts[c.Key] = c.Count
		}
		r.nodeCount[subject] = lastN(append(rs, countsReading{read: read, counts: counts}), countReadings)
	}
	for s := range r.nodeCount {
		if !present[s] {
			delete(r.nodeCount, s)
		}
	}
	for s := range r.cut {
		if !present[s] {
			delete(r.cut, s)
		}
	}
}

// dropBefore drops the leading items older than t, keeping at least keep.
func dropBefore[T any](s []T, t time.Time, at func(T) time.Time, keep int) []T {
	i := 0
	for i < len(s)-keep && at(s[i]).Before(t) {
		i++
	}
	if i == 0 {
		return s
	}
	return append(s[:0:0], s[i:]...)
}

// lastN keeps the last n items of s.
func lastN[T any](s []T, n int) []T {
	if len(s) <= n {
		return s
	}
	return append(s[:0:0], s[len(s)-n:]...)
}

// seqRate is a key's sequence increase per second over the readings of the
// last span before its newest, and the readings it is taken from; ok is
// false without two readings at least minSpan apart.
func seqRate(rs []seqReading, span, minSpan time.Duration) (rate float64, first, last seqReading, ok bool) {
	if len(rs) < 2 {
		return 0, seqReading{}, seqReading{}, false
	}
	last = rs[len(rs)-1]
	first = rs[0]
	for _, r := range rs {
		if !r.at.Before(last.at.Add(-span)) {
			first = r
			break
		}
	}
	d := last.at.Sub(first.at)
	if d < minSpan {
		return 0, seqReading{}, seqReading{}, false
	}
	return float64(last.seq-first.seq) / d.Seconds(), first, last, true
}
