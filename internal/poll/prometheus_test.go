package poll

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	promclient "github.com/observerd/observerd/internal/clients/prometheus"
	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/testenv"
)

// promWait bounds how long a test waits for Prometheus to have scraped
// enough for rate(): two scrapes at 1s, with room for a slow machine.
const promWait = 30 * time.Second

// fastQueries are the default queries with a 5s rate window, so that two
// scrapes at 1s are enough.
func fastQueries() Queries {
	q := DefaultQueries("ratelimiter")
	for _, e := range []*string{&q.P99, &q.AllowedByInstance, &q.BlockedByInstance, &q.AllowedTotal, &q.BlockedTotal} {
		*e = strings.ReplaceAll(*e, "[1m]", "[5s]")
	}
	return q
}

// fakeNode serves real rate limiter metrics from a private registry. On
// every scrape it first calls onScrape, so that counters grow between
// scrapes and rate() has something to see.
type fakeNode struct {
	addr     string
	checked  *prometheus.CounterVec
	duration prometheus.Histogram
}

func startFakeNode(t *testing.T, onScrape func(*fakeNode)) *fakeNode {
	t.Helper()
	reg := prometheus.NewRegistry()
	n := &fakeNode{
		checked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratelimiter_requests_checked_total",
			Help: "Rate limit checks by result.",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ratelimiter_check_duration_seconds",
			Help:    "Duration of a rate limit check.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}),
	}
	reg.MustRegister(n.checked, n.duration)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		onScrape(n)
		metrics.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	n.addr = srv.Listener.Addr().String()
	return n
}

