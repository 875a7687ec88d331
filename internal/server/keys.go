package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/explain"
	"github.com/observerd/observerd/internal/snapshot"
)

// defaultExplainTimeout bounds one explanation's reads of Redis and the
// nodes when Config sets none.
const defaultExplainTimeout = 5 * time.Second

// ExplainFunc explains one key, given as its bytes without the prefix.
type ExplainFunc func(ctx context.Context, key string) (*explain.Explanation, error)

// keys answers GET /keys/{key}: one key explained, read live.
type keys struct {
	explain ExplainFunc
	timeout time.Duration
	cors    *corsPolicy
	busy    *bound
	page    *keyPage
	gz      snapshot.Gzipper
}

// serve answers JSON, or HTML when the request prefers text/html. The
// path names the key as observerd publishes it (names.Clean), path-escaped:
// \xHH escapes are turned back into bytes, and a cut name is refused.
func (k *keys) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept, Accept-Encoding")
	k.cors.apply(h, r.Header)
	if k.explain == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "keys are not explained here: the redis source is disabled"})
		return
	}
	key, err := explain.KeyFromName(r.PathValue("key"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if !k.busy.take(w) {
		return
	}
	defer k.busy.release()
	ctx, cancel := context.WithTimeout(r.Context(), k.timeout)
	defer cancel()
	x, err := k.explain(ctx, key)
	switch {
	case err == nil:
	case errors.Is(err, explain.ErrBadKey):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	case errors.Is(err, explain.ErrWrongType):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	case r.Context().Err() != nil:
		w.WriteHeader(statusClientClosed)
		return
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "explain: " + err.Error()})
		return
	}
	k.write(w, r, x)
}

// write answers x as the page or its JSON, by what the request prefers.
func (k *keys) write(w http.ResponseWriter, r *http.Request, x *explain.Explanation) {
	h := w.Header()
	var err error
	a := &answer{}
	if prefersHTML(r.Header["Accept"]) {
		if a.json, err = k.page.render(x); err != nil {
			http.Error(w, "the page could not be rendered; ask for application/json", http.StatusInternalServerError)
			return
		}
		a.contentType = "text/html; charset=utf-8"
		h.Set("Content-Security-Policy", k.page.policy)
		h.Set("X-Content-Type-Options", "nosniff")
	} else {
		if a.json, err = json.Marshal(x); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		a.json = append(a.json, '\n')
	}
	if acceptsGzip(r.Header["Accept-Encoding"]) {
		a.gzip = k.gz.Gzip(a.json)
	}
	writeAnswer(w, r, a)
}

// prefersHTML reports whether Accept ranks text/html above
// application/json: a browser's Accept does, curl's */* does not.
func prefersHTML(values []string) bool {
	html, jsonQ := -1.0, -1.0
	wild := -1.0
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			media, params, _ := strings.Cut(part, ";")
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				if s, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
					if f, err := strconv.ParseFloat(s, 64); err == nil {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(media)) {
			case "text/html", "application/xhtml+xml":
				html = max(html, q)
			case "application/json", "application/*":
				jsonQ = max(jsonQ, q)
			case "*/*":
				wild = max(wild, q)
			}
		}
	}
	if jsonQ < 0 {
		jsonQ = wild
	}
	return html > 0 && html > jsonQ
}
