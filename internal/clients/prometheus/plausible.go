package prometheus

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Range is the plausible range of a query's values by what they mean,
// inclusive. Only the caller knows what a query means; the client checks
// the shape of an answer, Result.Check its values.
type Range struct {
	Min, Max float64
}

// Ranges of the values of the node metrics' queries.
var (
	// RateRange is a per-second rate of checks, for a node or the whole
	// cluster: rate() is never negative. Every check is one Lua script on
	// one shared Redis, which runs scripts one at a time: a million per
	// second is beyond any deployment, so 1e9 leaves a wide margin and
	// still refuses the values a broken counter or a unit mistake produces
	// (1e18, 1e308).
	RateRange = Range{Min: 0, Max: 1e9}
	// LatencyRange is a check latency in seconds. A check is one round
	// trip to Redis; an hour is not a latency but a unit mistake
	// (milliseconds exported as seconds), and the contract's buckets end
	// at one second.
	LatencyRange = Range{Min: 0, Max: 3600}
	// CounterRange is a counter of checks since a node started.
	CounterRange = Range{Min: 0, Max: 1e15}
	// TimestampRange is a Unix time in seconds, 1970 to 5138.
	TimestampRange = Range{Min: 0, Max: 1e11}
	// UpRange is a scrape's health: 0 or 1, or an average of them.
	UpRange = Range{Min: 0, Max: 1}
)

// maxLabelsShown bounds the labels an error quotes.
const maxLabelsShown = 128

// Check returns an error wrapping ErrBadAnswer that names the first value
// of r outside rg: its series' labels and the value. NaN and ±Inf pass:
// they are ordinary answers (a histogram without observations yields NaN)
// that the caller treats as "no data".
func (r Result) Check(rg Range) error {
	samples := r.Vector
	if r.Type == ResultScalar {
		samples = []Sample{r.Scalar}
	}
	for _, s := range samples {
		v := s.Value
		if math.IsNaN(v) || math.IsInf(v, 0) || (v >= rg.Min && v <= rg.Max) {
			continue
		}
		return fmt.Errorf("%w: sample %s = %g, want %g to %g", ErrBadAnswer, labelText(s.Labels), v, rg.Min, rg.Max)
	}
	return nil
}

// labelText is labels as {k="v", ...}, sorted and cut short.
func labelText(labels map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
		if b.Len() > maxLabelsShown {
			return b.String()[:maxLabelsShown] + "...}"
		}
	}
	b.WriteByte('}')
	return b.String()
}
