package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

// alertRule is the part of one alerting rule the tests read, taken from the
// rule file's text (the tests have no YAML parser; promtool checks syntax).
type alertRule struct {
	name string
	body string
}

var (
	alertStart  = regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)\s*$`)
	alertName   = regexp.MustCompile(`^Observerd[A-Z][A-Za-z0-9]*$`)
	forClause   = regexp.MustCompile(`(?m)^\s+for:\s*\d+[smhd]\s*$`)
	severityKey = regexp.MustCompile(`(?m)^\s+severity:\s*(critical|warning|info)\s*$`)
	annotation  = regexp.MustCompile(`(?m)^\s+(summary|description):`)
	testStart   = regexp.MustCompile(`(?m)^\s*- alertname:\s*(\S+)\s*$`)
	evalTime    = regexp.MustCompile(`(?m)^\s+eval_time:\s*(\S+)\s*$`)
	noAlerts    = regexp.MustCompile(`(?m)^\s+exp_alerts:\s*\[\]\s*$`)
	runbookURL  = regexp.MustCompile(`(?m)^\s+runbook_url:\s*(\S+)\s*$`)
	heading     = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$`)
)

// runbooksURL is where every alert's runbook_url points: the runbooks
// document on the project's main branch, with the anchor of the alert's
// section.
const runbooksURL = "https://github.com/observerd/observerd/blob/main/docs/runbooks.md#"

func readText(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return string(b)
}

// splitAt cuts text into blocks, each starting at a match of re, and
// returns each block with the first submatch of its start.
func splitAt(text string, re *regexp.Regexp) []alertRule {
	locs := re.FindAllStringSubmatchIndex(text, -1)
	out := make([]alertRule, 0, len(locs))
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out = append(out, alertRule{name: text[loc[2]:loc[3]], body: text[loc[0]:end]})
	}
	return out
}

func loadAlerts(t *testing.T) []alertRule {
	t.Helper()
	rules := splitAt(readText(t, "prometheus/alerts.yml"), alertStart)
	if len(rules) == 0 {
		t.Fatal("prometheus/alerts.yml has no alerting rule")
	}
	return rules
}

func TestAlertRulesAreComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range loadAlerts(t) {
		if !alertName.MatchString(r.name) {
			t.Errorf("alert %q: want a CamelCase name starting with Observerd", r.name)
		}
		if seen[r.name] {
			t.Errorf("alert %q is defined twice", r.name)
		}
		seen[r.name] = true
		if !forClause.MatchString(r.body) {
			t.Errorf("alert %s has no for: duration", r.name)
		}
		if !severityKey.MatchString(r.body) {
			t.Errorf("alert %s has no severity label of critical, warning or info", r.name)
		}
		if got := len(annotation.FindAllString(r.body, -1)); got != 2 {
			t.Errorf("alert %s has %d of the summary and description annotations, want 2", r.name, got)
		}
		if !strings.Contains(r.body, "$labels.") {
			t.Errorf("alert %s: want annotations that name the subject through $labels", r.name)
		}
	}
}

func TestEveryInvariantHasAnAlert(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "node_down", want: "critical"},
		{give: "redis_disconnected", want: "critical"},
		{give: "high_latency", want: "warning"},
		{give: "over_limit", want: "warning"},
		{give: "ghost_allowing", want: "warning"},
		{give: "counter_drift", want: "warning"},
		{give: "counter_without_ttl", want: "warning"},
		{give: "sequence_key_leak", want: "info"},
		{give: "source_stale", want: "warning"},
		{give: "redis_slow", want: "warning"},
		{give: "clock_skew", want: "warning"},
		{give: "ttl_beyond_window", want: "warning"},
		{give: "hot_key", want: "info"},
		{give: "over_throttling", want: "warning"},
		{give: "fail_open", want: "critical"},
	}
	rules := loadAlerts(t)
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			selector := `observerd_invariant_violation{invariant="` + tt.give + `"}`
			var found []string
			for _, r := range rules {
				if !strings.Contains(r.body, selector) {
					continue
				}
				found = append(found, r.name)
				m := severityKey.FindStringSubmatch(r.body)
				if m == nil || m[1] != tt.want {
					t.Errorf("alert %s on %s: severity %v, want %s", r.name, tt.give, m, tt.want)
				}
			}
			if len(found) != 1 {
				t.Errorf("alerts on %s: %v, want exactly one", selector, found)
			}
		})
	}
}

