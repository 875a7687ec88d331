package statuspage

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// benchPage is the page of a full snapshot; with history, after an hour
// of snapshots: a timeline and a trend at their bounds.
func benchPage(b *testing.B, history bool) *Page {
	b.Helper()
	f := newFixture(b)
	p := newTestPage(f, Options{})
	f.publishAll()
	for i := range 1200 {
		if !history {
			break
		}
		vs := fullViolations()
		vs = append(vs, snapshot.Violation{Invariant: "over_limit", Subject: fmt.Sprint("flap-", i%7), Severity: "warning", FirstSeen: f.clock.Now()})
		f.judge(vs, nil)
		prom := promSection()
		prom.AllowedPerSecond, prom.BlockedPerSecond = snapshot.Float(40+i%13), snapshot.Float(i%5)
		now := f.clock.Now()
		f.store.Update(snapshot.SourceState{Source: "prometheus", LastAttempt: now, LastSuccess: now, Section: prom})
		p.hist.observe(f.store.Load().Snapshot)
		f.clock.Add(3 * time.Second)
	}
	f.judge(fullViolations(), nil)
	f.publishAll()
	if rec := p.hist.copy(); history && (len(rec.Events) != defaultTimelineMax || len(rec.Trend) != defaultTrendPoints) {
		b.Fatalf("history of %d events and %d samples, want both at their bounds", len(rec.Events), len(rec.Trend))
	}
	return p
}

// BenchmarkRender is one render of the page of a full snapshot: just
// after start, and with a full history, the page's largest; then, beside
// it, a GET / of the same snapshot within the second, which serves the
// page rendered last.
func BenchmarkRender(b *testing.B) {
	for _, tt := range []struct {
		name    string
		history bool
	}{{"fresh", false}, {"full history", true}} {
		b.Run(tt.name, func(b *testing.B) {
			p := benchPage(b, tt.history)
			pub, now := p.opts.Store.Load(), p.opts.Now()
			var buf bytes.Buffer
			if err := p.render(&buf, pub, now); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				_ = p.render(&buf, pub, now)
			}
		})
		b.Run(tt.name+" served again", func(b *testing.B) {
			p := benchPage(b, tt.history)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			d := discard{h: http.Header{}}
			p.ServeHTTP(d, req)
			b.ReportAllocs()
			for b.Loop() {
				clear(d.h)
				p.ServeHTTP(d, req)
			}
		})
	}
}
