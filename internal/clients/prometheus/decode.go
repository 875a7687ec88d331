package prometheus

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Result types of an instant query.
const (
	ResultVector = "vector"
	ResultScalar = "scalar"
)

// Errors matched with errors.Is.
var (
	// ErrUnsupportedResult is a result type the client does not decode
	// (matrix, string).
	ErrUnsupportedResult = errors.New("unsupported result type")
	// ErrUnexpectedStatus is a non-2xx answer that is not one of
	// Prometheus's own error answers.
	ErrUnexpectedStatus = errors.New("unexpected status")
	// ErrBodyTooLarge is an answer longer than Options.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("answer too large")
	// ErrBadAnswer is an answer that is not what the query API returns:
	// not JSON, the wrong shape, or a value no sample has.
	ErrBadAnswer = errors.New("bad answer")
)

// maxSampleTime bounds a sample's time in Unix seconds: the times a
// time.Time holds in nanoseconds (until 2262). Prometheus writes the
// evaluation time, so anything later, or before 1970, is garbage.
const maxSampleTime = float64(math.MaxInt64 / int64(time.Second))

// snippetLen bounds how much of an unexpected body goes into an error.
const snippetLen = 128

// maxMessageLen bounds the message of an APIError and of a warning: a
// PromQL error is a line, and the text ends up in the snapshot and logs.
const maxMessageLen = 1024

// maxWarnings bounds the warnings kept from one answer.
const maxWarnings = 16

// Result is the answer to an instant query.
type Result struct {
	// Type is ResultVector or ResultScalar.
	Type string
	// Vector holds the samples of a vector result.
	Vector []Sample
	// Scalar is the value of a scalar result (no labels).
	Scalar Sample
	// Warnings are Prometheus's warnings about the query; the result is
	// still good.
	Warnings []string
}

// Sample is one value with its labels. NaN and ±Inf are ordinary values
// (a histogram without observations yields NaN) and stay as they came.
type Sample struct {
	Labels map[string]string
	Value  float64
	Time   time.Time
}

// APIError is an error answer of Prometheus itself: status "error" with an
// errorType (bad_data, execution, timeout, canceled, internal, unavailable,
// ...) and a message, whatever the HTTP status.
type APIError struct {
	StatusCode int
	Type       string
	Message    string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("prometheus error %s (HTTP %d): %s", e.Type, e.StatusCode, e.Message)
}

// response is the envelope of every answer of the HTTP API.
type response struct {
	Status    string        `json:"status"`
	Data      *responseData `json:"data"`
	ErrorType string        `json:"errorType"`
	Error     string        `json:"error"`
	Warnings  []string      `json:"warnings"`
}

type responseData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// vectorSample is one element of a vector result. A native histogram
// sample carries "histogram" instead of "value"; it has no Value then.
type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  *samplePair       `json:"value"`
}

// samplePair is [unix seconds, "value"]: values are strings so that NaN
// and ±Inf survive JSON.
type samplePair struct {
	time  time.Time
	value float64
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *samplePair) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	if len(raw) != 2 {
		return fmt.Errorf("sample: %d elements, want [time, value]", len(raw))
	}
	var ts float64
	if err := json.Unmarshal(raw[0], &ts); err != nil {
		return fmt.Errorf("sample time: %w", err)
	}
	var s string
	if err := json.Unmarshal(raw[1], &s); err != nil {
		return fmt.Errorf("sample value: %w", err)
	}
	// ParseFloat reads "NaN", "+Inf" and "-Inf" as Prometheus writes them.
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("sample value %q: %w", cut(s, snippetLen), errors.Unwrap(err))
	}
	if !(ts >= 0 && ts <= maxSampleTime) {
		return fmt.Errorf("sample time %g: want 0 to %g", ts, maxSampleTime)
	}
	p.time = time.UnixMilli(int64(math.Round(ts * 1000))).UTC()
	p.value = v
	return nil
}

// decodeResponse turns a bounded answer into a Result. scrub removes
// credentials from text taken from the answer.
func decodeResponse(body []byte, status int, scrub func(string) string) (Result, error) {
	var r response
	jsonErr := json.Unmarshal(body, &r)
	if jsonErr == nil && r.Status == "error" {
		// Scrubbed before cut, so that a secret is never cut in half and
		// shown in part.
		return Result{}, &APIError{StatusCode: status, Type: cut(scrub(r.ErrorType), snippetLen), Message: cut(scrub(r.Error), maxMessageLen)}
	}
	if status < 200 || status > 299 {
		return Result{}, fmt.Errorf("%w %d %s: %q", ErrUnexpectedStatus, status, http.StatusText(status), scrub(snippet(body)))
	}
	if jsonErr != nil {
		return Result{}, fmt.Errorf("%w: decode answer: %w", ErrBadAnswer, jsonErr)
	}
	if r.Status != "success" {
		return Result{}, fmt.Errorf("%w: decode answer: status %q, want success or error", ErrBadAnswer, r.Status)
	}
	if r.Data == nil {
		return Result{}, fmt.Errorf("%w: decode answer: no data", ErrBadAnswer)
	}
	res := Result{Type: r.Data.ResultType, Warnings: warnings(r.Warnings, scrub)}
	switch r.Data.ResultType {
	case ResultVector:
		var samples []vectorSample
		if err := json.Unmarshal(r.Data.Result, &samples); err != nil {
			return Result{}, fmt.Errorf("%w: decode vector: %w", ErrBadAnswer, err)
		}
		res.Vector = make([]Sample, 0, len(samples))
		for i, s := range samples {
			if s.Value == nil {
				return Result{}, fmt.Errorf("%w: decode vector: sample %d has no float value", ErrBadAnswer, i)
			}
			res.Vector = append(res.Vector, Sample{Labels: s.Metric, Value: s.Value.value, Time: s.Value.time})
		}
	case ResultScalar:
		var p samplePair
		if err := json.Unmarshal(r.Data.Result, &p); err != nil {
			return Result{}, fmt.Errorf("%w: decode scalar: %w", ErrBadAnswer, err)
		}
		res.Scalar = Sample{Value: p.value, Time: p.time}
	case "matrix", "string":
		return Result{}, fmt.Errorf("%w %q: use an instant vector or scalar query", ErrUnsupportedResult, r.Data.ResultType)
	default:
		return Result{}, fmt.Errorf("%w %q", ErrUnsupportedResult, cut(r.Data.ResultType, snippetLen))
	}
	return res, nil
}

// cut is s shortened to at most n bytes of valid UTF-8 plus "...".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// warnings are the first maxWarnings warnings, each cut short and scrubbed.
func warnings(list []string, scrub func(string) string) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, 0, min(len(list), maxWarnings))
	for _, w := range list[:min(len(list), maxWarnings)] {
		out = append(out, cut(scrub(w), maxMessageLen))
	}
	return out
}

// snippet is the start of a body on one line, for an error message.
func snippet(body []byte) string {
	// Only the start matters; do not split megabytes into words.
	body = body[:min(len(body), 4*snippetLen)]
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) <= snippetLen {
		return s
	}
	s = s[:snippetLen]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}
