package statuspage

import (
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/statuspage/pagedom"
)

// svgElement is what the tests read of an SVG element.
type svgElement struct {
	name  string
	attrs map[string]string
	text  string
}

// parseSVG decodes one SVG fragment as strict XML and returns its
// elements in document order.
func parseSVG(t *testing.T, fragment string) []svgElement {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(fragment))
	dec.Strict = true
	var out []svgElement
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, fragment)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			el := svgElement{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				el.attrs[a.Name.Local] = a.Value
			}
			out = append(out, el)
		case xml.EndElement:
			depth--
		case xml.CharData:
			if len(out) > 0 {
				out[len(out)-1].text += strings.TrimSpace(string(tok))
			}
		}
	}
	if depth != 0 {
		t.Fatalf("SVG ends %d elements deep", depth)
	}
	return out
}

// svgFragments cuts every <svg>...</svg> out of a page.
func svgFragments(page string) []string {
	return regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
}

// TestTrendChartsAreWellFormedSVG renders a page after a trend of real
// snapshots with gaps and checks each chart as XML: its lines stay within
// the plot, a gap breaks a line, the axes are labelled.
func TestTrendChartsAreWellFormedSVG(t *testing.T) {
	f := newFixture(t)
	f.publishAll()
	p := newTestPage(f, Options{TrendWindow: time.Minute, TrendPoints: 60})
	for i := range 30 {
		// Prometheus without a series for a while: rates unknown.
		prom := promSection()
		prom.AllowedPerSecond, prom.BlockedPerSecond = snapshot.Float(10+i), snapshot.Float(i%3)
		if i >= 10 && i < 15 {
			prom.AllowedPerSecond, prom.BlockedPerSecond = snapshot.Null(), snapshot.Null()
		}
		now := f.clock.Now()
		f.store.Update(snapshot.SourceState{Source: "prometheus", LastAttempt: now, LastSuccess: now, Section: prom})
		p.hist.observe(f.store.Load().Snapshot)
		f.clock.Add(time.Second)
	}
	page := body(t, p)
	fragments := svgFragments(page)
	if len(fragments) != 2 {
		t.Fatalf("%d SVG charts, want 2", len(fragments))
	}
	rates := parseSVG(t, fragments[0])
	var lines, labels []string
	for _, el := range rates {
		switch el.name {
		case "polyline":
			lines = append(lines, el.attrs["class"])
			checkPoints(t, el.attrs["points"])
		case "text":
			labels = append(labels, el.text)
		}
	}
	// Each rate is drawn in two segments, before and after the gap.
	if want := []string{"allowed", "allowed", "blocked", "blocked"}; !cmp.Equal(lines, want) {
		t.Errorf("polylines %q, want %q", lines, want)
	}
	if want := []string{"39", "0", "11:59:29", "12:00:29 UTC"}; !cmp.Equal(labels, want) {
		t.Errorf("axis labels %q, want %q", labels, want)
	}
	keys := parseSVG(t, fragments[1])
	if n := countElements(keys, "polyline"); n != 1 {
		t.Errorf("keys chart has %d polylines, want 1", n)
	}
	doc := pagedom.Parse(t, page)
	if got := pagedom.Text(pagedom.ByID(doc, "trend-rates")); !strings.Contains(got, "allowed/s 39 (min 10, max 39)") || !strings.Contains(got, "blocked/s 2 (min 0, max 2)") {
		t.Errorf("rates legend %q", got)
	}
}

func countElements(els []svgElement, name string) int {
	n := 0
	for _, el := range els {
		if el.name == name {
			n++
		}
	}
	return n
}

// checkPoints fails unless every point of an SVG points list lies in the
// plot area.
func checkPoints(t *testing.T, points string) {
	t.Helper()
	for _, p := range strings.Fields(points) {
		x, y, ok := strings.Cut(p, ",")
		fx, errX := strconv.ParseFloat(x, 64)
		fy, errY := strconv.ParseFloat(y, 64)
		if !ok || errX != nil || errY != nil || fx < plotLeft || fx > plotRight || fy < plotTop || fy > plotBottom {
			t.Errorf("point %q outside the plot [%d,%d]x[%d,%d]", p, plotLeft, plotRight, plotTop, plotBottom)
		}
	}
}

// TestChartWithoutData: a chart with no known value draws nothing and
// says so; one whose values are all zero still has an axis.
func TestChartWithoutData(t *testing.T) {
	none := []sample{{At: t0, Allowed: snapshot.Null(), Blocked: snapshot.Null()}}
	if c := trendCharts(none, time.Minute)[0]; !c.Empty {
		t.Errorf("rates chart of unknown rates = %+v, want empty", c)
	}
	if cs := trendCharts(nil, time.Minute); !cs[0].Empty || !cs[1].Empty {
		t.Errorf("charts of no sample = %+v, want empty", cs)
	}
	zero := []sample{{At: t0, Allowed: 0, Blocked: 0, KeysKnown: true}, {At: t0.Add(time.Second), Allowed: 0, Blocked: 0, KeysKnown: true}}
	c := trendCharts(zero, time.Minute)[1]
	if c.Empty || c.YMin != "0" || c.YMax != "1" || len(c.Series[0].Segments) != 1 {
		t.Errorf("keys chart of zeros = %+v, want an axis 0 to 1 and one line", c)
	}
	checkPoints(t, c.Series[0].Segments[0])

	// On a page: Prometheus has not answered, so the rates chart is empty,
	// and still well-formed.
	f := newFixture(t)
	f.publish()
	page := body(t, newTestPage(f, Options{}))
	fragments := svgFragments(page)
	if len(fragments) != 2 {
		t.Fatalf("%d SVG charts, want 2", len(fragments))
	}
	if els := parseSVG(t, fragments[0]); countElements(els, "polyline") != 0 || els[len(els)-1].text != "no data yet" {
		t.Errorf("empty rates chart %+v, want no line and a note", els)
	}
	parseSVG(t, fragments[1])
}
