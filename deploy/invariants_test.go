package deploy

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/health"
)

var update = flag.Bool("update", false, "rewrite what these tests derive from the invariants' declarations")

// derived keeps the part of file between begin and end (or the end of the
// file when end is empty) equal to want; with -update it rewrites it.
func derived(t *testing.T, file, begin, end, want string) {
	t.Helper()
	text := readText(t, file)
	i := strings.Index(text, begin)
	j := len(text)
	if end != "" {
		j = strings.Index(text, end)
	}
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q", file, begin, end)
	}
	got := text[:i+len(begin)] + want + text[j:]
	if got == text {
		return
	}
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s differs from the invariants' declarations in internal/health: run go test ./deploy -update", file)
}

// TestInvariantTables keeps the invariant tables of the README (what a user
// reads) and of docs/design.md (how each is judged) equal to the
// declarations.
func TestInvariantTables(t *testing.T) {
	invs := health.Builtin()
	var user, design strings.Builder
	user.WriteString("\n| invariant | severity | holds when | grace | threshold |\n| --- | --- | --- | --- | --- |\n")
	design.WriteString("\n| invariant | severity | subject | sources | alert |\n| --- | --- | --- | --- | --- |\n")
	vars := map[string]health.Var{}
	for _, v := range health.Vars(invs) {
		vars[v.Name] = v
	}
	for _, inv := range invs {
		stem := strings.ToUpper(inv.Name)
		threshold := "–"
		if v, ok := vars[stem+"_THRESHOLD"]; ok {
			threshold = "`" + v.Default + "`"
		}
		fmt.Fprintf(&user, "| `%s` | %s | %s | `%s` | %s |\n", inv.Name, inv.Severity, inv.Help, vars[stem+"_GRACE"].Default, threshold)
		fmt.Fprintf(&design, "| `%s` | %s | %s | %s | `%s`, for %s |\n", inv.Name, inv.Severity, inv.Subject,
			strings.Join(inv.Sources, ", "), invariantAlert(inv.Name), promDuration(inv.Alert.For))
	}
	const end = "<!-- end of invariant table -->"
	derived(t, "../README.md", "<!-- invariant table: made by `go test ./deploy -update` -->", end, user.String())
	derived(t, "../docs/design.md", "<!-- invariant table: made by `go test ./deploy -update` -->", end, design.String())
}

// TestInvariantAlertsDerived keeps the observerd.invariants group of
// alerts.yml, one rule per invariant, equal to the declarations.
func TestInvariantAlertsDerived(t *testing.T) {
	var b strings.Builder
	for i, inv := range health.Builtin() {
		if i > 0 {
			b.WriteString("\n")
		}
		selector := `observerd_invariant_violation{invariant="` + inv.Name + `"}`
		expr, summary := selector+" > 0", `"invariant `+inv.Name+`: {{ $labels.subject }}"`
		if inv.Alert.Counted {
			expr, summary = "sum without (subject) ("+selector+") > 0", `"invariant `+inv.Name+`: {{ $value }} key(s)"`
		}
		fmt.Fprintf(&b, `      - alert: %s
        expr: %s
        for: %s
        labels:
          severity: %s
        annotations:
          runbook_url: %s%s
          summary: %s
          description: >-
`, invariantAlert(inv.Name), expr, promDuration(inv.Alert.For), inv.Severity, runbooksURL, strings.ToLower(invariantAlert(inv.Name)), summary)
		for line := range strings.SplitSeq(inv.Alert.Description, "\n") {
			b.WriteString("            " + line + "\n")
		}
	}
	derived(t, "prometheus/alerts.yml", "  - name: observerd.invariants\n", "", `    # One alert per invariant, with the invariant's own severity. observerd
    # already applies each invariant's grace period; `+"`for`"+` only absorbs a
    # single missed scrape or a brief blip. Invariants whose subject is a
    # counter key are summed over keys, because short-lived keys come and go
    # faster than any `+"`for`"+` and would otherwise never fire.
    rules:
`+b.String())
}

// invariantAlert is the alert of an invariant: node_down is
// ObserverdInvariantNodeDown.
func invariantAlert(invariant string) string {
	var b strings.Builder
	b.WriteString("ObserverdInvariant")
	for word := range strings.SplitSeq(invariant, "_") {
		if word == "ttl" {
			b.WriteString("TTL")
			continue
		}
		b.WriteString(strings.ToUpper(word[:1]) + word[1:])
	}
	return b.String()
}

// promDuration writes d as a rule's for clause: 90s, 5m, 1h.
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
