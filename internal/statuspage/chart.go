package statuspage

import (
	"strconv"
	"strings"
	"time"
)

// The plot area of a trend chart, in SVG user units:
// [plotLeft, plotRight] x [plotTop, plotBottom]. page.tmpl draws the
// 560 x 150 frame around it, the axes and their labels, in these numbers.
const (
	plotLeft   = 64
	plotRight  = 550
	plotTop    = 10
	plotBottom = 120
)

// chart is one trend drawn as inline SVG: its series share the y axis,
// which runs from 0 to the largest value shown.
type chart struct {
	ID, Title  string
	Series     []series
	Empty      bool   // no valid value at all: nothing to draw
	YMax, YMin string // axis labels
	XFrom, XTo string
}

// series is one line of a chart. A value that is not known breaks the
// line: each segment is one polyline.
type series struct {
	Name, Class string
	Segments    []string // SVG points lists
	Min, Max    string   // of the values shown, or none
	Last        string
	Dot         *point // the newest value, when it is known
}

// point is a position in the chart, formatted.
type point struct{ X, Y string }

// seriesData is a series' values, one per sample; ok false: not known.
type seriesData struct {
	name, class string
	value       func(sample) (float64, bool)
	format      func(float64) string
}

// newChart lays the samples (oldest first) out on a window that ends at
// the newest sample; without a known value it is empty.
func newChart(id, title string, samples []sample, window time.Duration, data []seriesData) chart {
	c := chart{ID: id, Title: title, Empty: true}
	top, seen := 0.0, false
	for _, d := range data {
		for _, s := range samples {
			if v, ok := d.value(s); ok {
				top, seen = max(top, v), true
			}
		}
	}
	if !seen {
		return c
	}
	if top <= 0 {
		top = 1
	}
	c.Empty = false
	end := samples[len(samples)-1].At
	c.XFrom, c.XTo = clock(end.Add(-window)), clock(end)
	c.YMin, c.YMax = data[0].format(0), data[0].format(top)
	for _, d := range data {
		c.Series = append(c.Series, plot(d, samples, end, window, top))
	}
	return c
}

// plot draws one series of values in [0, top] over the window ending at end.
func plot(d seriesData, samples []sample, end time.Time, window time.Duration, top float64) series {
	s := series{Name: d.name, Class: d.class, Min: none, Max: none, Last: none}
	var seg []string // "x,y" points
	flush := func() {
		if len(seg) > 0 {
			s.Segments = append(s.Segments, strings.Join(seg, " "))
			seg = nil
		}
	}
	lo, hi, seen := 0.0, 0.0, false
	var x, y float64
	for _, p := range samples {
		v, ok := d.value(p)
		if !ok {
			flush()
			continue
		}
		if !seen || v < lo {
			lo = v
		}
		hi, seen = max(hi, v), true
		x = max(plotRight-float64(plotRight-plotLeft)*end.Sub(p.At).Seconds()/window.Seconds(), plotLeft)
		y = plotBottom - float64(plotBottom-plotTop)*v/top
		seg = append(seg, coordinate(x)+","+coordinate(y))
	}
	flush()
	if seen {
		s.Min, s.Max = d.format(lo), d.format(hi)
	}
	// The dot marks the newest value: a line of one point shows nothing.
	if v, ok := d.value(samples[len(samples)-1]); ok {
		s.Last = d.format(v)
		s.Dot = &point{X: coordinate(x), Y: coordinate(y)}
	}
	return s
}

func coordinate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// trendCharts are the page's two charts: the request rates and the
// number of counter keys.
func trendCharts(samples []sample, window time.Duration) []chart {
	rates := []seriesData{
		{name: "allowed/s", class: "allowed", format: formatRate,
			value: func(s sample) (float64, bool) { return float64(s.Allowed), s.Allowed.Valid() }},
		{name: "blocked/s", class: "blocked", format: formatRate,
			value: func(s sample) (float64, bool) { return float64(s.Blocked), s.Blocked.Valid() }},
	}
	keys := []seriesData{{name: "keys", class: "keys", format: formatCount,
		value: func(s sample) (float64, bool) { return float64(s.Keys), s.KeysKnown }}}
	return []chart{
		newChart("trend-rates", "Requests per second", samples, window, rates),
		newChart("trend-keys", "Counter keys", samples, window, keys),
	}
}

func formatRate(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0"), ".")
}

func formatCount(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
