// Package exporter re-exports the current snapshot as Prometheus metrics.
package exporter

import (
	"runtime"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// Loader gives the current published snapshot, or nil before the first.
type Loader interface {
	Load() *snapshot.Published
}

// Options configures a Collector.
type Options struct {
	// Version and Revision go into observerd_build_info.
	Version  string
	Revision string
	// KeepStale exports a stale source's last values instead of withholding
	// them, so that Prometheus would record old values as fresh: off by
	// default.
	KeepStale bool
	// SubjectsLimit is, per invariant, the most subjects exported; the rest
	// fold into one series with subject="other" whose value is their number.
	SubjectsLimit int
	// Invariants are every invariant's name, so that their counts are
	// exported as 0 while they hold nowhere.
	Invariants []string
}

// Collector is a prometheus.Collector over the current snapshot: one Load
// per Collect, so that every series of a scrape comes from one snapshot, and
// series that vanish from the snapshot vanish from the scrape.
type Collector struct {
	store Loader
	opts  Options
	d     descs
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector over store.
func NewCollector(store Loader, opts Options) *Collector {
	if opts.SubjectsLimit < 1 {
		opts.SubjectsLimit = 1
	}
	return &Collector{store: store, opts: opts, d: newDescs()}
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect sends the metrics of the current snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.d
	ch <- prometheus.MustNewConstMetric(d.buildInfo, prometheus.GaugeValue, 1, c.opts.Version, c.opts.Revision, runtime.Version())
	p := c.store.Load()
	if p == nil {
		return
	}
	s := p.Snapshot
	ch <- prometheus.MustNewConstMetric(d.sequence, prometheus.GaugeValue, float64(s.Sequence))
	ch <- prometheus.MustNewConstMetric(d.age, prometheus.GaugeValue, time.Since(s.GeneratedAt).Seconds())
	c.collectSources(ch, s)
	c.collectNodes(ch, s)
	c.collectRedis(ch, s)
	c.collectLimits(ch, s)
	c.collectCounters(ch, s)
	if c.fresh(s, source.Prometheus) {
		gaugeIfValid(ch, d.trafficAllowed, s.Traffic.AllowedPerSecond)
		gaugeIfValid(ch, d.trafficBlocked, s.Traffic.BlockedPerSecond)
	}
	c.collectViolations(ch, s)
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

func (c *Collector) collectSources(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	d := &c.d
	for name, st := range s.Sources {
		up := 0.0
		if st.Status == snapshot.StatusOK {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(d.sourceUp, prometheus.GaugeValue, up, name)
		if st.LastSuccess != nil {
			ch <- prometheus.MustNewConstMetric(d.sourceLastSuccess, prometheus.GaugeValue, float64(st.LastSuccess.UnixNano())/1e9, name)
		}
		if st.LastAttempt != nil {
			ch <- prometheus.MustNewConstMetric(d.sourceDuration, prometheus.GaugeValue, st.Duration.Seconds(), name)
		}
		ch <- prometheus.MustNewConstMetric(d.sourceFailures, prometheus.CounterValue, float64(st.FailuresTotal), name)
		ch <- prometheus.MustNewConstMetric(d.sourceConsecutive, prometheus.GaugeValue, float64(st.ConsecutiveFailures), name)
	}
}

func (c *Collector) collectNodes(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	d := &c.d
	apiFresh := c.fresh(s, source.Ratelimiter)
	redisFresh := c.fresh(s, source.Redis)
	promFresh := c.fresh(s, source.Prometheus)
	for _, n := range s.Nodes {
		name := n.Name()
		if apiFresh || redisFresh {
			ch <- prometheus.MustNewConstMetric(d.nodeUp, prometheus.GaugeValue, boolValue(n.Reachable), name, n.Address)
		}
		if redisFresh {
			ch <- prometheus.MustNewConstMetric(d.nodeRegistered, prometheus.GaugeValue, boolValue(n.Registered), name, n.Address)
		}
		if apiFresh {
			secondsIfValid(ch, d.nodeHealthLatency, n.HealthLatency, name)
		}
		if promFresh {
			secondsIfValid(ch, d.nodeP99, n.CheckLatencyP99, name)
			gaugeIfValid(ch, d.nodeAllowed, n.AllowedPerSecond, name)
			gaugeIfValid(ch, d.nodeBlocked, n.BlockedPerSecond, name)
		}
	}
}

func (c *Collector) collectRedis(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	d := &c.d
	if _, enabled := s.Sources[source.Redis]; !enabled {
		return
	}
	ch <- prometheus.MustNewConstMetric(d.redisUp, prometheus.GaugeValue, boolValue(s.Redis.Connected))
	if !c.fresh(s, source.Redis) {
		return
	}
	secondsIfValid(ch, d.redisPing, s.Redis.Ping)
	ch <- prometheus.MustNewConstMetric(d.redisMemory, prometheus.GaugeValue, float64(s.Redis.UsedMemoryBytes))
	ch <- prometheus.MustNewConstMetric(d.redisClients, prometheus.GaugeValue, float64(s.Redis.ConnectedClients))
	ch <- prometheus.MustNewConstMetric(d.redisDBKeys, prometheus.GaugeValue, float64(s.Redis.DBKeys))
}

func (c *Collector) collectLimits(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
	d := &c.d
	ch <- prometheus.MustNewConstMetric(d.limitDefault, prometheus.GaugeValue, float64(s.Limits.DefaultLimit))
	ch <- prometheus.MustNewConstMetric(d.limitWindow, prometheus.GaugeValue, s.Limits.DefaultWindow.Seconds())
	if c.fresh(s, source.Redis) {
		ch <- prometheus.MustNewConstMetric(d.limitOverrides, prometheus.GaugeValue, float64(len(s.Limits.Overrides)))
	}
}

func (c *Collector) collectCounters(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
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
		{d.counterOverLimit, k.OverLimitKeys}, {d.counterNoTTL, k.KeysWithoutTTL},
		{d.counterOrphanSeq, k.OrphanSequenceKeys}, {d.counterWrongType, k.WrongTypeKeys},
	} {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(m.v))
	}
	for _, t := range k.Top {
		ch <- prometheus.MustNewConstMetric(d.keyRequests, prometheus.GaugeValue, float64(t.Count), t.Key)
		ch <- prometheus.MustNewConstMetric(d.keyLimit, prometheus.GaugeValue, float64(t.Limit), t.Key)
	}
}

// collectViolations exports one series per active violation, at most
// SubjectsLimit per invariant and severity, the rest folded into "other".
func (c *Collector) collectViolations(ch chan<- prometheus.Metric, s *snapshot.Snapshot) {
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
		ch <- prometheus.MustNewConstMetric(d.violation, prometheus.GaugeValue, 1, v.Invariant, v.Subject, v.Severity)
	}
	for g, n := range folded {
		ch <- prometheus.MustNewConstMetric(d.violation, prometheus.GaugeValue, float64(n), g.invariant, "other", g.severity)
	}
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, name)
	}
	sort.Strings(names)
	unknown := make(map[string]bool, len(s.Unknown))
	for _, u := range s.Unknown {
		unknown[u.Invariant] = true
	}
	for _, name := range names {
		ch <- prometheus.MustNewConstMetric(d.violations, prometheus.GaugeValue, float64(counts[name]), name)
		ch <- prometheus.MustNewConstMetric(d.unknown, prometheus.GaugeValue, boolValue(unknown[name]), name)
	}
}

func gaugeIfValid(ch chan<- prometheus.Metric, desc *prometheus.Desc, v snapshot.Float, labels ...string) {
	if !v.Valid() {
		return
	}
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v), labels...)
}

// secondsIfValid exports a known duration in seconds, the unit of every
// duration observerd exports.
func secondsIfValid(ch chan<- prometheus.Metric, desc *prometheus.Desc, d snapshot.Duration, labels ...string) {
	if !d.Valid {
		return
	}
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, d.Seconds(), labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
