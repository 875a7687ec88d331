package statuspage

import (
	"net/url"

	"github.com/observerd/observerd/internal/health"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/human"
	"github.com/observerd/observerd/internal/snapshot"
)

// none is what the page shows for a value that is not known.
const none = "–"

// funcs are the template's formatting functions. Each turns a value of the
// snapshot into text; html/template escapes the text.
func funcs() template.FuncMap {
	return template.FuncMap{
		"clock":      clock,
		"stamp":      stamp,
		"ms":         formatDuration,
		"rate":       formatFloat,
		"ago":        ago,
		"elapsed":    elapsed,
		"ttl":        formatTTL,
		"window":     func(m snapshot.Milliseconds) string { return short(time.Duration(m)) },
		"bytes":      formatBytes,
		"count":      optCount,
		"up":         formatUp,
		"yesno":      human.YesNo,
		"figure":     formatFigure,
		"keyPath":    KeyPath,
		"keySubject": keySubjects(),
		"share":      human.Share,
		"ratio":      human.Ratio,
		"walk":       func(w *snapshot.Walk) string { return human.Walk(*w) },
	}
}

// KeyPath is the path of GET /keys/{key} for a key's published name: the
// name path-escaped, so that a "/" in it stays within the key.
func KeyPath(name string) string { return "/keys/" + url.PathEscape(name) }

// keySubjects returns whether a violation of an invariant names a key, by
// the built-in invariants' subjects.
func keySubjects() func(invariant string) bool {
	keys := map[string]bool{}
	for _, inv := range health.Builtin() {
		if inv.Subject == health.SubjectKey {
			keys[inv.Name] = true
		}
	}
	return func(invariant string) bool { return keys[invariant] }
}

// clock is t's time of day in UTC: the page is read during an incident,
// when the day is known.
func clock(t time.Time) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format("15:04:05")
}

// stamp is t in RFC 3339, for datetime attributes and tooltips.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// readable is d written for a reader: sub-millisecond and millisecond
// durations with decimals, seconds with one, longer ones to the second.
func readable(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + readable(-max(d, -math.MaxInt64))
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

func formatDuration(d snapshot.Duration) string {
	if !d.Valid {
		return none
	}
	return readable(d.Duration)
}

// formatFigure is an evidence value, "–" when it is not known.
func formatFigure(f snapshot.Float) string {
	if !f.Valid() {
		return none
	}
	return human.Figure(float64(f))
}

func formatFloat(f snapshot.Float) string {
	if !f.Valid() {
		return none
	}
	return formatRate(float64(f))
}

// ago is how long before now t was, or "–" when t is not known: to a
// tenth of a second within the minute, to the second past it.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return none
	}
	d := max(now.Sub(t), 0)
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s ago"
	}
	return short(d) + " ago"
}

// elapsed is the time from t to now, to the second: "2m10s".
func elapsed(now, t time.Time) string { return short(max(now.Sub(t), 0)) }

// short is d to the second without trailing zero units: "2m10s", "15m",
// "1h".
func short(d time.Duration) string {
	if d > 0 && d < time.Second {
		return readable(d)
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func formatTTL(m snapshot.Milliseconds) string {
	if m < 0 {
		return "no TTL"
	}
	return readable(time.Duration(m))
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + suffix
}

func optCount(n *int64) string {
	if n == nil {
		return none
	}
	return strconv.FormatInt(*n, 10)
}

func formatUp(b *bool) string {
	switch {
	case b == nil:
		return none
	case *b:
		return "up"
	default:
		return "down"
	}
}
