package poll

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	promclient "github.com/observerd/observerd/internal/clients/prometheus"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// Names of the Prometheus queries, the keys of
// snapshot.PrometheusSection.QueryErrors.
const (
	PromQueryCheckLatencyP99   = "check_latency_p99"
	PromQueryAllowedByInstance = "allowed_by_instance"
	PromQueryBlockedByInstance = "blocked_by_instance"
	PromQueryAllowedTotal      = "allowed_total"
	PromQueryBlockedTotal      = "blocked_total"
	PromQueryUp                = "up"
	PromQueryAllowedRecent     = "allowed_recent"
	PromQueryBlockedRecent     = "blocked_recent"
	PromQueryAllowedCounter    = "allowed_counter_by_instance"
	PromQueryAllowedScraped    = "allowed_counter_scraped_by_instance"
)

// instanceLabel ties a series to a node: the metrics carry no node label,
// only the target labels Prometheus adds (docs/contract.md).
const instanceLabel = "instance"

// Queries are the PromQL expressions the Prometheus poller runs. The
// per-instance ones must answer an instant vector with one series per
// instance label; the totals a vector (summed) or a scalar. An empty
// expression disables that query and leaves its fields null.
type Queries struct {
	// P99 is the check latency's 99th percentile per instance, in seconds.
	P99 string
	// AllowedByInstance and BlockedByInstance are per-second rates of
	// checks per instance.
	AllowedByInstance string
	BlockedByInstance string
	// AllowedTotal and BlockedTotal are per-second rates over the cluster.
	AllowedTotal string
	BlockedTotal string
	// Up is the scrape health of each node target.
	Up string
	// AllowedRecent and BlockedRecent are per-second rates over the
	// cluster in the recent window (30 s by default), short enough that a
	// burst of a minute shows.
	AllowedRecent string
	BlockedRecent string
	// AllowedCounter is each instance's allowed checks counter itself,
	// and AllowedScraped the Unix time of its last scrape.
	AllowedCounter string
	AllowedScraped string
}

// DefaultQueries are the queries for the contract's node metrics, with the
// nodes scraped by the given job (OBSERVERD_PROMETHEUS_JOB).
func DefaultQueries(job string) Queries {
	return Queries{
		P99:               `histogram_quantile(0.99, sum by (instance, le) (rate(ratelimiter_check_duration_seconds_bucket[1m])))`,
		AllowedByInstance: `sum by (instance) (rate(ratelimiter_requests_checked_total{result="allowed"}[1m]))`,
		BlockedByInstance: `sum by (instance) (rate(ratelimiter_requests_checked_total{result="blocked"}[1m]))`,
		AllowedTotal:      `sum(rate(ratelimiter_requests_checked_total{result="allowed"}[1m]))`,
		BlockedTotal:      `sum(rate(ratelimiter_requests_checked_total{result="blocked"}[1m]))`,
		Up:                fmt.Sprintf("up{job=%q}", job),
		AllowedRecent:     `sum(rate(ratelimiter_requests_checked_total{result="allowed"}[30s]))`,
		BlockedRecent:     `sum(rate(ratelimiter_requests_checked_total{result="blocked"}[30s]))`,
		AllowedCounter:    `sum by (instance) (ratelimiter_requests_checked_total{result="allowed"})`,
		AllowedScraped:    `max by (instance) (timestamp(ratelimiter_requests_checked_total{result="allowed"}))`,
	}
}

// PrometheusConfig configures a PrometheusPoller.
type PrometheusConfig struct {
	Client  *promclient.Client
	Queries Queries
}

// PrometheusPoller asks Prometheus about the nodes: check latency, request
// rates and scrape health per instance, and the cluster's total rates.
type PrometheusPoller struct {
	client  *promclient.Client
	queries []promQuery
}

var _ Poller = (*PrometheusPoller)(nil)

// promQuery is one configured query and how its answer fills a section.
type promQuery struct {
	name  string
	expr  string
	apply func(*snapshot.PrometheusSection, promclient.Result) error
}

// NewPrometheusPoller checks cfg and returns the poller.
func NewPrometheusPoller(cfg PrometheusConfig) (*PrometheusPoller, error) {
	if cfg.Client == nil {
		return nil, errors.New("prometheus poller: no client")
	}
	q := cfg.Queries
	all := []promQuery{
		{PromQueryCheckLatencyP99, q.P99, perInstance(promclient.LatencyRange, func(s *snapshot.InstanceStats, v snapshot.Float) { s.CheckLatencyP99 = seconds(v) })},
		{PromQueryAllowedByInstance, q.AllowedByInstance, perInstance(promclient.RateRange, func(s *snapshot.InstanceStats, v snapshot.Float) { s.AllowedPerSecond = v })},
		{PromQueryBlockedByInstance, q.BlockedByInstance, perInstance(promclient.RateRange, func(s *snapshot.InstanceStats, v snapshot.Float) { s.BlockedPerSecond = v })},
		{PromQueryAllowedTotal, q.AllowedTotal, total(promclient.RateRange, func(sec *snapshot.PrometheusSection, v snapshot.Float) { sec.AllowedPerSecond = v })},
		{PromQueryBlockedTotal, q.BlockedTotal, total(promclient.RateRange, func(sec *snapshot.PrometheusSection, v snapshot.Float) { sec.BlockedPerSecond = v })},
		{PromQueryUp, q.Up, perInstance(promclient.UpRange, func(s *snapshot.InstanceStats, v snapshot.Float) { s.Up = new(v == 1) })},
		{PromQueryAllowedRecent, q.AllowedRecent, total(promclient.RateRange, func(sec *snapshot.PrometheusSection, v snapshot.Float) { sec.AllowedRecent = v })},
		{PromQueryBlockedRecent, q.BlockedRecent, total(promclient.RateRange, func(sec *snapshot.PrometheusSection, v snapshot.Float) { sec.BlockedRecent = v })},
		{PromQueryAllowedCounter, q.AllowedCounter, perInstance(promclient.CounterRange, func(s *snapshot.InstanceStats, v snapshot.Float) { s.AllowedTotal = v })},
		{PromQueryAllowedScraped, q.AllowedScraped, perInstance(promclient.TimestampRange, func(s *snapshot.InstanceStats, v snapshot.Float) {
			if v.Valid() {
				s.AllowedScraped = time.UnixMilli(int64(float64(v) * 1000)).UTC()
			}
		})},
	}
	p := &PrometheusPoller{client: cfg.Client, queries: slices.DeleteFunc(all, func(q promQuery) bool { return q.expr == "" })}
	if len(p.queries) == 0 {
		return nil, errors.New("prometheus poller: every query is empty")
	}
	return p, nil
}

