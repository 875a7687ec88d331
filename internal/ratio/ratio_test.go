package ratio

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		give string
		want Ratio
	}{
		{give: "0.8", want: Ratio{Num: 4, Den: 5}},
		{give: "1", want: Ratio{Num: 1, Den: 1}},
		{give: "1.0", want: Ratio{Num: 1, Den: 1}},
		{give: ".95", want: Ratio{Num: 19, Den: 20}},
		{give: "0.333", want: Ratio{Num: 333, Den: 1000}},
		{give: "4/5", want: Ratio{Num: 4, Den: 5}},
		{give: "0.000000001", want: Ratio{Num: 1, Den: 1_000_000_000}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := Parse(tt.give)
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q) = %v, %v; want %v", tt.give, got, err, tt.want)
			}
			if !got.Valid() {
				t.Errorf("Parse(%q) = %v, not Valid", tt.give, got)
			}
			back, err := Parse(got.String())
			if err != nil || back != got {
				t.Errorf("Parse(%q) = %v, %v; want %v back", got.String(), back, err, got)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "0", want: "must be above 0 and at most 1, got 0"},
		{give: "0.0", want: "must be above 0 and at most 1"},
		{give: "1.01", want: "must be above 0 and at most 1, got 1.01"},
		{give: "5/4", want: "must be above 0 and at most 1"},
		{give: "-0.5", want: "not a decimal share"},
		{give: "80%", want: "not a decimal share"},
		{give: "8e-1", want: "not a decimal share"},
		{give: "0x1p-1", want: "not a decimal share"},
		{give: "NaN", want: "not a decimal share"},
		{give: "", want: "not a number"},
		{give: "1/0", want: "not a number"},
		{give: "0..8", want: "not a number"},
		{give: "0." + strings.Repeat("1", 39), want: "not a decimal share"},
		{give: "0." + strings.Repeat("1", 20), want: "more digits than a share needs"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := Parse(tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, %v; want an error containing %q", tt.give, got, err, tt.want)
			}
		})
	}
}

// TestReached: the boundary is exact, 8 of 10 is at 0.8 and 7 of 10 is
// not; a limit of 0 is reached by any count.
func TestReached(t *testing.T) {
	eight := MustParse("0.8")
	tests := []struct {
		name         string
		ratio        Ratio
		count, limit int64
		want         bool
	}{
		{name: "8 of 10 at 0.8", ratio: eight, count: 8, limit: 10, want: true},
		{name: "7 of 10 below 0.8", ratio: eight, count: 7, limit: 10, want: false},
		{name: "80 of 100", ratio: eight, count: 80, limit: 100, want: true},
		{name: "79 of 100", ratio: eight, count: 79, limit: 100, want: false},
		{name: "at the limit", ratio: eight, count: 10, limit: 10, want: true},
		{name: "over the limit", ratio: eight, count: 12, limit: 10, want: true},
		{name: "4 of 5", ratio: eight, count: 4, limit: 5, want: true},
		{name: "3 of 5", ratio: eight, count: 3, limit: 5, want: false},
		{name: "1 of 1", ratio: eight, count: 1, limit: 1, want: true},
		{name: "0 of 1", ratio: eight, count: 0, limit: 1, want: false},
		{name: "limit 0 with no count", ratio: eight, count: 0, limit: 0, want: true},
		{name: "limit 0 with a count", ratio: eight, count: 3, limit: 0, want: true},
		{name: "ratio 1 at the limit", ratio: MustParse("1"), count: 10, limit: 10, want: true},
		{name: "ratio 1 one below", ratio: MustParse("1"), count: 9, limit: 10, want: false},
		{name: "a third, 1 of 3", ratio: MustParse("1/3"), count: 1, limit: 3, want: true},
		{name: "0.333 of 1000 is 333", ratio: MustParse("0.333"), count: 333, limit: 1000, want: true},
		{name: "0.333 of 1000 is not 332", ratio: MustParse("0.333"), count: 332, limit: 1000, want: false},
		{name: "huge figures, no overflow", ratio: eight, count: math.MaxInt64 / 5 * 4, limit: math.MaxInt64 / 5 * 5, want: true},
		{name: "huge figures, one below", ratio: eight, count: math.MaxInt64/5*4 - 1, limit: math.MaxInt64 / 5 * 5, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ratio.Reached(tt.count, tt.limit); got != tt.want {
				t.Errorf("%v.Reached(%d, %d) = %v, want %v", tt.ratio, tt.count, tt.limit, got, tt.want)
			}
		})
	}
}

func TestCompareShares(t *testing.T) {
	tests := []struct {
		name string
		a, b [2]int64 // count, limit
		want int
	}{
		{name: "higher share first", a: [2]int64{9, 10}, b: [2]int64{8, 10}, want: -1},
		{name: "lower share after", a: [2]int64{8, 10}, b: [2]int64{9, 10}, want: 1},
		{name: "equal shares tie", a: [2]int64{8, 10}, b: [2]int64{80, 100}, want: 0},
		{name: "share, not count", a: [2]int64{5, 2}, b: [2]int64{90, 100}, want: -1},
		{name: "limit 0 above any finite share", a: [2]int64{0, 0}, b: [2]int64{1000, 1}, want: -1},
		{name: "finite below limit 0", a: [2]int64{1000, 1}, b: [2]int64{3, 0}, want: 1},
		{name: "two limit 0 tie", a: [2]int64{1, 0}, b: [2]int64{7, 0}, want: 0},
		{name: "huge, no overflow", a: [2]int64{math.MaxInt64, math.MaxInt64 - 1}, b: [2]int64{math.MaxInt64 - 1, math.MaxInt64}, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompareShares(tt.a[0], tt.a[1], tt.b[0], tt.b[1]); got != tt.want {
				t.Errorf("CompareShares(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	var v struct {
		R Ratio `json:"r"`
	}
	if err := json.Unmarshal([]byte(`{"r":"0.8"}`), &v); err != nil || v.R != (Ratio{4, 5}) {
		t.Fatalf("Unmarshal = %v, %v", v.R, err)
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"r":"4/5"}` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"r":"2"}`), &v); err == nil {
		t.Errorf("Unmarshal of 2 succeeded: %v", v.R)
	}
}