func newPromClient(t *testing.T, url string) *promclient.Client {
	t.Helper()
	c, err := promclient.New(url, promclient.Options{})
	if err != nil {
		t.Fatalf("prometheus client: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func newPromPoller(t *testing.T, c *promclient.Client, q Queries) *PrometheusPoller {
	t.Helper()
	p, err := NewPrometheusPoller(PrometheusConfig{Client: c, Queries: q})
	if err != nil {
		t.Fatalf("NewPrometheusPoller: %v", err)
	}
	return p
}

func pollProm(t *testing.T, p *PrometheusPoller) (*snapshot.PrometheusSection, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	sec, err := p.Poll(ctx)
	if err != nil {
		return nil, err
	}
	return sec.(*snapshot.PrometheusSection), nil
}

func TestPrometheusPoller(t *testing.T) {
	t.Parallel()
	busy := startFakeNode(t, func(n *fakeNode) {
		n.checked.WithLabelValues("allowed").Add(10)
		n.checked.WithLabelValues("blocked").Add(2)
		for range 10 {
			n.duration.Observe(0.003) // bucket (0.001, 0.005]
		}
	})
	// idle checks requests but never observes a duration and never blocks.
	idle := startFakeNode(t, func(n *fakeNode) { n.checked.WithLabelValues("allowed").Add(5) })
	down := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	prom := testenv.StartPrometheus(t, testenv.PrometheusConfig{Job: "ratelimiter", Targets: []string{busy.addr, idle.addr, down}})
	client := newPromClient(t, prom.URL)
	poller := newPromPoller(t, client, fastQueries())

	if poller.Name() != source.Prometheus {
		t.Errorf("Name() = %q, want %q", poller.Name(), source.Prometheus)
	}

	// Wait until Prometheus has two scrapes of every target in the window.
	var sec *snapshot.PrometheusSection
	testenv.WaitFor(t, promWait, "rates of both nodes", func() error {
		s, err := pollProm(t, poller)
		if err != nil {
			return err
		}
		// A missing instance reads as zero values, which are valid numbers:
		// ask for presence first.
		b, okBusy := s.Instances[busy.addr]
		i, okIdle := s.Instances[idle.addr]
		d, okDown := s.Instances[down]
		if !okBusy || !okIdle || !okDown {
			return fmt.Errorf("not every target seen yet: %+v", s.Instances)
		}
		if !b.AllowedPerSecond.Valid() || !i.AllowedPerSecond.Valid() {
			return fmt.Errorf("no rates yet: %+v", s.Instances)
		}
		if !b.CheckLatencyP99.Valid || d.Up == nil || !s.AllowedPerSecond.Valid() || !s.BlockedPerSecond.Valid() {
			return fmt.Errorf("no latency, totals or down target yet: %+v", s.Instances)
		}
		sec = s
		return nil
	})

	t.Run("instances", func(t *testing.T) {
		tests := []struct {
			give        string
			wantP99     [2]float64 // (low, high]; zero: null
			wantAllowed bool
			wantBlocked bool
			wantUp      bool
		}{
			{give: busy.addr, wantP99: [2]float64{0.001, 0.005}, wantAllowed: true, wantBlocked: true, wantUp: true},
			{give: idle.addr, wantAllowed: true, wantUp: true},
			{give: down, wantUp: false},
		}
		for _, tt := range tests {
			t.Run(tt.give, func(t *testing.T) {
				got, ok := sec.Instances[tt.give]
				if !ok {
					t.Fatalf("instance %s missing from %v", tt.give, sec.Instances)
				}
				p99 := got.CheckLatencyP99.Seconds()
				if tt.wantP99 == [2]float64{} {
					if got.CheckLatencyP99.Valid {
						t.Errorf("CheckLatencyP99 = %v, want null", p99)
					}
				} else if !(p99 > tt.wantP99[0] && p99 <= tt.wantP99[1]) {
					t.Errorf("CheckLatencyP99 = %v, want in (%v, %v]", p99, tt.wantP99[0], tt.wantP99[1])
				}
				assertRate(t, "AllowedPerSecond", got.AllowedPerSecond, tt.wantAllowed)
				assertRate(t, "BlockedPerSecond", got.BlockedPerSecond, tt.wantBlocked)
				if got.Up == nil || *got.Up != tt.wantUp {
					t.Errorf("Up = %v, want %v", got.Up, tt.wantUp)
				}
			})
		}
		if len(sec.Instances) != len(tests) {
			t.Errorf("instances = %v, want exactly %d", sec.Instances, len(tests))
		}
		assertRate(t, "total AllowedPerSecond", sec.AllowedPerSecond, true)
		assertRate(t, "total BlockedPerSecond", sec.BlockedPerSecond, true)
		if sec.QueryErrors != nil {
			t.Errorf("QueryErrors = %v, want none", sec.QueryErrors)
		}
	})

	t.Run("histogram without observations answers NaN", func(t *testing.T) {
		// The raw answer for idle is NaN (not a missing series), which the
		// poller turned into null above.
		res, err := client.Query(t.Context(), fastQueries().P99)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		for _, s := range res.Vector {
			if s.Labels["instance"] == idle.addr && !math.IsNaN(float64(s.Value)) {
				t.Errorf("P99 of idle = %v, want NaN", s.Value)
			}
		}
	})

	t.Run("one query fails", func(t *testing.T) {
		q := fastQueries()
		q.P99 = "histogram_quantile(0.99, sum by (instance, le) (" // a parse error
		q.BlockedTotal = "sum by (instance) (up)"                  // fine: summed
		sec, err := pollProm(t, newPromPoller(t, client, q))
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if msg := sec.QueryErrors[PromQueryCheckLatencyP99]; !strings.Contains(msg, "bad_data") || !strings.Contains(msg, prom.URL) {
			t.Errorf("QueryErrors[%s] = %q, want bad_data naming %s", PromQueryCheckLatencyP99, msg, prom.URL)
		}
		if len(sec.QueryErrors) != 1 {
			t.Errorf("QueryErrors = %v, want only %s", sec.QueryErrors, PromQueryCheckLatencyP99)
		}
		if got := sec.Instances[busy.addr]; got.CheckLatencyP99.Valid || !got.AllowedPerSecond.Valid() {
			t.Errorf("busy = %+v, want null P99 and a rate", got)
		}
		if got := float64(sec.BlockedPerSecond); got != 2 {
			t.Errorf("BlockedPerSecond = %v, want the sum of 2 up targets", got)
		}
	})

	t.Run("every query fails", func(t *testing.T) {
		bad := Queries{P99: "rate(", Up: "up[1m]"} // a parse error and a matrix
		_, err := pollProm(t, newPromPoller(t, client, bad))
		if err == nil {
			t.Fatal("Poll succeeded, want an error")
		}
		var apiErr *promclient.APIError
		if !errors.As(err, &apiErr) || apiErr.Type != "bad_data" {
			t.Errorf("error %q is not the first query's bad_data APIError", err)
		}
	})
}

func assertRate(t *testing.T, name string, got snapshot.Float, wantPositive bool) {
	t.Helper()
	switch {
	case wantPositive && !(got.Valid() && got > 0):
		t.Errorf("%s = %v, want > 0", name, float64(got))
	case !wantPositive && got.Valid():
		t.Errorf("%s = %v, want null", name, float64(got))
	}
}

func TestPrometheusPollerRestart(t *testing.T) {
	t.Parallel()
	node := startFakeNode(t, func(n *fakeNode) { n.checked.WithLabelValues("allowed").Inc() })
	prom := testenv.StartPrometheus(t, testenv.PrometheusConfig{Job: "ratelimiter", Targets: []string{node.addr}})
	poller := newPromPoller(t, newPromClient(t, prom.URL), fastQueries())

	if _, err := pollProm(t, poller); err != nil {
		t.Fatalf("Poll before stop: %v", err)
	}
	prom.Stop()
	_, err := pollProm(t, poller)
	if err == nil {
		t.Fatal("Poll succeeded with Prometheus stopped")
	}
	if !strings.Contains(err.Error(), prom.URL+"/api/v1/query") {
		t.Errorf("error %q does not name the endpoint", err)
	}
	prom.Start(t)
	if _, err := pollProm(t, poller); err != nil {
		t.Fatalf("Poll after restart: %v", err)
	}
}

func TestNewPrometheusPollerErrors(t *testing.T) {
	client := newPromClient(t, "http://127.0.0.1:9090")
	tests := []struct {
		name     string
		give     PrometheusConfig
		wantText string
	}{
		{name: "no client", give: PrometheusConfig{Queries: DefaultQueries("")}, wantText: "no client"},
		{name: "no queries", give: PrometheusConfig{Client: client}, wantText: "every query is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPrometheusPoller(tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("NewPrometheusPoller error = %v, want %q", err, tt.wantText)
			}
		})
	}
}

