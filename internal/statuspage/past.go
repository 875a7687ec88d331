package statuspage

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	kept "github.com/observerd/observerd/internal/history"
)

// steps are the links of a page of the past, from the time it was asked
// for; a step past now leads to the live page.
var steps = []struct {
	label string
	d     time.Duration
}{
	{"−10 min", -10 * time.Minute},
	{"−1 min", -time.Minute},
	{"+1 min", time.Minute},
	{"+10 min", 10 * time.Minute},
}

// servePast renders the page of the kept summary in force at the time of
// ?at= (RFC 3339 or relative, such as -20m). It is rendered for each
// request, never cached: the cache holds the live page.
func (p *Page) servePast(w http.ResponseWriter, r *http.Request) {
	now := p.opts.Now()
	at, err := kept.ParseTime(r.URL.Query().Get("at"), now)
	if err != nil {
		http.Error(w, "at: "+err.Error(), http.StatusBadRequest)
		return
	}
	sum, err := p.opts.History.At(at)
	var nk *kept.NotKeptError
	switch {
	case errors.Is(err, kept.ErrOff):
		http.Error(w, err.Error()+": only the live page is shown", http.StatusNotFound)
		return
	case errors.As(err, &nk):
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	case err != nil:
		p.fail(w, err)
		return
	}
	snap, err := sum.Snapshot()
	if err != nil {
		p.fail(w, err)
		return
	}
	f := frame{
		Version: p.opts.Version, Now: sum.At, CSS: template.CSS(css), Script: template.JS(script), History: true,
		Past: &past{At: sum.At, Ago: ago(now, sum.At), Steps: stepsFrom(at, now)},
	}
	rec := p.hist.copy()
	rec.Events = keepBefore(rec.Events, sum.At)
	rec.Trend = keepBefore(rec.Trend, sum.At)
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "page", newView(f, snap, rec, p.hist.cfg)); err != nil {
		p.fail(w, err)
		return
	}
	p.write(w, buf.Bytes())
}

// stepsFrom are the links from a page asked for at, then the live page.
func stepsFrom(at, now time.Time) []step {
	out := make([]step, 0, len(steps)+1)
	for _, s := range steps {
		href := "."
		if t := at.Add(s.d); t.Before(now) {
			href = "?at=" + url.QueryEscape(t.UTC().Format(time.RFC3339))
		}
		out = append(out, step{Label: s.label, Href: href})
	}
	return append(out, step{Label: "now", Href: "."})
}

// keepBefore is the elements of s at or before t.
func keepBefore[T timed](s []T, t time.Time) []T {
	out := make([]T, 0, len(s))
	for _, e := range s {
		if !e.at().After(t) {
			out = append(out, e)
		}
	}
	return out
}

// fail answers 500, never half a page.
func (p *Page) fail(w http.ResponseWriter, err error) {
	p.opts.Logger.Error("render the status page", zap.Error(err))
	http.Error(w, "the status page could not be rendered; /snapshot still serves the data", http.StatusInternalServerError)
}
