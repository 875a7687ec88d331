package health

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBuiltinDeclarations(t *testing.T) {
	s, errs := Parse(Builtin(), func(string) string { return "" })
	if len(errs) > 0 {
		t.Fatalf("built-in declarations: %v", errs)
	}
	tests := []struct {
		give     string
		severity string
		want     Setting
	}{
		{"node_down", SeverityCritical, Setting{}},
		{"redis_disconnected", SeverityCritical, Setting{}},
		{"high_latency", SeverityWarning, Setting{Grace: time.Minute, Threshold: 100 * time.Millisecond}},
		{"over_limit", SeverityWarning, Setting{}},
		{"ghost_allowing", SeverityWarning, Setting{}},
		{"counter_drift", SeverityWarning, Setting{Grace: 30 * time.Second, Threshold: int64(5)}},
		{"counter_without_ttl", SeverityWarning, Setting{}},
		{"sequence_key_leak", SeverityInfo, Setting{Threshold: int64(10000)}},
		{"source_stale", SeverityWarning, Setting{}},
		{"redis_slow", SeverityWarning, Setting{Grace: 30 * time.Second, Threshold: 50 * time.Millisecond}},
		{"clock_skew", SeverityWarning, Setting{Threshold: 2 * time.Second}},
		{"ttl_beyond_window", SeverityWarning, Setting{}},
		{"hot_key", SeverityInfo, Setting{Grace: time.Minute, Threshold: 0.5}},
		{"over_throttling", SeverityWarning, Setting{Grace: 30 * time.Second, Threshold: 0.5}},
		{"fail_open", SeverityCritical, Setting{}},
	}
	if got := s.Names(); len(got) != len(tests) {
		t.Fatalf("table covers %d invariants, want %d: %q", len(tests), len(got), got)
	}
	for i, tt := range tests {
		inv := Builtin()[i]
		if inv.Name != tt.give || inv.Severity != tt.severity {
			t.Errorf("invariant %d: %s (%s), want %s (%s)", i, inv.Name, inv.Severity, tt.give, tt.severity)
		}
		if got := s.Of(tt.give); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.give, got, tt.want)
		}
	}
}

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name string
		give map[string]string
		want []string
	}{
		{
			name: "negative grace",
			give: map[string]string{"COUNTER_DRIFT_GRACE": "-1s"},
			want: []string{"COUNTER_DRIFT_GRACE: must not be negative, got -1s"},
		},
		{
			name: "zero latency threshold",
			give: map[string]string{"HIGH_LATENCY_THRESHOLD": "0s"},
			want: []string{"HIGH_LATENCY_THRESHOLD: must be positive, got 0s"},
		},
		{
			name: "negative count thresholds",
			give: map[string]string{"COUNTER_DRIFT_THRESHOLD": "-1", "SEQUENCE_KEY_LEAK_THRESHOLD": "-2"},
			want: []string{
				"COUNTER_DRIFT_THRESHOLD: must not be negative, got -1",
				"SEQUENCE_KEY_LEAK_THRESHOLD: must not be negative, got -2",
			},
		},
		{
			name: "shares beyond their bounds",
			give: map[string]string{"HOT_KEY_THRESHOLD": "1.5", "OVER_THROTTLING_THRESHOLD": "0"},
			want: []string{
				"HOT_KEY_THRESHOLD: must be above 0 and at most 1, got 1.5",
				"OVER_THROTTLING_THRESHOLD: must be above 0 and at most 1, got 0",
			},
		},
		{
			name: "shares at their bounds",
			give: map[string]string{"HOT_KEY_THRESHOLD": "1", "OVER_THROTTLING_THRESHOLD": "0.01"},
		},
		{
			name: "zero redis_slow and clock_skew thresholds",
			give: map[string]string{"REDIS_SLOW_THRESHOLD": "0s", "CLOCK_SKEW_THRESHOLD": "0s"},
			want: []string{
				"REDIS_SLOW_THRESHOLD: must be positive, got 0s",
				"CLOCK_SKEW_THRESHOLD: must be positive, got 0s",
			},
		},
		{
			name: "share that does not parse",
			give: map[string]string{"HOT_KEY_THRESHOLD": "half"},
			want: []string{`HOT_KEY_THRESHOLD: strconv.ParseFloat: parsing "half": invalid syntax`},
		},
		{
			name: "values that do not parse",
			give: map[string]string{"HIGH_LATENCY_GRACE": "soon", "COUNTER_DRIFT_THRESHOLD": "many"},
			want: []string{
				`HIGH_LATENCY_GRACE: unable to parse duration: time: invalid duration "soon"`,
				`COUNTER_DRIFT_THRESHOLD: strconv.ParseInt: parsing "many": invalid syntax`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := Parse(Builtin(), func(name string) string { return tt.give[name] })
			errs = append(errs, s.Validate()...)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettingOfTheWrongKind(t *testing.T) {
	errs := Defaults(Builtin()).WithThreshold("high_latency", int64(5)).Validate()
	if len(errs) != 1 || errs[0].Error() != "HIGH_LATENCY_THRESHOLD: must be a time.Duration, got int64" {
		t.Errorf("Validate = %v", errs)
	}
}

func TestDeclarationsValidated(t *testing.T) {
	tests := []struct {
		name string
		give func([]Invariant)
		want string
	}{
		{name: "unknown severity", give: func(invs []Invariant) { invs[3].Severity = "fatal" }, want: `over_limit: severity "fatal" is not one of critical, warning, info`},
		{name: "empty severity", give: func(invs []Invariant) { invs[8].Severity = "" }, want: `source_stale: severity "" is not one of`},
		{name: "negative grace", give: func(invs []Invariant) { invs[5].Grace = -time.Second }, want: "counter_drift: default grace period -1s is negative"},
		{name: "bad default threshold", give: func(invs []Invariant) { invs[2].Threshold.Default = time.Duration(0) }, want: "high_latency: default threshold must be positive, got 0s"},
		{name: "threshold of no kind", give: func(invs []Invariant) { invs[2].Threshold.Default = 1 }, want: "high_latency: threshold: a threshold is"},
		{name: "name twice", give: func(invs []Invariant) { invs[1].Name = invs[0].Name }, want: "node_down: declared twice"},
		{name: "name not snake case", give: func(invs []Invariant) { invs[0].Name = "NodeDown" }, want: `NodeDown: name "NodeDown" is not snake_case`},
		{name: "no check", give: func(invs []Invariant) { invs[0].Check = nil }, want: "node_down: needs a check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			invs := Builtin()
			tt.give(invs)
			_, errs := Parse(invs, func(string) string { return "" })
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Errorf("Parse = %v, want one error containing %q", errs, tt.want)
			}
		})
	}
}

func TestVars(t *testing.T) {
	var got []string
	for _, v := range Vars(Builtin()[:3]) {
		got = append(got, v.Name+"="+v.Default+" "+v.Help)
	}
	want := []string{
		"NODE_DOWN_GRACE=0s node_down: how long a node must be down before it is reported",
		"REDIS_DISCONNECTED_GRACE=0s redis_disconnected: grace period",
		"HIGH_LATENCY_THRESHOLD=100ms high_latency: check latency P99 above which a node is slow",
		"HIGH_LATENCY_GRACE=60s high_latency: grace period",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Vars (-want +got):\n%s", diff)
	}
}

func TestSettingsWithoutGrace(t *testing.T) {
	s, _ := Parse(Builtin(), func(name string) string { return map[string]string{"OVER_LIMIT_GRACE": "1h"}[name] })
	got := s.WithoutGrace()
	for _, name := range got.Names() {
		if g := got.Of(name).Grace; g != 0 {
			t.Errorf("%s grace %s after WithoutGrace", name, g)
		}
	}
	if got.Of("high_latency").Duration() != 100*time.Millisecond || got.Of("counter_drift").Count() != 5 {
		t.Errorf("thresholds not kept: %+v", got)
	}
	if s.Of("over_limit").Grace != time.Hour || !slices.Equal(s.Names(), got.Names()) {
		t.Error("WithoutGrace changed the settings it was called on")
	}
}
