package deploy

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/exporter"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/poll"
	"github.com/observerd/observerd/internal/server"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// metric is one metric observerd exports on /metrics.
type metric struct {
	// Type is its type in the exposition: gauge, counter, histogram, ...
	Type string
	// Labels are its variable label names, sorted.
	Labels []string
	// Series are the names its samples have: the metric's own name, and
	// for a histogram its _bucket, _sum and _count.
	Series []string
}

// exportedMetrics derives every metric observerd exports from the code
// that exports it, by name: the snapshot collector's, and those observerd
// registers itself (the build info, the HTTP request metrics, the poll
// duration histogram), gathered from a registry they are registered on.
// The Go and process collectors' standard go_* and process_* metrics are
// left out.
func exportedMetrics(t *testing.T) map[string]metric {
	t.Helper()
	out := map[string]metric{}
	types := collectorTypes(t)
	for _, d := range exporter.Descriptions() {
		// The collector exports only gauges and counters.
		out[d.Name] = metric{Type: types[d.Name], Labels: sorted(d.Labels), Series: []string{d.Name}}
		if types[d.Name] == "" {
			t.Errorf("%s is not in the exposition of the golden snapshot: its type is unknown", d.Name)
		}
	}

	reg := prometheus.NewPedanticRegistry()
	// observerd registers the build info collector of the exporters'
	// convention as it is; its labels are the collector's.
	reg.MustRegister(versioncollector.NewCollector("observerd"))
	h, err := server.NewHandler(server.Config{Store: snapshot.NewStore(snapshot.StoreConfig{}), Registry: reg, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	// A vector exports nothing before its first series: answer one request
	// and run one poll.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	pm, err := poll.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	onePoll(t, pm)

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather observerd's own metrics: %v", err)
	}
	for _, f := range families {
		name := f.GetName()
		if _, dup := out[name]; dup {
			t.Errorf("%s is exported twice", name)
		}
		labels := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		m := metric{Type: typeName(f.GetType()), Labels: sorted(slices.Collect(maps.Keys(labels))), Series: []string{name}}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			m.Series = append(m.Series, name+"_bucket", name+"_sum", name+"_count")
		case dto.MetricType_SUMMARY:
			m.Series = append(m.Series, name+"_sum", name+"_count")
		}
		out[name] = m
	}
	for _, want := range []string{"observerd_build_info", "observerd_http_requests_total", "observerd_poll_duration_seconds"} {
		if _, ok := out[want]; !ok {
			t.Errorf("%s is not registered any more: see where it was", want)
		}
	}
	return out
}

// goldenSnapshot is the snapshot package's golden document: one snapshot
// in which every field holds a value, so that the collector exports every
// metric over it when stale values are kept.
const goldenSnapshot = "../internal/snapshot/testdata/snapshot.golden.json"

// collectorTypes gathers the snapshot collector over the golden snapshot
// and returns the type of each metric it exported, by name.
func collectorTypes(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(goldenSnapshot)
	if err != nil {
		t.Fatalf("read %s: %v", goldenSnapshot, err)
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decode %s: %v", goldenSnapshot, err)
	}
	reg := prometheus.NewPedanticRegistry()
	c := exporter.NewCollector(loaded{&snapshot.Published{Snapshot: &s, JSON: b}}, exporter.Options{
		KeepStale: true, SubjectsLimit: 1, Invariants: health.Defaults(health.Builtin()).Names(),
	})
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather the snapshot collector: %v", err)
	}
	out := map[string]string{}
	for _, f := range families {
		out[f.GetName()] = typeName(f.GetType())
	}
	return out
}

// loaded is a store that always holds one snapshot.
type loaded struct{ p *snapshot.Published }

func (l loaded) Load() *snapshot.Published { return l.p }

// typeName is a metric type as the text exposition's TYPE line writes it.
func typeName(t dto.MetricType) string {
	return strings.ToLower(t.String())
}

