package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"
)

// knownMetrics lists every metric observerd exports on /metrics. The rules
// and the dashboard may use these names only.
var knownMetrics = []string{
	"observerd_build_info",
	"observerd_source_up",
	"observerd_source_last_success_timestamp_seconds",
	"observerd_source_poll_duration_seconds",
	"observerd_source_failures_total",
	"observerd_source_consecutive_failures",
	"observerd_snapshot_sequence",
	"observerd_snapshot_age_seconds",
	"observerd_node_up",
	"observerd_node_registered",
	"observerd_node_health_latency_seconds",
	"observerd_node_check_latency_p99_seconds",
	"observerd_node_allowed_per_second",
	"observerd_node_blocked_per_second",
	"observerd_redis_up",
	"observerd_redis_ping_latency_seconds",
	"observerd_redis_used_memory_bytes",
	"observerd_redis_connected_clients",
	"observerd_redis_db_keys",
	"observerd_limit_default_requests",
	"observerd_limit_default_window_seconds",
	"observerd_limit_overrides",
	"observerd_counter_keys",
	"observerd_counter_requests_in_window",
	"observerd_counter_blocked_keys",
	"observerd_counter_over_limit_keys",
	"observerd_counter_keys_without_ttl",
	"observerd_counter_orphan_sequence_keys",
	"observerd_counter_requests",
	"observerd_counter_limit",
	"observerd_traffic_allowed_per_second",
	"observerd_traffic_blocked_per_second",
	"observerd_invariant_violation",
	"observerd_invariant_violations",
	"observerd_invariant_unknown",
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

func TestMetricNamesAreExported(t *testing.T) {
	tests := []struct {
		give string
	}{
		{give: "prometheus/alerts.yml"},
		{give: "prometheus/alerts_test.yml"},
		{give: "grafana/observerd-dashboard.json"},
		{give: "README.md"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			names := metricsIn(t, tt.give)
			if len(names) == 0 && tt.give != "README.md" {
				t.Fatalf("%s uses no observerd metric", tt.give)
			}
			for _, name := range names {
				if !slices.Contains(knownMetrics, name) {
					t.Errorf("%s uses %s, which observerd does not export", tt.give, name)
				}
			}
		})
	}
}

func TestDashboardShowsEveryMetric(t *testing.T) {
	used := metricsIn(t, "grafana/observerd-dashboard.json")
	for _, name := range knownMetrics {
		if !slices.Contains(used, name) {
			t.Errorf("the dashboard shows no panel of %s", name)
		}
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
