package prometheus

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// answer is a handler that always answers the same.
func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// jsonAnswer is a JSON answer with the given status.
func jsonAnswer(status int, body string) http.HandlerFunc {
	return answer(status, "application/json", body)
}

// serve starts h and returns a client for it.
func serve(t *testing.T, h http.Handler, opts Options) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", srv.URL, err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c, srv
}

// formatSamples renders samples as "k=v,k=v value" with labels sorted and
// values as strconv writes them (NaN, +Inf, -Inf), so that NaN compares.
func formatSamples(samples []Sample) []string {
	out := make([]string, 0, len(samples))
	for _, s := range samples {
		labels := make([]string, 0, len(s.Labels))
		for k, v := range s.Labels {
			labels = append(labels, k+"="+v)
		}
		sort.Strings(labels)
		out = append(out, strings.Join(labels, ",")+" "+strconv.FormatFloat(float64(s.Value), 'g', -1, 64))
	}
	return out
}

func vector(samples string) string {
	return `{"status":"success","data":{"resultType":"vector","result":[` + samples + `]}}`
}

func TestQuery(t *testing.T) {
	tests := []struct {
		name         string
		give         string
		wantType     string
		wantSamples  []string
		wantWarnings []string
	}{
		{
			name: "vector",
			give: vector(`{"metric":{"instance":"10.0.0.1:8000","job":"ratelimiter"},"value":[1700000000.123,"1.5"]},
				{"metric":{"instance":"10.0.0.2:8000"},"value":[1700000000.123,"0"]}`),
			wantType:    ResultVector,
			wantSamples: []string{"instance=10.0.0.1:8000,job=ratelimiter 1.5", "instance=10.0.0.2:8000 0"},
		},
		{
			name: "special values",
			give: vector(`{"metric":{"i":"nan"},"value":[1,"NaN"]},{"metric":{"i":"pinf"},"value":[1,"+Inf"]},
				{"metric":{"i":"ninf"},"value":[1,"-Inf"]},{"metric":{"i":"exp"},"value":[1,"1e-3"]}`),
			wantType:    ResultVector,
			wantSamples: []string{"i=nan NaN", "i=pinf +Inf", "i=ninf -Inf", "i=exp 0.001"},
		},
		{
			name:        "empty vector",
			give:        vector(``),
			wantType:    ResultVector,
			wantSamples: []string{},
		},
		{
			name:        "scalar",
			give:        `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42.5"]}}`,
			wantType:    ResultScalar,
			wantSamples: []string{" 42.5"},
		},
		{
			name:        "scalar NaN",
			give:        `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"NaN"]}}`,
			wantType:    ResultScalar,
			wantSamples: []string{" NaN"},
		},
		{
			name: "warnings and unknown fields",
			give: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}],"extra":1},
				"warnings":["partial data"],"infos":["something new"]}`,
			wantType:     ResultVector,
			wantSamples:  []string{" 2"},
			wantWarnings: []string{"partial data"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := serve(t, jsonAnswer(http.StatusOK, tt.give), Options{})
			got, err := c.Query(t.Context(), "up")
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if got.Type != tt.wantType {
				t.Errorf("Type = %q, want %q", got.Type, tt.wantType)
			}
			samples := got.Vector
			if got.Type == ResultScalar {
				samples = []Sample{got.Scalar}
			}
			if s := formatSamples(samples); !slices.Equal(s, tt.wantSamples) {
				t.Errorf("samples = %q, want %q", s, tt.wantSamples)
			}
			if !slices.Equal(got.Warnings, tt.wantWarnings) {
				t.Errorf("Warnings = %q, want %q", got.Warnings, tt.wantWarnings)
			}
		})
	}
}

func TestQuerySampleTime(t *testing.T) {
	c, _ := serve(t, jsonAnswer(http.StatusOK, vector(`{"metric":{},"value":[1700000000.123,"1"]}`)), Options{})
	got, err := c.Query(t.Context(), "up")
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	want := time.UnixMilli(1700000000123).UTC()
	if !got.Vector[0].Time.Equal(want) {
		t.Errorf("Time = %s, want %s", got.Vector[0].Time, want)
	}
}

func TestQueryErrors(t *testing.T) {
	hugeBody := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"status":"success","data":`))
			_, _ = w.Write(bytes.Repeat([]byte(" "), DefaultMaxBodyBytes+1))
		}
	}
	tests := []struct {
		name     string
		give     http.HandlerFunc
		wantAPI  *APIError // when the answer is Prometheus's own error
		wantIs   error
		wantText string
	}{
		{
			name:    "400 bad_data",
			give:    jsonAnswer(http.StatusBadRequest, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}`),
			wantAPI: &APIError{StatusCode: 400, Type: "bad_data", Message: "1:5: parse error: unexpected end of input"},
		},
		{
			name:    "422 execution",
			give:    jsonAnswer(http.StatusUnprocessableEntity, `{"status":"error","errorType":"execution","error":"query processing would load too many samples"}`),
			wantAPI: &APIError{StatusCode: 422, Type: "execution", Message: "query processing would load too many samples"},
		},
		{
			name:    "503 timeout",
			give:    jsonAnswer(http.StatusServiceUnavailable, `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`),
			wantAPI: &APIError{StatusCode: 503, Type: "timeout", Message: "query timed out in expression evaluation"},
		},
		{
			name:    "error status with 200",
			give:    jsonAnswer(http.StatusOK, `{"status":"error","errorType":"internal","error":"boom"}`),
			wantAPI: &APIError{StatusCode: 200, Type: "internal", Message: "boom"},
		},
		{
			name:     "503 html",
			give:     answer(http.StatusServiceUnavailable, "text/html", "<html>\n<body><h1>503 Service Temporarily Unavailable</h1></body>\n</html>"),
			wantIs:   ErrUnexpectedStatus,
			wantText: `503 Service Unavailable: "<html> <body><h1>503 Service Temporarily Unavailable</h1></body> </html>"`,
		},
		{
			name:     "500 empty",
			give:     answer(http.StatusInternalServerError, "text/plain", ""),
			wantIs:   ErrUnexpectedStatus,
			wantText: "500 Internal Server Error",
		},
		{
			name:     "404 json without status",
			give:     jsonAnswer(http.StatusNotFound, `{"message":"not found"}`),
			wantIs:   ErrUnexpectedStatus,
			wantText: "404 Not Found",
		},
		{
			name:     "garbage",
			give:     answer(http.StatusOK, "text/plain", "\x00\x01 not json at all"),
			wantText: "decode answer",
		},
		{
			name:     "truncated json",
			give:     jsonAnswer(http.StatusOK, `{"status":"success","data":{"resultType":"vector","result":[`),
			wantText: "decode answer",
		},
		{
			name:     "odd status",
			give:     jsonAnswer(http.StatusOK, `{"status":"pending"}`),
			wantText: `status "pending"`,
		},
		{
			name:     "no data",
			give:     jsonAnswer(http.StatusOK, `{"status":"success"}`),
			wantText: "no data",
		},
		{
			name:   "huge body",
			give:   hugeBody(http.StatusOK),
			wantIs: ErrBodyTooLarge,
		},
		{
			name:   "huge error body",
			give:   hugeBody(http.StatusBadGateway),
			wantIs: ErrBodyTooLarge,
		},
		{
			name:     "matrix rejected",
			give:     jsonAnswer(http.StatusOK, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]}]}}`),
			wantIs:   ErrUnsupportedResult,
			wantText: `"matrix"`,
		},
		{
			name:     "string rejected",
			give:     jsonAnswer(http.StatusOK, `{"status":"success","data":{"resultType":"string","result":[1,"hello"]}}`),
			wantIs:   ErrUnsupportedResult,
			wantText: `"string"`,
		},
		{
			name:     "bad sample value",
			give:     jsonAnswer(http.StatusOK, vector(`{"metric":{},"value":[1,"fast"]}`)),
			wantText: `"fast"`,
		},
		{
			name:     "numeric sample value",
			give:     jsonAnswer(http.StatusOK, vector(`{"metric":{},"value":[1,2]}`)),
			wantText: "sample value",
		},
		{
			name:     "sample arity",
			give:     jsonAnswer(http.StatusOK, vector(`{"metric":{},"value":[]}`)),
			wantText: "sample time 0",
		},
		{
			name:     "native histogram sample",
			give:     jsonAnswer(http.StatusOK, vector(`{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}`)),
			wantText: "no float value",
		},
		{
			name:     "labels not strings",
			give:     jsonAnswer(http.StatusOK, vector(`{"metric":{"a":1},"value":[1,"1"]}`)),
			wantText: "decode vector",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := serve(t, tt.give, Options{})
			_, err := c.Query(t.Context(), "up")
			if err == nil {
				t.Fatal("Query succeeded, want an error")
			}
			if !strings.Contains(err.Error(), c.Endpoint()) {
				t.Errorf("error %q does not name the endpoint %s", err, c.Endpoint())
			}
			var apiErr *APIError
			isAPI := errors.As(err, &apiErr)
			if tt.wantAPI != nil {
				if !isAPI {
					t.Fatalf("error %q is not an *APIError", err)
				}
				if *apiErr != *tt.wantAPI {
					t.Errorf("APIError = %+v, want %+v", *apiErr, *tt.wantAPI)
				}
			} else if isAPI {
				t.Errorf("error %q is an *APIError, want not", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}
