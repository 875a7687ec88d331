package ratelimiter

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// maxBodyBytes bounds a request body: the API's bodies are a few fields.
const maxBodyBytes = 64 << 10

// routes builds the node's handler. Unknown paths and wrong methods answer
// the way the original's framework does ({"detail": ...} with 404 or 405),
// and a path switched to failing by a chaos knob answers 500.
func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	add := func(method, path string, h http.HandlerFunc) {
		mux.Handle(method+" "+path, h)
		// The path for every other method, which is answered 405.
		mux.Handle(path, http.NotFoundHandler())
	}
	add(http.MethodPost, "/check", n.handleCheck)
	add(http.MethodGet, "/health", n.handleHealth)
	add(http.MethodGet, "/api/nodes", n.handleNodes)
	add(http.MethodGet, "/api/counters", n.handleCounters)
	add(http.MethodGet, "/api/limits", n.handleLimits)
	add(http.MethodGet, "/api/blocks", n.handleBlocks)
	add(http.MethodPost, "/api/counters/{key}/reset", n.handleReset)
	add(http.MethodPut, "/api/limits/{key}", n.handleSetLimit)
	add(http.MethodGet, "/metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(n.log.Named("metrics")),
	}).ServeHTTP)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The Date of every answer is the node's own clock, as a server's
		// is: a node whose clock is off says so.
		w.Header().Set("Date", n.now().UTC().Format(http.TimeFormat))
		_, pattern := mux.Handler(r)
		_, route, withMethod := strings.Cut(pattern, " ")
		switch {
		case pattern == "":
			writeDetail(w, http.StatusNotFound, "Not Found")
		case !withMethod:
			writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		case n.isFailing(r.URL.Path) || n.isFailing(route):
			writeDetail(w, http.StatusInternalServerError, "chaos: "+route+" is failing")
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is already sent; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}

// writeDetail answers an error the way the original's framework does.
func writeDetail(w http.ResponseWriter, status int, detail any) {
	writeJSON(w, status, map[string]any{"detail": detail})
}

// serverError logs err and answers 500 without internals beyond err's text.
func (n *Node) serverError(w http.ResponseWriter, r *http.Request, err error) {
	n.log.Warn("request failed", zap.String("path", r.URL.Path), zap.Error(err))
	writeDetail(w, http.StatusInternalServerError, err.Error())
}

// validationError is one entry of a 422 answer, shaped like the original
// framework's request validation errors.
type validationError struct {
	Type string `json:"type"`
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
}

// readBody decodes r's body into v. When it does not decode, or has says
// the required field is absent, it answers 422 and reports false.
func readBody(w http.ResponseWriter, r *http.Request, v any, required string, has func() bool) bool {
	detail := decodeBody(w, r, v)
	if detail == nil && !has() {
		detail = []validationError{{Type: "missing", Loc: []any{"body", required}, Msg: "Field required"}}
	}
	if detail != nil {
		writeDetail(w, http.StatusUnprocessableEntity, detail)
	}
	return detail == nil
}

// decodeBody reads a bounded JSON object from r into v. A nil result means
// the body decoded; otherwise it is the 422 detail to answer.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) []validationError {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	raw, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return []validationError{{Type: "too_large", Loc: []any{"body"}, Msg: "Request body too large"}}
		}
		return []validationError{{Type: "body_read", Loc: []any{"body"}, Msg: "Could not read the request body"}}
	}
	// A JSON object is required: null, arrays and scalars do not decode
	// into the model.
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return []validationError{{Type: "json_invalid", Loc: []any{"body"}, Msg: "JSON decode error: a JSON object is required"}}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		loc := []any{"body"}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			loc = append(loc, te.Field)
		}
		return []validationError{{Type: "type_error", Loc: loc, Msg: "Input should be a valid " + wantType(te)}}
	}
	return nil
}

// wantType names the JSON type a field wanted.
func wantType(te *json.UnmarshalTypeError) string {
	if te == nil || te.Type == nil {
		return "value"
	}
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.String:
		return "string"
	}
	return te.Type.String()
}

// or is a field of a request body, or def when the body left it out.
func or(field *int64, def int64) int64 {
	if field != nil {
		return *field
	}
	return def
}
