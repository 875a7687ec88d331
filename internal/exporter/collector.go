// Package exporter re-exports the current snapshot as Prometheus metrics.
package exporter

import (
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// Loader gives the current published snapshot, or nil before the first.
type Loader interface {
	Load() *snapshot.Published
}

// Options configures a Collector.
type Options struct {
	// KeepStale exports a stale source's last values instead of withholding
	// them, so that Prometheus would record old values as fresh: off by
	// default.
	KeepStale bool
	// SubjectsLimit is, per invariant, the most subjects exported; the rest
	// fold into one series with subject="other" whose value is their number.
	SubjectsLimit int
	// OmitKeySeries leaves out the two per-key families,
	// observerd_counter_requests{key} and observerd_counter_limit{key}:
	// neither is described nor collected, for clusters whose key names
	// must not reach Prometheus (OBSERVERD_EXPORT_KEY_SERIES=false). The
	// aggregates stay, and so does the top list of /snapshot.
	OmitKeySeries bool
	// Invariants are every invariant's name, so that their counts are
	// exported as 0 while they hold nowhere.
	Invariants []string
	// Logger is warned when a scrape drops series (see sink), once each
	// time their number changes; nil discards it.
	Logger *zap.Logger
}

// Collector is a prometheus.Collector over the current snapshot: one Load
// per Collect, so that every series of a scrape comes from one snapshot, and
// series that vanish from the snapshot vanish from the scrape.
type Collector struct {
	store Loader
	opts  Options
	d     descs
	// lastDropped is how many series the last scrape dropped, to log
	// changes only: a bad name stays for many scrapes.
	lastDropped atomic.Int64
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector over store.
func NewCollector(store Loader, opts Options) *Collector {
	opts.SubjectsLimit = max(opts.SubjectsLimit, 1)
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Collector{store: store, opts: opts, d: newDescs()}
}

// Describe sends the descriptor of every metric the Collector may export:
// all of them but the per-key ones under OmitKeySeries.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all {
		if c.opts.OmitKeySeries && c.d.perKey(d) {
			continue
		}
		ch <- d
	}
}

// Collect sends the metrics of the current snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.d
	out := &sink{ch: ch}
	defer c.logDropped(out)
	p := c.store.Load()
	if p == nil {
		return
	}
	s := p.Snapshot
	out.gauge(d.sequence, float64(s.Sequence))
	out.gauge(d.age, time.Since(s.GeneratedAt).Seconds())
	c.collectSources(out, s)
	c.collectNodes(out, s)
	c.collectRedis(out, s)
	c.collectLimits(out, s)
	c.collectCounters(out, s)
	if c.fresh(s, source.Prometheus) {
		out.gaugeIfValid(d.trafficAllowed, s.Traffic.AllowedPerSecond)
		out.gaugeIfValid(d.trafficBlocked, s.Traffic.BlockedPerSecond)
	}
	c.collectViolations(out, s)
}

// logDropped logs a change in the number of series a scrape dropped.
func (c *Collector) logDropped(out *sink) {
	n := int64(out.dropped)
	if c.lastDropped.Swap(n) == n {
		return
	}
	if n == 0 {
		c.opts.Logger.Info("series no longer dropped from the scrape")
		return
	}
	c.opts.Logger.Warn("series dropped from the scrape", zap.Int64("series", n),
		zap.String("first", out.first), zap.String("metric", out.firstMetric))
}

// fresh reports whether a source's values may be exported: it is enabled
// and fresh, or stale values were asked for and there are some.
func (c *Collector) fresh(s *snapshot.Snapshot, source string) bool {
	st, ok := s.Sources[source]
	if !ok {
		return false
	}
	if st.Status == snapshot.StatusOK {
		return true
	}
	return c.opts.KeepStale && st.LastSuccess != nil
}

func (c *Collector) collectSources(out *sink, s *snapshot.Snapshot) {
	d := &c.d
	for name, st := range s.Sources {
		out.gauge(d.sourceUp, boolValue(st.Status == snapshot.StatusOK), name)
		if st.LastSuccess != nil {
			out.gauge(d.sourceLastSuccess, float64(st.LastSuccess.UnixNano())/1e9, name)
		}
		if st.LastAttempt != nil {
			out.gauge(d.sourceDuration, st.Duration.Seconds(), name)
		}
		out.counter(d.sourceFailures, float64(st.FailuresTotal), name)
		out.gauge(d.sourceConsecutive, float64(st.ConsecutiveFailures), name)
	}
}

