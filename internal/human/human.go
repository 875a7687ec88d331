// Package human holds what observerd's renderers for people write alike:
// the check's summary, the status page and the demo's line. Each keeps its
// own layout and its own number and duration formats, which differ on
// purpose; what they share is here.
package human

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/snapshot"
)

// Unknown is how plain text shows a value that is not known. The status
// page, typeset rather than a terminal's, shows an en dash instead.
const Unknown = "-"

// YesNo is "yes" or "no".
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Plural is n things, what being the singular that takes an s:
// "1 warning", "3 warnings".
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Printable is s as it is when a terminal shows it as it is, else quoted:
// a peer's names may hold control characters.
func Printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// BySeverity orders violations most severe first, an unknown severity
// last, for slices.SortStableFunc. Violations of one severity compare
// equal: a stable sort keeps their order, and a caller with an order of
// its own among them adds it with cmp.Or.
func BySeverity(a, b snapshot.Violation) int {
	return cmp.Compare(health.SeverityRank(a.Severity), health.SeverityRank(b.Severity))
}

// Figure is an evidence value written for people: a whole number as it is,
// another to three decimals without trailing zeros, below 1 to four
// significant digits, and beyond 10^15 in exponent notation. v must be
// finite (snapshot.Float.Valid): the caller writes what it shows for a
// value that is not known.
func Figure(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e15:
		return strconv.FormatFloat(v, 'g', 6, 64)
	case v == math.Trunc(v):
		return strconv.FormatInt(int64(v), 10)
	case a < 1:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// Share is count as a share of limit for people: whole percent, rounded
// down so that a key is never shown at a share it has not reached ("79%"
// for 7.99 of 10); "limit 0" for a limit of 0 or less, which refuses every
// request whatever the count.
func Share(count, limit int64) string {
	if limit <= 0 {
		return "limit 0"
	}
	if count > math.MaxInt64/100 {
		return strconv.FormatFloat(math.Floor(100*float64(count)/float64(limit)), 'f', 0, 64) + "%"
	}
	return strconv.FormatInt(100*count/limit, 10) + "%"
}

// Ratio is a share given as a fraction (0.8) in percent ("80%").
func Ratio(r float64) string { return Figure(100*r) + "%" }

// Bar is a text bar of n out of top, at most width cells wide; a non-zero
// n shows at least one cell.
func Bar(n, top int64, width int) string {
	if n <= 0 || top <= 0 {
		return ""
	}
	cells := max(1, int(n*int64(width)/top))
	return strings.Repeat("█", cells)
}

// Walk says how a walk of the keyspace went, in one line: "1.8s at 54350
// keys/s, 14.2% of Redis's time by commandstats within its budget of 15%".
func Walk(w snapshot.Walk) string {
	var b strings.Builder
	if w.Duration.Valid {
		b.WriteString(w.Duration.Round(time.Millisecond).String())
	} else {
		b.WriteString(Unknown)
	}
	if w.KeysPerSecond.Valid() {
		fmt.Fprintf(&b, " at %s keys/s", Figure(math.Round(float64(w.KeysPerSecond))))
	}
	if w.RedisShare.Valid() {
		fmt.Fprintf(&b, ", %s of Redis's time by %s", Ratio(float64(w.RedisShare)), Printable(w.ShareMeasuredBy))
	}
	switch w.PacedBy {
	case "budget":
		fmt.Fprintf(&b, " within its budget of %s", Ratio(float64(w.Budget)))
	case "interval":
		fmt.Fprintf(&b, ", over its budget of %s so as to finish within the poll's deadline", Ratio(float64(w.Budget)))
	case "max_keys_per_second":
		b.WriteString(", paced by OBSERVERD_REDIS_WALK_MAX_KEYS_PER_SECOND")
	case "unpaced":
		b.WriteString(", unpaced")
	default:
		fmt.Fprintf(&b, ", paced by %s", Printable(w.PacedBy))
	}
	return b.String()
}
