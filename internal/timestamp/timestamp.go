// Package timestamp parses the registration timestamps that rate limiter
// nodes write: RFC 3339 with an offset, or ISO 8601 as Python's
// datetime.isoformat() writes it, in local time without an offset.
package timestamp

import (
	"cmp"
	"fmt"
	"strings"
	"time"
)

// layouts are RFC 3339 and isoformat() with and without an offset, with
// and without fractional seconds (Go's .999999999 accepts any number of
// digits). The space separator is what str(datetime) writes.
var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// Parse reads s. A timestamp without an offset is taken in loc (the nodes'
// local time zone; nil means UTC, the usual zone of a container). The
// result is in UTC.
func Parse(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("parse timestamp: empty")
	}
	for _, layout := range layouts {
		if t, err := time.ParseInLocation(layout, s, cmp.Or(loc, time.UTC)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parse timestamp %q: neither RFC 3339 nor ISO 8601 without offset", s)
}
