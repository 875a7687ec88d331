package poll

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runners' own metrics, shared by every runner of one
// observerd. A nil *Metrics records nothing.
type Metrics struct {
	pollDuration *prometheus.HistogramVec
}

// NewMetrics creates the runners' metrics and registers them on reg. It
// fails, rather than panicking, when they are registered there already.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("poll metrics: no registerer")
	}
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "observerd",
		Name:      "poll_duration_seconds",
		Help:      "Duration of each poll of a source, successful or not.",
		// From a loopback answer in a millisecond to a keyspace walk that
		// takes most of a long deadline.
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"source"})
	if err := reg.Register(h); err != nil {
		return nil, fmt.Errorf("poll metrics: register observerd_poll_duration_seconds: %w", err)
	}
	return &Metrics{pollDuration: h}, nil
}

// addSource creates source's series, so that it is exported with a zero
// count before its first poll ends.
func (m *Metrics) addSource(source string) {
	if m == nil {
		return
	}
	m.pollDuration.WithLabelValues(source)
}

// observePoll records one finished poll of source.
func (m *Metrics) observePoll(source string, d time.Duration) {
	if m == nil {
		return
	}
	m.pollDuration.WithLabelValues(source).Observe(d.Seconds())
}
