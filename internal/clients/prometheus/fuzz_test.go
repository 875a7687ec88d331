package prometheus

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
)

// Bounds of what decoding one answer may cost, as a fixed part and a
// multiple of the body (the envelope, the raw result decoded again, label
// maps, the typed samples): the body is bounded by MaxBodyBytes, so this
// bounds the memory of one query.
const (
	allocSlack  = 64 << 10
	allocFactor = 64
	// minSampleBytes is the shortest sample of a vector: {"value":[0,"0"]}.
	minSampleBytes = 17
	// maxErrorLen bounds an error's text whatever the body.
	maxErrorLen = 2048
)

func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// canned is an api.Client that answers every request with one status and
// body, as if to a request that carried secret as its bearer token.
type canned struct {
	status int
	body   []byte
	secret string
}

func (c canned) URL(ep string, _ map[string]string) *url.URL { return &url.URL{Path: ep} }

func (c canned) Do(_ context.Context, req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("Authorization", "Bearer "+c.secret)
	return &http.Response{StatusCode: c.status, Request: req}, c.body, nil
}

// FuzzDecodeResponse runs a query that gets arbitrary answers of any
// status, through v1.API's decoding and the client's checks: no panic, a
// short error, allocations in proportion to the body, no more samples
// than the body holds, and sample times a time.Time holds.
func FuzzDecodeResponse(f *testing.F) {
	const secret = "s3cret"
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var res Result
		var err error
		peer := canned{status: status, body: body, secret: secret}
		alloc := allocated(func() { res, err = instantQuery(t.Context(), peer, "up") })
		if limit := uint64(allocSlack + allocFactor*len(body)); alloc > limit {
			t.Fatalf("decoding %d bytes allocated %d, more than %d", len(body), alloc, limit)
		}
		if err != nil {
			checkDecodeError(t, err, secret)
			return
		}
		if res.Type != ResultVector && res.Type != ResultScalar {
			t.Fatalf("accepted result type %q", res.Type)
		}
		if len(res.Vector) > len(body)/minSampleBytes {
			t.Fatalf("%d samples from %d bytes", len(res.Vector), len(body))
		}
		if len(res.Warnings) > maxWarnings {
			t.Fatalf("%d warnings kept", len(res.Warnings))
		}
		samples := res.Vector
		if res.Type == ResultScalar {
			samples = []Sample{res.Scalar}
		}
		for _, s := range samples {
			if s.Time.Year() < 1970 || s.Time.Year() > 2262 {
				t.Fatalf("accepted sample time %s", s.Time)
			}
		}
	})
}

func checkDecodeError(t *testing.T, err error, secret string) {
	t.Helper()
	if len(err.Error()) > maxErrorLen {
		t.Fatalf("error of %d bytes", len(err.Error()))
	}
	var apiErr *APIError
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error %q holds the secret", err)
	}
	if !errors.As(err, &apiErr) && !errors.Is(err, ErrBadAnswer) && !errors.Is(err, ErrUnexpectedStatus) && !errors.Is(err, ErrUnsupportedResult) {
		t.Fatalf("error %v matches no sentinel", err)
	}
}
