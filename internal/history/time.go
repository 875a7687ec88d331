package history

import (
	"fmt"
	"strings"
	"time"
)

// ParseTime reads a time as /snapshot?at=, /history and the status page
// take it: RFC 3339 (2026-12-05T08:30:00Z, fractions allowed), "now", or a
// negative Go duration relative to now (-20m, -90s, -1h30m).
func ParseTime(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return time.Time{}, fmt.Errorf("empty: want an RFC 3339 time or a negative duration such as -20m")
	case v == "now":
		return now, nil
	case strings.HasPrefix(v, "-"):
		d, err := time.ParseDuration(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a duration such as -20m or -90s", v)
		}
		return now.Add(d), nil
	}
	// A "+" of an offset left unescaped in a query arrives as a space.
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(v, " ", "+", 1))
	if err != nil {
		if _, derr := time.ParseDuration(v); derr == nil {
			return time.Time{}, fmt.Errorf("%q is ahead of now: a relative time is negative, such as -%s", v, v)
		}
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-05T08:30:00Z) nor a negative duration such as -20m", v)
	}
	return t, nil
}
