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
)

// snippetLen bounds how much of an unexpected body goes into an error.
const snippetLen = 128

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
		return fmt.Errorf("sample value %q: %w", s, err)
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
		return Result{}, &APIError{StatusCode: status, Type: scrub(r.ErrorType), Message: scrub(r.Error)}
	}
	if status < 200 || status > 299 {
		return Result{}, fmt.Errorf("%w %d %s: %q", ErrUnexpectedStatus, status, http.StatusText(status), scrub(snippet(body)))
	}
	if jsonErr != nil {
		return Result{}, fmt.Errorf("decode answer: %w", jsonErr)
	}
	if r.Status != "success" {
		return Result{}, fmt.Errorf("decode answer: status %q, want success or error", r.Status)
	}
	if r.Data == nil {
		return Result{}, errors.New("decode answer: no data")
	}
	res := Result{Type: r.Data.ResultType, Warnings: r.Warnings}
	switch r.Data.ResultType {
	case ResultVector:
		var samples []vectorSample
		if err := json.Unmarshal(r.Data.Result, &samples); err != nil {
			return Result{}, fmt.Errorf("decode vector: %w", err)
		}
		res.Vector = make([]Sample, 0, len(samples))
		for i, s := range samples {
			if s.Value == nil {
				return Result{}, fmt.Errorf("decode vector: sample %d has no float value", i)
			}
			res.Vector = append(res.Vector, Sample{Labels: s.Metric, Value: s.Value.value, Time: s.Value.time})
		}
	case ResultScalar:
		var p samplePair
		if err := json.Unmarshal(r.Data.Result, &p); err != nil {
			return Result{}, fmt.Errorf("decode scalar: %w", err)
		}
		res.Scalar = Sample{Value: p.value, Time: p.time}
	case "matrix", "string":
		return Result{}, fmt.Errorf("%w %q: use an instant vector or scalar query", ErrUnsupportedResult, r.Data.ResultType)
	default:
		return Result{}, fmt.Errorf("%w %q", ErrUnsupportedResult, r.Data.ResultType)
	}
	return res, nil
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