func (c *Collector) collectNodes(out *sink, s *snapshot.Snapshot) {
	d := &c.d
	apiFresh := c.fresh(s, source.Ratelimiter)
	redisFresh := c.fresh(s, source.Redis)
	promFresh := c.fresh(s, source.Prometheus)
	for _, n := range s.Nodes {
		name := n.Name()
		if apiFresh || redisFresh {
			out.gauge(d.nodeUp, boolValue(n.Reachable), name, n.Address)
		}
		if redisFresh {
			out.gauge(d.nodeRegistered, boolValue(n.Registered), name, n.Address)
		}
		if apiFresh {
			out.secondsIfValid(d.nodeHealthLatency, n.HealthLatency, name)
		}
		if promFresh {
			out.secondsIfValid(d.nodeP99, n.CheckLatencyP99, name)
			out.gaugeIfValid(d.nodeAllowed, n.AllowedPerSecond, name)
			out.gaugeIfValid(d.nodeBlocked, n.BlockedPerSecond, name)
		}
	}
}

func (c *Collector) collectRedis(out *sink, s *snapshot.Snapshot) {
	d := &c.d
	if _, enabled := s.Sources[source.Redis]; !enabled {
		return
	}
	out.gauge(d.redisUp, boolValue(s.Redis.Connected))
	if !c.fresh(s, source.Redis) {
		return
	}
	out.secondsIfValid(d.redisPing, s.Redis.Ping)
	out.gauge(d.redisMemory, float64(s.Redis.UsedMemoryBytes))
	out.gauge(d.redisClients, float64(s.Redis.ConnectedClients))
	out.gauge(d.redisDBKeys, float64(s.Redis.DBKeys))
}

func (c *Collector) collectLimits(out *sink, s *snapshot.Snapshot) {
	d := &c.d
	out.gauge(d.limitDefault, float64(s.Limits.DefaultLimit))
	out.gauge(d.limitWindow, s.Limits.DefaultWindow.Seconds())
	if c.fresh(s, source.Redis) {
		out.gauge(d.limitOverrides, float64(len(s.Limits.Overrides)))
	}
}

func (c *Collector) collectCounters(out *sink, s *snapshot.Snapshot) {
	d := &c.d
	if !c.fresh(s, source.Redis) {
		return
	}
	k := s.Counters
	for _, m := range []struct {
		desc *prometheus.Desc
		v    int64
	}{
		{d.counterKeys, k.Keys}, {d.counterRequests, k.RequestsInWindow}, {d.counterBlocked, k.BlockedKeys},
		{d.counterOverLimit, k.OverLimitKeys}, {d.counterNoTTL, k.KeysWithoutTTL}, {d.counterLongTTL, k.KeysTTLBeyondWindow},
		{d.counterOrphanSeq, k.OrphanSequenceKeys}, {d.counterWrongType, k.WrongTypeKeys}, {d.counterNearLimit, k.NearLimitKeys},
	} {
		out.gauge(m.desc, float64(m.v))
	}
	if w := k.Walk; w != nil {
		out.secondsIfValid(d.walkDuration, w.Duration)
		out.gaugeIfValid(d.walkPace, w.KeysPerSecond)
		out.gaugeIfValid(d.walkShare, w.RedisShare)
		out.gaugeIfValid(d.walkBudget, w.Budget)
	}
	if c.opts.OmitKeySeries {
		return
	}
	for _, t := range k.Top {
		out.gauge(d.keyRequests, float64(t.Count), t.Key)
		out.gauge(d.keyLimit, float64(t.Limit), t.Key)
	}
}

// collectViolations exports one series per active violation, at most
// SubjectsLimit per invariant and severity, the rest folded into "other".
func (c *Collector) collectViolations(out *sink, s *snapshot.Snapshot) {
	d := &c.d
	counts := make(map[string]int, len(c.opts.Invariants))
	for _, name := range c.opts.Invariants {
		counts[name] = 0
	}
	type group struct{ invariant, severity string }
	shown := map[group]int{}
	folded := map[group]int{}
	for _, v := range s.Violations {
		counts[v.Invariant]++
		g := group{v.Invariant, v.Severity}
		if shown[g] >= c.opts.SubjectsLimit {
			folded[g]++
			continue
		}
		shown[g]++
		out.gauge(d.violation, 1, v.Invariant, v.Subject, v.Severity)
	}
	for g, n := range folded {
		out.gauge(d.violation, float64(n), g.invariant, "other", g.severity)
	}
	unknown := make(map[string]bool, len(s.Unknown))
	for _, u := range s.Unknown {
		unknown[u.Invariant] = true
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		out.gauge(d.violations, float64(counts[name]), name)
		out.gauge(d.unknown, boolValue(unknown[name]), name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