// onePoll runs a poll runner for one successful poll, recorded in pm.
func onePoll(t *testing.T, pm *poll.Metrics) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &poll.Runner{
		Poller:   fakePoller{},
		Interval: time.Hour,
		Timeout:  time.Minute,
		Publish:  func(snapshot.SourceState) { cancel() }, // after the poll is recorded
		Logger:   zaptest.NewLogger(t),
		Metrics:  pm,
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// fakePoller succeeds at once with an empty Redis section.
type fakePoller struct{}

func (fakePoller) Name() string { return source.Redis }
func (fakePoller) Poll(context.Context) (snapshot.Section, error) {
	return &snapshot.RedisSection{}, nil
}

// seriesNames is every series name of metrics.
func seriesNames(metrics map[string]metric) map[string]bool {
	out := map[string]bool{}
	for _, m := range metrics {
		for _, s := range m.Series {
			out[s] = true
		}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// metricName finds observerd metric names in any text.
var metricName = regexp.MustCompile(`observerd_[a-z0-9_]*[a-z0-9]`)

// metricsIn returns the observerd metric names file mentions, sorted and
// without duplicates.
func metricsIn(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	names := metricName.FindAllString(string(b), -1)
	slices.Sort(names)
	return slices.Compact(names)
}

// TestMetricNamesAreExported: the rules, their tests, the dashboard and the
// deploy README name only series observerd exports.
func TestMetricNamesAreExported(t *testing.T) {
	known := seriesNames(exportedMetrics(t))
	tests := []struct {
		give      string
		wantNames bool // the file must name at least one metric
	}{
		{give: "prometheus/alerts.yml", wantNames: true},
		{give: "prometheus/alerts_test.yml", wantNames: true},
		{give: "grafana/observerd-dashboard.json", wantNames: true},
		{give: "README.md"},
		{give: "../README.md", wantNames: true},
		{give: metricsDoc, wantNames: true},
		{give: runbooksDoc, wantNames: true},
		{give: "../docs/design.md"},
		{give: "../docs/contract.md"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			names := metricsIn(t, tt.give)
			if len(names) == 0 && tt.wantNames {
				t.Fatalf("%s uses no observerd metric", tt.give)
			}
			var unknown []string
			for _, name := range names {
				if !known[name] {
					unknown = append(unknown, name)
				}
			}
			if diff := cmp.Diff([]string(nil), unknown); diff != "" {
				t.Errorf("%s names metrics observerd does not export (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

// TestDashboardShowsEveryMetric: the dashboard shows every metric of the
// snapshot. observerd's own HTTP and poll metrics are not required there.
func TestDashboardShowsEveryMetric(t *testing.T) {
	used := metricsIn(t, "grafana/observerd-dashboard.json")
	var missing []string
	for _, d := range exporter.Descriptions() {
		if !slices.Contains(used, d.Name) {
			missing = append(missing, d.Name)
		}
	}
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("metrics the dashboard shows no panel of (-want +got):\n%s", diff)
	}
}

// dashboard is the part of a Grafana dashboard model the tests read.
type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

// panel is one Grafana panel; rows may nest panels.
type panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"`
}

// target is one query of a panel.
type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

// allPanels returns the panels of d, those nested in rows included.
func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	const file = "grafana/observerd-dashboard.json"
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	return d
}

func TestDashboardPanels(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: want both set", d.UID, d.Title)
	}
	ids := map[int]string{}
	titles := map[string]bool{}
	for _, p := range d.allPanels() {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		titles[p.Title] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: query %+v: want an expression and a unique refId", p.Title, tg)
			}
			refs[tg.RefID] = true
		}
	}
	for _, want := range []string{
		"Sources up",
		"Nodes up",
		"Node check latency P99",
		"Traffic allowed / blocked",
		"Counter keys",
		"Redis up",
		"Active violations",
	} {
		if !titles[want] {
			t.Errorf("the dashboard has no panel %q", want)
		}
	}
}
