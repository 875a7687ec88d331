package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// promtoolTimeout bounds one promtool run; each takes well under a second.
const promtoolTimeout = 30 * time.Second

// promtool runs promtool with args from the package directory and fails the
// test, with promtool's output, when it exits non-zero.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found: install it with apt-get install -y prometheus: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), promtoolTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtool(t *testing.T) {
	tests := []struct {
		name string
		give []string
		want string
	}{
		{
			name: "config",
			give: []string{"check", "config", "--lint=all", "--lint-fatal", "prometheus/prometheus.yml"},
			want: "SUCCESS",
		},
		{
			name: "rules",
			give: []string{"check", "rules", "--lint=all", "--lint-fatal", "prometheus/alerts.yml"},
			want: "SUCCESS",
		},
		{
			name: "rule unit tests",
			give: []string{"test", "rules", "prometheus/alerts_test.yml"},
			want: "SUCCESS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := promtool(t, tt.give...); !strings.Contains(got, tt.want) {
				t.Errorf("promtool %s said %q, want it to say %q", strings.Join(tt.give, " "), got, tt.want)
			}
		})
	}
}

// grafanaVariables stands in for the dashboard's template variables so that
// its queries become plain PromQL.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$job", "observerd",
	"$instance", "observerd:9750",
)

// TestDashboardQueriesParse checks every dashboard query with promtool, by
// turning each into a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	d := loadDashboard(t)
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			n++
			expr := grafanaVariables.Replace(tg.Expr)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: query %q uses an unknown variable", p.Title, tg.Expr)
			}
			// A single-quoted YAML scalar holds any PromQL once its quotes
			// are doubled.
			fmt.Fprintf(&rules, "      - record: dashboard:query_%d\n        expr: '%s'\n",
				n, strings.ReplaceAll(expr, "'", "''"))
		}
	}
	if n == 0 {
		t.Fatal("the dashboard has no queries")
	}
	file := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o600); err != nil {
		t.Fatalf("write %s: %v", file, err)
	}
	promtool(t, "check", "rules", file)
}
