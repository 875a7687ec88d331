package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/redact"
)

// Result types of an instant query.
const (
	ResultVector = "vector"
	ResultScalar = "scalar"
)

// Errors matched with errors.Is.
var (
	// ErrUnsupportedResult is a result type the client does not take
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

// maxSampleTime bounds a sample's time: the times a time.Time holds in
// nanoseconds (until 2262). Prometheus writes the evaluation time, so
// anything later is garbage, and so is the Unix epoch or earlier, where
// the library leaves a sample that came without its [time, value] pair.
const maxSampleTime = model.Time(math.MaxInt64 / int64(time.Millisecond))

// snippetLen bounds how much of an unexpected body goes into an error.
const snippetLen = 128

// maxMessageLen bounds the message of an APIError, of a warning and of a
// decoding error: a PromQL error is a line, and the text ends up in the
// snapshot and logs.
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

// instantQuery runs query through c with v1.API and checks the answer.
func instantQuery(ctx context.Context, c api.Client, query string) (Result, error) {
	last := &lastAnswer{Client: c}
	value, warnings, _, err := v1.NewAPI(last).Query(ctx, query, time.Time{}, v1.WithTimeout(evalTimeout(ctx)))
	if err != nil || value == nil {
		return Result{}, last.explain(err)
	}
	res, err := convert(value)
	if err != nil {
		return Result{}, err
	}
	for _, w := range warnings[:min(len(warnings), maxWarnings)] {
		res.Warnings = append(res.Warnings, names.Cut(last.scrub(w), maxMessageLen))
	}
	return res, nil
}

// evalTimeout is the timeout Prometheus is asked to give up after: a
// little shorter than the time left, so that it answers with its own
// error before the caller stops listening. Prometheus reads whole numbers
// of a unit ("2s", "180ms"), not Go's "2.7s": the timeout is cut to whole
// seconds, or milliseconds under a second. 0 sends none.
func evalTimeout(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	left := time.Until(deadline)
	t := left - min(left/10, time.Second)
	if t >= time.Second {
		return t.Truncate(time.Second)
	}
	return t.Truncate(time.Millisecond)
}

// lastAnswer is an api.Client that keeps the last answer of one query:
// v1.API tells neither its status nor its body, which the errors need.
type lastAnswer struct {
	api.Client
	answered bool // false: the last request got no whole answer
	status   int
	body     []byte
	secrets  []string
}

// Do implements api.Client.
func (a *lastAnswer) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, body, err := a.Client.Do(ctx, req)
	a.answered = err == nil && resp != nil
	if a.answered {
		a.status, a.body, a.secrets = resp.StatusCode, body, sentSecrets(resp.Request)
	}
	return resp, body, err
}

// sentSecrets are the credentials of req's Authorization header, as the
// round trippers set it, to be scrubbed from what the peer answers in
// case Prometheus or a proxy in front of it echoes them.
func sentSecrets(req *http.Request) []string {
	if req == nil {
		return nil
	}
	_, credentials, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok {
		return nil
	}
	secrets := []string{credentials}
	if _, password, ok := req.BasicAuth(); ok {
		secrets = append(secrets, password)
	}
	return secrets
}

// scrub removes the credentials sent from text of the answer.
func (a *lastAnswer) scrub(s string) string { return redact.Secrets(s, a.secrets...) }

// envelope is what every answer of the query API holds besides its result.
type envelope struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      *struct {
		ResultType string `json:"resultType"`
	} `json:"data"`
}

// explain turns a query that failed (err) or came back without a result
// into the error callers match: Prometheus's own error answer as an
// *APIError whatever the status, another non-2xx status as
// ErrUnexpectedStatus, any other answer as ErrBadAnswer or
// ErrUnsupportedResult. Text from the answer is scrubbed, then cut short,
// so that a secret is never cut in half and shown in part.
func (a *lastAnswer) explain(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: answer exceeds %d bytes", ErrBodyTooLarge, tooLarge.Limit)
	case !a.answered:
		// url.Error repeats the request URL; the caller names the endpoint,
		// and the cause stays matchable.
		return redact.URLError(err)
	}
	var env envelope
	jsonErr := json.Unmarshal(a.body, &env)
	switch {
	case jsonErr == nil && env.Status == "error":
		return &APIError{StatusCode: a.status, Type: names.Cut(a.scrub(env.ErrorType), snippetLen), Message: names.Cut(a.scrub(env.Error), maxMessageLen)}
	case a.status < 200 || a.status > 299:
		// The start of the body on one line: a proxy's page says why.
		start := strings.Join(strings.Fields(string(a.body[:min(len(a.body), 4*snippetLen)])), " ")
		return fmt.Errorf("%w %d %s: %q", ErrUnexpectedStatus, a.status, http.StatusText(a.status), names.Cut(a.scrub(start), snippetLen))
	case jsonErr != nil:
		return fmt.Errorf("%w: decode answer: %w", ErrBadAnswer, jsonErr)
	case env.Status != "success":
		return fmt.Errorf("%w: decode answer: status %q, want success or error", ErrBadAnswer, names.Cut(a.scrub(env.Status), snippetLen))
	case env.Data == nil:
		return fmt.Errorf("%w: decode answer: no data", ErrBadAnswer)
	case env.Data.ResultType != ResultVector && env.Data.ResultType != ResultScalar:
		return fmt.Errorf("%w %q: use an instant vector or scalar query", ErrUnsupportedResult, names.Cut(a.scrub(env.Data.ResultType), snippetLen))
	case err == nil:
		return fmt.Errorf("%w: decode answer: no result", ErrBadAnswer)
	}
	// The envelope is sound: the library refused the result inside it.
	return fmt.Errorf("%w: decode %s: %s", ErrBadAnswer, env.Data.ResultType, names.Cut(a.scrub(err.Error()), maxMessageLen))
}

// convert turns a vector or scalar into a Result, refusing native
// histogram samples (they have no float value) and implausible times.
func convert(value model.Value) (Result, error) {
	switch v := value.(type) {
	case model.Vector:
		res := Result{Type: ResultVector, Vector: make([]Sample, 0, len(v))}
		for i, s := range v {
			if s == nil || s.Histogram != nil {
				return Result{}, fmt.Errorf("%w: decode vector: sample %d has no float value", ErrBadAnswer, i)
			}
			t, err := sampleTime(s.Timestamp)
			if err != nil {
				return Result{}, fmt.Errorf("%w: decode vector: %w", ErrBadAnswer, err)
			}
			labels := make(map[string]string, len(s.Metric))
			for k, lv := range s.Metric {
				labels[string(k)] = string(lv)
			}
			res.Vector = append(res.Vector, Sample{Labels: labels, Value: float64(s.Value), Time: t})
		}
		return res, nil
	case *model.Scalar:
		t, err := sampleTime(v.Timestamp)
		if err != nil {
			return Result{}, fmt.Errorf("%w: decode scalar: %w", ErrBadAnswer, err)
		}
		return Result{Type: ResultScalar, Scalar: Sample{Value: float64(v.Value), Time: t}}, nil
	}
	return Result{}, fmt.Errorf("%w %q: use an instant vector or scalar query", ErrUnsupportedResult, value.Type().String())
}

// sampleTime is t as a time.Time, when it is plausible.
func sampleTime(t model.Time) (time.Time, error) {
	if t <= 0 || t > maxSampleTime {
		return time.Time{}, fmt.Errorf("sample time %s: want after 1970 and before 2262", t)
	}
	return t.Time().UTC(), nil
}