// TestEveryAlertRaisedAndCleared checks that alerts_test.yml raises every
// alert and later clears it again.
func TestEveryAlertRaisedAndCleared(t *testing.T) {
	raised := map[string]time.Duration{}
	cleared := map[string]time.Duration{}
	for _, c := range splitAt(readText(t, "prometheus/alerts_test.yml"), testStart) {
		m := evalTime.FindStringSubmatch(c.body)
		if m == nil {
			t.Fatalf("test of %s has no eval_time", c.name)
		}
		at, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatalf("test of %s: eval_time %q: %v", c.name, m[1], err)
		}
		if noAlerts.MatchString(c.body) {
			cleared[c.name] = max(cleared[c.name], at)
			continue
		}
		if first, ok := raised[c.name]; !ok || at < first {
			raised[c.name] = at
		}
	}
	for _, r := range loadAlerts(t) {
		up, ok := raised[r.name]
		if !ok {
			t.Errorf("alerts_test.yml never raises %s", r.name)
			continue
		}
		if down, ok := cleared[r.name]; !ok || down <= up {
			t.Errorf("alerts_test.yml raises %s at %v but never clears it later", r.name, up)
		}
	}
}

// githubAnchor is the anchor GitHub gives a Markdown heading: lower case,
// punctuation but hyphens and underscores dropped, spaces turned into
// hyphens.
func githubAnchor(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the anchors of every heading of a Markdown text, and the
// heading each belongs to; a repeated heading gets -1, -2, ... as on
// GitHub. Fenced code blocks hold no headings.
func anchors(text string) map[string]string {
	out := map[string]string{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		m := heading.FindStringSubmatch(line)
		if fenced || m == nil {
			continue
		}
		a := githubAnchor(strings.ReplaceAll(m[1], "`", ""))
		if n := seen[a]; n > 0 {
			seen[a]++
			a = fmt.Sprintf("%s-%d", a, n)
		} else {
			seen[a] = 1
		}
		out[a] = m[1]
	}
	return out
}

func TestGithubAnchor(t *testing.T) {
	tests := []struct {
		give string
		want map[string]string
	}{
		{give: "# ObserverdNodeDown\n", want: map[string]string{"observerdnodedown": "ObserverdNodeDown"}},
		{give: "## What to do: `node_down`, fast!\n", want: map[string]string{"what-to-do-node_down-fast": "What to do: `node_down`, fast!"}},
		{give: "## A\n## A\n```\n# not a heading\n```\n", want: map[string]string{"a": "A", "a-1": "A"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, anchors(tt.give)); diff != "" {
				t.Errorf("anchors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEveryAlertHasARunbook: every rule carries a runbook_url annotation
// pointing at a section of docs/runbooks.md of its own, and that section
// shows how to confirm the alert from observerd's own answers.
func TestEveryAlertHasARunbook(t *testing.T) {
	doc := readText(t, runbooksDoc)
	sections := anchors(doc)
	used := map[string]string{}
	for _, r := range loadAlerts(t) {
		m := runbookURL.FindStringSubmatch(r.body)
		if m == nil {
			t.Errorf("alert %s has no runbook_url annotation", r.name)
			continue
		}
		anchor, ok := strings.CutPrefix(m[1], runbooksURL)
		if !ok {
			t.Errorf("alert %s: runbook_url %s does not start with %s", r.name, m[1], runbooksURL)
			continue
		}
		if _, ok := sections[anchor]; !ok {
			t.Errorf("alert %s: runbook_url anchor #%s matches no heading of %s", r.name, anchor, runbooksDoc)
			continue
		}
		if prev, dup := used[anchor]; dup {
			t.Errorf("alerts %s and %s share the runbook #%s", prev, r.name, anchor)
		}
		used[anchor] = r.name
		if body := runbookSection(doc, sections[anchor]); !strings.Contains(body, "curl -s") {
			t.Errorf("runbook #%s of %s shows no curl command to confirm it", anchor, r.name)
		}
	}
}

// runbookSection is the text of the section headed title, up to the next
// heading of any level outside a fenced code block.
func runbookSection(doc, title string) string {
	var b strings.Builder
	in, fenced := false, false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if m := heading.FindStringSubmatch(line); m != nil && !fenced {
			if in {
				break
			}
			in = m[1] == title
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