func TestDefaultQueries(t *testing.T) {
	tests := []struct {
		give   string
		wantUp string
	}{
		{give: config.Default().PrometheusJob, wantUp: `up{job="ratelimiter"}`},
		{give: "rl-prod", wantUp: `up{job="rl-prod"}`},
	}
	for _, tt := range tests {
		if got := DefaultQueries(tt.give).Up; got != tt.wantUp {
			t.Errorf("DefaultQueries(%q).Up = %q, want %q", tt.give, got, tt.wantUp)
		}
	}
}

// TestPrometheusPollerOddAnswers plays a Prometheus that answers each query
// with something a real one rarely says: infinities, NaN totals, series
// without an instance label, scalars where vectors belong.
func TestPrometheusPollerOddAnswers(t *testing.T) {
	vec := func(samples string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[` + samples + `]}}`
	}
	answers := map[string]string{
		"p99":     vec(`{"metric":{"instance":"a:1"},"value":[1,"+Inf"]},{"metric":{"instance":"b:1"},"value":[1,"0.02"]}`),
		"allowed": vec(`{"metric":{"instance":"a:1"},"value":[1,"3"]},{"metric":{},"value":[1,"4"]}`),
		"blocked": `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`,
		"atotal":  vec(`{"metric":{},"value":[1,"-Inf"]}`),
		"btotal":  `{"status":"success","data":{"resultType":"scalar","result":[1,"2.5"]}}`,
		"up":      vec(`{"metric":{"instance":"a:1","job":"ratelimiter"},"value":[1,"1"]},{"metric":{"instance":"c:1","job":"ratelimiter"},"value":[1,"0"]}`),
	}
	poller := answeringPoller(t, answers)
	sec, err := pollProm(t, poller)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}

	tests := []struct {
		give        string
		wantP99     float64 // NaN: null
		wantAllowed float64
		wantUp      string
	}{
		{give: "a:1", wantP99: math.NaN(), wantAllowed: math.NaN(), wantUp: "true"},
		{give: "b:1", wantP99: 0.02, wantAllowed: math.NaN(), wantUp: "<nil>"},
		{give: "c:1", wantP99: math.NaN(), wantAllowed: math.NaN(), wantUp: "false"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := sec.Instances[tt.give]
			if !sameSeconds(got.CheckLatencyP99, tt.wantP99) {
				t.Errorf("CheckLatencyP99 = %v, want %v s", got.CheckLatencyP99, tt.wantP99)
			}
			if !sameFloat(got.AllowedPerSecond, tt.wantAllowed) || got.BlockedPerSecond.Valid() {
				t.Errorf("rates = %v/%v, want %v/null", float64(got.AllowedPerSecond), float64(got.BlockedPerSecond), tt.wantAllowed)
			}
			up := "<nil>"
			if got.Up != nil {
				up = fmt.Sprint(*got.Up)
			}
			if up != tt.wantUp {
				t.Errorf("Up = %s, want %s", up, tt.wantUp)
			}
		})
	}
	if sec.AllowedPerSecond.Valid() || float64(sec.BlockedPerSecond) != 2.5 {
		t.Errorf("totals = %v/%v, want null/2.5", float64(sec.AllowedPerSecond), float64(sec.BlockedPerSecond))
	}
	for _, name := range []string{PromQueryAllowedByInstance, PromQueryBlockedByInstance} {
		if sec.QueryErrors[name] == "" {
			t.Errorf("QueryErrors[%s] is empty, want the rejected answer", name)
		}
	}
	if len(sec.QueryErrors) != 2 {
		t.Errorf("QueryErrors = %v, want 2", sec.QueryErrors)
	}
}

// answeringPoller polls a misbehaving Prometheus that answers each of the
// six queries, named p99, allowed, blocked, atotal, btotal and up, with
// its body in answers, and an unknown query with bad_data.
func answeringPoller(t *testing.T, answers map[string]string) *PrometheusPoller {
	t.Helper()
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := answers[r.FormValue("query")]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			body = `{"status":"error","errorType":"bad_data","error":"unknown query"}`
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(fake.Close)
	return newPromPoller(t, newPromClient(t, fake.URL), Queries{
		P99: "p99", AllowedByInstance: "allowed", BlockedByInstance: "blocked",
		AllowedTotal: "atotal", BlockedTotal: "btotal", Up: "up",
	})
}

// sameFloat compares with NaN standing for null.
// sameSeconds reports whether got is want seconds, or unknown for NaN.
func sameSeconds(got snapshot.Duration, want float64) bool {
	if math.IsNaN(want) {
		return !got.Valid
	}
	return got.Valid && got.Seconds() == want
}

func sameFloat(got snapshot.Float, want float64) bool {
	if math.IsNaN(want) {
		return !got.Valid()
	}
	return float64(got) == want
}

// TestPrometheusPollerImplausibleAnswers: values no cluster can have are a
// bad answer of their query, which sets nothing.
func TestPrometheusPollerImplausibleAnswers(t *testing.T) {
	vec := func(v string) string {
		return `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"a:1"},"value":[1,"` + v + `"]}]}}`
	}
	answers := map[string]string{
		"p99":     vec("-0.5"),
		"allowed": vec("1e308"),
		"blocked": vec("-5"),
		"atotal":  `{"status":"success","data":{"resultType":"scalar","result":[1,"-1"]}}`,
		"btotal":  vec("1e300"),
		// One plausible answer, so that the poll as a whole succeeds.
		"up": vec("1"),
	}
	poller := answeringPoller(t, answers)
	sec, err := pollProm(t, poller)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	for _, name := range []string{PromQueryCheckLatencyP99, PromQueryAllowedByInstance, PromQueryBlockedByInstance, PromQueryAllowedTotal, PromQueryBlockedTotal} {
		if msg := sec.QueryErrors[name]; !strings.Contains(msg, "bad answer") {
			t.Errorf("QueryErrors[%s] = %q, want a bad answer", name, msg)
		}
	}
	if a := sec.Instances["a:1"]; a.CheckLatencyP99.Valid || a.AllowedPerSecond.Valid() || a.BlockedPerSecond.Valid() || a.Up == nil || !*a.Up {
		t.Errorf("instance a:1 = %+v, want only up set", a)
	}
	if len(sec.QueryErrors) != 5 {
		t.Errorf("QueryErrors = %v, want 5", sec.QueryErrors)
	}
	if sec.AllowedPerSecond.Valid() || sec.BlockedPerSecond.Valid() {
		t.Errorf("totals = %v/%v, want null", float64(sec.AllowedPerSecond), float64(sec.BlockedPerSecond))
	}
}
