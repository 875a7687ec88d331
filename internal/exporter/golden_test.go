package exporter

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/observerd/observerd/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// snapshotGolden is the snapshot package's golden document: the fixture of
// these tests, so that both golden files describe one snapshot. Its
// package's tests check that it decodes into the very snapshot the Store
// published.
const snapshotGolden = "../snapshot/testdata/snapshot.golden.json"

// ageMetric depends on the wall clock; it is checked apart.
const ageMetric = "observerd_snapshot_age_seconds"

// goldenSnapshot decodes the snapshot golden file, built as of generatedAt.
func goldenSnapshot(t *testing.T, generatedAt time.Time) *snapshot.Published {
	t.Helper()
	b, err := os.ReadFile(snapshotGolden)
	if err != nil {
		t.Fatalf("read the fixture: %v", err)
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decode %s: %v", snapshotGolden, err)
	}
	s.GeneratedAt = generatedAt
	return &snapshot.Published{Snapshot: &s, JSON: b}
}

// exposition renders everything c exports but ageMetric in the text
// format, and returns ageMetric's value apart.
func exposition(t *testing.T, c *Collector) (text string, age float64) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	age = -1
	for _, f := range families {
		if f.GetName() == ageMetric {
			age = f.GetMetric()[0].GetGauge().GetValue()
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatalf("encode %s: %v", f.GetName(), err)
		}
	}
	return buf.String(), age
}

// TestCollectorGolden pins the whole exposition over the golden snapshot:
// a metric in the wrong unit, renamed, relabelled or lost shows as a diff.
// Rewrite the files with go test ./internal/exporter/ -update after a
// deliberate change (after the snapshot golden file, its fixture).
func TestCollectorGolden(t *testing.T) {
	tests := []struct {
		name string
		give Options
		want string
		// wantEvery: every metric of Descriptions is in the exposition.
		wantEvery bool
	}{
		{
			// The defaults: the stale Prometheus source's values are withheld.
			name: "default",
			give: Options{SubjectsLimit: 1,
				Invariants: []string{"counter_without_ttl", "high_latency", "node_down", "over_limit", "redis_disconnected"}},
			want: "testdata/metrics.golden",
		},
		{
			name: "keep stale",
			give: Options{SubjectsLimit: 1, KeepStale: true,
				Invariants: []string{"counter_without_ttl", "high_latency", "node_down", "over_limit", "redis_disconnected"}},
			want:      "testdata/metrics_keep_stale.golden",
			wantEvery: true,
		},
		{
			// OBSERVERD_EXPORT_KEY_SERIES=false: no per-key family at all.
			name: "key series off",
			give: Options{SubjectsLimit: 1, OmitKeySeries: true,
				Invariants: []string{"counter_without_ttl", "high_latency", "node_down", "over_limit", "redis_disconnected"}},
			want: "testdata/metrics_no_key_series.golden",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			generated := time.Now().Add(-time.Minute)
			got, age := exposition(t, NewCollector(fixed{goldenSnapshot(t, generated)}, tt.give))
			maxAge := time.Since(generated).Seconds()
			if age < 60 || age > maxAge {
				t.Errorf("%s = %v, want between 60 and %v", ageMetric, age, maxAge)
			}
			if *update {
				if err := os.MkdirAll(filepath.Dir(tt.want), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(tt.want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.want)
			if err != nil {
				t.Fatalf("read %s (create it with -update): %v", tt.want, err)
			}
			if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
				t.Errorf("exposition differs from %s (-want +got); if the change is deliberate, run go test ./internal/exporter/ -update:\n%s", tt.want, diff)
			}
			if !tt.wantEvery {
				return
			}
			for _, d := range Descriptions() {
				if d.Name != ageMetric && !strings.Contains(got, "\n"+d.Name+"{") && !strings.Contains(got, "\n"+d.Name+" ") {
					t.Errorf("%s has no series over the golden snapshot; give the fixture a value for it", d.Name)
				}
			}
		})
	}
}