// Name implements Poller.
func (*PrometheusPoller) Name() string { return source.Prometheus }

// Poll runs every query at once and merges the answers. A query that fails
// while others succeed is recorded in QueryErrors and its fields stay
// null; the poll fails only when every query failed.
func (p *PrometheusPoller) Poll(ctx context.Context) (snapshot.Section, error) {
	results := make([]promclient.Result, len(p.queries))
	errs := make([]error, len(p.queries))
	var wg sync.WaitGroup
	for i, q := range p.queries {
		wg.Go(func() { results[i], errs[i] = p.client.Query(ctx, q.expr) })
	}
	wg.Wait()

	sec := &snapshot.PrometheusSection{
		Instances:        make(map[string]snapshot.InstanceStats),
		AllowedPerSecond: snapshot.Null(),
		BlockedPerSecond: snapshot.Null(),
		AllowedRecent:    snapshot.Null(),
		BlockedRecent:    snapshot.Null(),
	}
	var first error
	for i, q := range p.queries {
		err := errs[i]
		if err == nil {
			err = q.apply(sec, results[i])
		}
		if err == nil {
			continue
		}
		if first == nil {
			first = fmt.Errorf("query %s: %w", q.name, err)
			sec.QueryErrors = make(map[string]string)
		}
		sec.QueryErrors[q.name] = err.Error()
	}
	if len(sec.QueryErrors) == len(p.queries) {
		return nil, fmt.Errorf("poll prometheus: all %d queries failed; %w", len(p.queries), first)
	}
	return sec, nil
}

// perInstance applies a vector answer to the instances by their instance
// label. The answer is checked whole before anything is set, so that a
// rejected answer leaves the section as it was.
func perInstance(rg promclient.Range, set func(*snapshot.InstanceStats, snapshot.Float)) func(*snapshot.PrometheusSection, promclient.Result) error {
	return func(sec *snapshot.PrometheusSection, res promclient.Result) error {
		if err := res.Check(rg); err != nil {
			return err
		}
		if res.Type != promclient.ResultVector {
			return fmt.Errorf("answer is a %s, want a vector by %s", res.Type, instanceLabel)
		}
		for _, s := range res.Vector {
			if s.Labels[instanceLabel] == "" {
				return fmt.Errorf("a series has no %s label: group the query by %s", instanceLabel, instanceLabel)
			}
		}
		for _, s := range res.Vector {
			inst := s.Labels[instanceLabel]
			stats, ok := sec.Instances[inst]
			if !ok { // Prometheus has said nothing of it yet
				stats = snapshot.InstanceStats{AllowedPerSecond: snapshot.Null(), BlockedPerSecond: snapshot.Null(), AllowedTotal: snapshot.Null()}
			}
			set(&stats, finite(s.Value))
			sec.Instances[inst] = stats
		}
		return nil
	}
}

// total applies a cluster-wide answer: a scalar, or the sum of a vector. No
// series at all means Prometheus knows nothing: null, not zero.
func total(rg promclient.Range, set func(*snapshot.PrometheusSection, snapshot.Float)) func(*snapshot.PrometheusSection, promclient.Result) error {
	return func(sec *snapshot.PrometheusSection, res promclient.Result) error {
		if err := res.Check(rg); err != nil {
			return err
		}
		switch res.Type {
		case promclient.ResultScalar:
			set(sec, finite(res.Scalar.Value))
		case promclient.ResultVector:
			if len(res.Vector) == 0 {
				return nil // the field stays null
			}
			var sum float64
			for _, s := range res.Vector {
				sum += s.Value
			}
			set(sec, finite(sum))
		default:
			return fmt.Errorf("answer is a %s, want a vector or scalar", res.Type)
		}
		return nil
	}
}

// finite maps NaN (histogram_quantile without observations) and ±Inf to
// null, so that no consumer has to tell them apart from a value.
func finite(v float64) snapshot.Float {
	if f := snapshot.Float(v); f.Valid() {
		return f
	}
	return snapshot.Null()
}

// seconds is a latency Prometheus gave in seconds as a duration; unknown
// when it is not a finite value a time.Duration can hold.
func seconds(v snapshot.Float) snapshot.Duration {
	ns := float64(v) * float64(time.Second)
	if !v.Valid() || ns > math.MaxInt64 || ns < math.MinInt64 {
		return snapshot.Duration{}
	}
	return snapshot.Known(time.Duration(ns))
}
