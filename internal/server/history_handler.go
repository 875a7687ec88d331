package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/snapshot"
)

// Bounds of a /history answer: the points of aggregates, and the points
// of snapshot sections, each up to a whole snapshot's size to decompress
// and send. A range holding more is answered with a larger step, which
// the answer's step_ms says.
const (
	maxHistoryPoints = 1000
	maxSectionPoints = 100
)

// snapshotAt answers /snapshot?at=: the kept summary in force at that
// time, whole or a selection, with its ETag; 404 when history is off or
// holds nothing that old.
func (s *reads) snapshotAt(w http.ResponseWriter, r *http.Request, q snapshotQuery) {
	at, err := history.ParseTime(q.at, s.now())
	if err != nil {
		(&paramError{param: "at", err: err}).write(w)
		return
	}
	if !s.busy.take(w) {
		return
	}
	defer s.busy.release()
	sum, err := s.hist.At(at)
	if err != nil {
		s.notKept(w, err)
		return
	}
	etag := sum.ETag
	if q.sel != 0 {
		etag = selectedETag(etag, q.sel)
	}
	if etagMatches(r.Header["If-None-Match"], etag) {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	a := &answer{etag: etag, gzip: sum.Gzip}
	if q.sel != 0 || !acceptsGzip(r.Header["Accept-Encoding"]) {
		if a, err = s.summaryAnswer(sum, q.sel); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
	}
	writeAnswer(w, r, a)
}

// summaryAnswer is selection sel of sum, or the whole document.
func (s *reads) summaryAnswer(sum history.Summary, sel selection) (*answer, error) {
	doc, err := sum.JSON()
	if err != nil {
		return nil, err
	}
	if sel == 0 {
		return &answer{etag: sum.ETag, json: doc, gzip: sum.Gzip}, nil
	}
	members, err := snapshot.SplitMembers(doc)
	if err != nil {
		return nil, err
	}
	return selected(&snapshot.Published{Members: members, ETag: sum.ETag}, sel, &s.gz), nil
}

// notKept answers 404 when history is off or holds nothing for the time
// asked, saying what it keeps.
func (s *reads) notKept(w http.ResponseWriter, err error) {
	body := map[string]any{"error": err.Error()}
	var nk *history.NotKeptError
	if errors.As(err, &nk) {
		body["horizon_ms"] = nk.Horizon.Milliseconds()
		if !nk.Since.IsZero() {
			body["kept_since"], body["kept_until"] = nk.Since, nk.Until
		}
	}
	writeJSON(w, http.StatusNotFound, body)
}

// historyQuery is what a request to /history asks.
type historyQuery struct {
	since, until time.Time
	step         time.Duration // 0: every summary
	sel          selection     // 0: the aggregates; else sections of each summary
	sections     bool
}

// parseHistory reads the parameters of /history. since defaults to the
// start of the history, until to now.
func (s *reads) parseHistory(raw string) (historyQuery, *paramError) {
	now := s.now()
	q := historyQuery{since: time.Unix(0, 0), until: now}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return q, &paramError{param: "query", err: err}
	}
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &q.since}, {"until", &q.until}} {
		if v, ok := values[p.name]; ok {
			if *p.to, err = history.ParseTime(v[0], now); err != nil {
				return q, &paramError{param: p.name, err: err}
			}
		}
	}
	if q.since.After(q.until) {
		return q, &paramError{param: "since", err: fmt.Errorf("%s is after until %s", q.since.Format(time.RFC3339), q.until.Format(time.RFC3339))}
	}
	if v, ok := values["step"]; ok {
		if q.step, err = time.ParseDuration(v[0]); err != nil || q.step <= 0 {
			return q, &paramError{param: "step", err: fmt.Errorf("%q is not a positive duration such as 30s or 5m", v[0])}
		}
	}
	if v, ok := values["sections"]; ok {
		if q.sel, err = s.sel.parse(v); err != nil {
			return q, &paramError{param: "sections", err: err, valid: s.sel.names}
		}
		q.sections = true
	}
	return q, nil
}

// historyAnswer is the document /history answers.
type historyAnswer struct {
	// Step is the step used, in milliseconds: the one asked, or larger
	// when the range held more points than the bound; 0: every summary.
	Step   int64             `json:"step_ms"`
	Points []json.RawMessage `json:"points"`
}

// history answers /history: the kept summaries over a range, their
// aggregates or a selection of their sections, at most one per step.
// Its ETag hashes the answer, so that a client polling a range that has
// not changed gets 304.
func (s *reads) history(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	s.cors.apply(h, r.Header)
	q, perr := s.parseHistory(r.URL.RawQuery)
	if perr != nil {
		perr.write(w)
		return
	}
	if !s.busy.take(w) {
		return
	}
	defer s.busy.release()
	bound := maxHistoryPoints
	if q.sections {
		bound = maxSectionPoints
	}
	sums, step, err := s.hist.Between(q.since, q.until, q.step, bound)
	var nk *history.NotKeptError
	if errors.As(err, &nk) {
		err = nil // nothing kept yet: no point
	}
	if err != nil {
		s.notKept(w, err)
		return
	}
	out := historyAnswer{Step: step.Milliseconds(), Points: make([]json.RawMessage, 0, len(sums))}
	for _, sum := range sums {
		pt := json.RawMessage(sum.Point)
		if q.sections {
			a, err := s.summaryAnswer(sum, q.sel)
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
				return
			}
			pt = a.json
		}
		out.Points = append(out.Points, pt)
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	body = append(body, '\n')
	hash := fnv.New64a()
	_, _ = hash.Write(body)
	etag := `"` + strconv.FormatUint(hash.Sum64(), 36) + `"`
	if etagMatches(r.Header["If-None-Match"], etag) {
		h.Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	a := &answer{etag: etag, json: body}
	if acceptsGzip(r.Header["Accept-Encoding"]) {
		a.gzip = s.gz.Gzip(body)
	}
	writeAnswer(w, r, a)
}
