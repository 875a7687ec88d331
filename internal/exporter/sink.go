package exporter

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/snapshot"
)

// sink sends the metrics of one Collect. It drops a series whose label
// values are invalid (not UTF-8) or repeat those of an earlier series of
// the same metric (two peer names that read the same once cleaned, see
// names.Clean): either would fail the whole scrape, and no value from a
// peer may. The Store publishes clean names, so a drop is a bug or a
// collision, counted here and logged by the Collector.
type sink struct {
	ch   chan<- prometheus.Metric
	seen map[series]struct{} // labelled series sent so far
	// dropped counts the series dropped; first and firstMetric say why
	// the first was.
	dropped            int
	first, firstMetric string
}

// series is one labelled series: its metric and its label values, joined
// by a byte that valid UTF-8 never holds.
type series struct {
	desc   *prometheus.Desc
	labels string
}

func (s *sink) gauge(desc *prometheus.Desc, v float64, labels ...string) {
	s.send(desc, prometheus.GaugeValue, v, labels)
}

func (s *sink) counter(desc *prometheus.Desc, v float64, labels ...string) {
	s.send(desc, prometheus.CounterValue, v, labels)
}

func (s *sink) send(desc *prometheus.Desc, vt prometheus.ValueType, v float64, labels []string) {
	m, err := prometheus.NewConstMetric(desc, vt, v, labels...)
	if err != nil {
		s.drop(desc, err.Error())
		return
	}
	if len(labels) > 0 {
		id := series{desc: desc, labels: strings.Join(labels, "\xff")}
		if _, dup := s.seen[id]; dup {
			s.drop(desc, "label values repeat an earlier series: "+strings.Join(labels, ", "))
			return
		}
		if s.seen == nil {
			s.seen = make(map[series]struct{})
		}
		s.seen[id] = struct{}{}
	}
	s.ch <- m
}

func (s *sink) drop(desc *prometheus.Desc, why string) {
	s.dropped++
	if s.dropped == 1 {
		// Bounded: the reason may quote a raw name of any length.
		s.first, s.firstMetric = names.Clean(why, names.DefaultMaxBytes), desc.String()
	}
}

func (s *sink) gaugeIfValid(desc *prometheus.Desc, v snapshot.Float, labels ...string) {
	if !v.Valid() {
		return
	}
	s.gauge(desc, float64(v), labels...)
}

// secondsIfValid exports a known duration in seconds, the unit of every
// duration observerd exports.
func (s *sink) secondsIfValid(desc *prometheus.Desc, d snapshot.Duration, labels ...string) {
	if !d.Valid {
		return
	}
	s.gauge(desc, d.Seconds(), labels...)
}
