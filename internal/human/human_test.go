package human

import (
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/snapshot"
)

func TestYesNo(t *testing.T) {
	tests := []struct {
		give bool
		want string
	}{
		{true, "yes"},
		{false, "no"},
	}
	for _, tt := range tests {
		if got := YesNo(tt.give); got != tt.want {
			t.Errorf("YesNo(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestPlural(t *testing.T) {
	tests := []struct {
		give int
		want string
	}{
		{0, "0 warnings"},
		{1, "1 warning"},
		{2, "2 warnings"},
		{12, "12 warnings"},
	}
	for _, tt := range tests {
		if got := Plural(tt.give, "warning"); got != tt.want {
			t.Errorf("Plural(%d, warning) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{"plain", "node-1", "node-1"},
		{"empty", "", ""},
		{"spaces and unicode", "nœud 1 · ok", "nœud 1 · ok"},
		{"escape sequence", "node\x1b[2J", `"node\x1b[2J"`},
		{"newline", "a\nb", `"a\nb"`},
		{"tab", "a\tb", `"a\tb"`},
		{"quote in a printable name", `say "hi"`, `say "hi"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Printable(tt.give); got != tt.want {
				t.Errorf("Printable(%q) = %s, want %s", tt.give, got, tt.want)
			}
		})
	}
}

func TestBySeverity(t *testing.T) {
	v := func(subject, severity string) snapshot.Violation {
		return snapshot.Violation{Invariant: "x", Subject: subject, Severity: severity}
	}
	tests := []struct {
		name string
		give []snapshot.Violation
		want []string // subjects in order
	}{
		{"empty", nil, nil},
		{
			"most severe first",
			[]snapshot.Violation{v("i", health.SeverityInfo), v("w", health.SeverityWarning), v("c", health.SeverityCritical)},
			[]string{"c", "w", "i"},
		},
		{
			"unknown severity last",
			[]snapshot.Violation{v("?", "fatal"), v("i", health.SeverityInfo)},
			[]string{"i", "?"},
		},
		{
			"one severity keeps its order",
			[]snapshot.Violation{
				v("w1", health.SeverityWarning), v("c1", health.SeverityCritical),
				v("w2", health.SeverityWarning), v("c2", health.SeverityCritical),
			},
			[]string{"c1", "c2", "w1", "w2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := slices.Clone(tt.give)
			slices.SortStableFunc(vs, BySeverity)
			var got []string
			for _, v := range vs {
				got = append(got, v.Subject)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sorted %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFigure(t *testing.T) {
	tests := []struct {
		give float64
		want string
	}{
		{0, "0"},
		{3, "3"},
		{-250, "-250"},
		{7200000, "7200000"},
		{52.3415, "52.342"},
		{-2003.5, "-2003.5"},
		{1764921883.123456, "1764921883.123"},
		{0.5, "0.5"},
		{0.123456, "0.1235"},
		{0.000123456, "0.0001235"},
		{2e20, "2e+20"},
	}
	for _, tt := range tests {
		if got := Figure(tt.give); got != tt.want {
			t.Errorf("Figure(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestShare(t *testing.T) {
	tests := []struct {
		count, limit int64
		want         string
	}{
		{count: 8, limit: 10, want: "80%"},
		{count: 7, limit: 10, want: "70%"},
		{count: 799, limit: 1000, want: "79%"},
		{count: 12, limit: 10, want: "120%"},
		{count: 1, limit: 3, want: "33%"},
		{count: 2, limit: 3, want: "66%"},
		{count: 0, limit: 10, want: "0%"},
		{count: 3, limit: 0, want: "limit 0"},
		{count: 0, limit: 0, want: "limit 0"},
	}
	for _, tt := range tests {
		if got := Share(tt.count, tt.limit); got != tt.want {
			t.Errorf("Share(%d, %d) = %q, want %q", tt.count, tt.limit, got, tt.want)
		}
	}
	for give, want := range map[float64]string{0.8: "80%", 1: "100%", 0.333: "33.3%", 0.05: "5%"} {
		if got := Ratio(give); got != want {
			t.Errorf("Ratio(%v) = %q, want %q", give, got, want)
		}
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		n, top int64
		width  int
		want   int // cells
	}{
		{n: 0, top: 10, width: 30, want: 0},
		{n: 10, top: 10, width: 30, want: 30},
		{n: 5, top: 10, width: 30, want: 15},
		{n: 1, top: 1000, width: 30, want: 1}, // a non-zero count shows
		{n: 3, top: 0, width: 30, want: 0},
	}
	for _, tt := range tests {
		if got := utf8.RuneCountInString(Bar(tt.n, tt.top, tt.width)); got != tt.want {
			t.Errorf("Bar(%d, %d, %d) has %d cells, want %d", tt.n, tt.top, tt.width, got, tt.want)
		}
	}
}

func TestWalk(t *testing.T) {
	for _, tc := range []struct {
		give snapshot.Walk
		want string
	}{
		{snapshot.Walk{Duration: snapshot.Known(1843 * time.Millisecond), KeysPerSecond: 54350.4, RedisShare: 0.142, ShareMeasuredBy: "commandstats", Budget: 0.15, PacedBy: "budget"},
			"1.843s at 54350 keys/s, 14.2% of Redis's time by commandstats within its budget of 15%"},
		{snapshot.Walk{Duration: snapshot.Known(3 * time.Second), KeysPerSecond: 500000, RedisShare: 0.61, ShareMeasuredBy: "round_trips", Budget: 0.15, PacedBy: "interval"},
			"3s at 500000 keys/s, 61% of Redis's time by round_trips, over its budget of 15% so as to finish within the poll's deadline"},
		{snapshot.Walk{Duration: snapshot.Known(time.Second), KeysPerSecond: snapshot.Null(), RedisShare: snapshot.Null(), Budget: snapshot.Null(), PacedBy: "max_keys_per_second"},
			"1s, paced by OBSERVERD_REDIS_WALK_MAX_KEYS_PER_SECOND"},
		{snapshot.Walk{KeysPerSecond: snapshot.Null(), RedisShare: snapshot.Null(), Budget: 1, PacedBy: "unpaced"}, "-, unpaced"},
		{snapshot.Walk{KeysPerSecond: snapshot.Null(), RedisShare: snapshot.Null(), PacedBy: "\x1b[31m"}, `-, paced by "\x1b[31m"`},
	} {
		if got := Walk(tc.give); got != tc.want {
			t.Errorf("Walk(%+v) = %q, want %q", tc.give, got, tc.want)
		}
	}
}
