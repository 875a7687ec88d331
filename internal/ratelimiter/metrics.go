package ratelimiter

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the node's own series, on a registry private to the node so
// that several nodes can live in one process. They carry no node label: a
// series is tied to a node by the target labels Prometheus adds.
type metrics struct {
	reg              *prometheus.Registry
	allowed, blocked prometheus.Counter // ratelimiter_requests_checked_total by result
	checkDuration    prometheus.Histogram
	nodeUp           prometheus.Gauge
	activeCounters   prometheus.Gauge
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	f := promauto.With(reg)
	checked := f.NewCounterVec(prometheus.CounterOpts{
		Name: "ratelimiter_requests_checked_total",
		Help: "Rate limit checks by result.",
	}, []string{"result"})
	return &metrics{
		reg: reg,
		// Both results exist from the start, as a scrape of an idle node shows.
		allowed: checked.WithLabelValues("allowed"),
		blocked: checked.WithLabelValues("blocked"),
		checkDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "ratelimiter_check_duration_seconds",
			Help: "Time to answer one rate limit check.",
			// The buckets of the contract, in seconds.
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}),
		nodeUp: f.NewGauge(prometheus.GaugeOpts{
			Name: "ratelimiter_node_up",
			Help: "1 while the node serves.",
		}),
		activeCounters: f.NewGauge(prometheus.GaugeOpts{
			Name: "ratelimiter_active_counters",
			Help: "Counters listed by the last /api/counters answer.",
		}),
	}
}
