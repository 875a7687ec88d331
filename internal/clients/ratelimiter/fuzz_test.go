package ratelimiter

import (
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// The fuzz targets below run every decoder of a node's answers on arbitrary
// bodies. Each must return an answer or ErrBadAnswer, never panic, keep its
// error short, and allocate in proportion to the body: the body is bounded
// by MaxBodyBytes, so this bounds the memory one answer costs.

// allocSlack and allocFactor bound a decoder's allocations: a fixed part
// for the decoder's own state and the error, and a multiple of the body
// (encoding/json's wire structs, the typed result, slice growth).
const (
	allocSlack  = 64 << 10
	allocFactor = 64
)

// maxErrorLen bounds an error's text whatever the body.
const maxErrorLen = 2048

// allocated runs fn and returns the bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkDecoded fails the fuzz input when a decoder's error is not a bad
// answer or too long, when it allocated beyond its bound, or when it found
// more entries than the body can hold (an entry takes at least "{}").
func checkDecoded(t *testing.T, body []byte, err error, alloc uint64, entries int) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrBadAnswer) {
			t.Fatalf("error %v is not ErrBadAnswer", err)
		}
		if len(err.Error()) > maxErrorLen {
			t.Fatalf("error of %d bytes for a body of %d", len(err.Error()), len(body))
		}
	}
	if limit := uint64(allocSlack + allocFactor*len(body)); alloc > limit {
		t.Fatalf("decoding %d bytes allocated %d, more than %d", len(body), alloc, limit)
	}
	if entries > len(body)/2 {
		t.Fatalf("%d entries from %d bytes", entries, len(body))
	}
}

func FuzzDecodeHealth(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var h Health
		var err error
		alloc := allocated(func() { h, err = decodeHealth(body) })
		checkDecoded(t, body, err, alloc, 0)
		if err == nil && h.NodeID == "" {
			t.Fatalf("accepted a health answer without node_id: %q", body)
		}
	})
}

func FuzzDecodeNodes(f *testing.F) {
	berlin := time.FixedZone("CET", 3600)
	f.Fuzz(func(t *testing.T, body []byte) {
		var peers []Peer
		var err error
		alloc := allocated(func() { peers, err = decodeNodes(body, berlin) })
		checkDecoded(t, body, err, alloc, len(peers))
		for _, p := range peers {
			if p.ID == "" || p.Address == "" {
				t.Fatalf("accepted a peer without id or address: %+v", p)
			}
			if p.RegisteredAt != nil && (p.RegisteredAt.Before(minTimestamp) || p.RegisteredAt.After(maxTimestamp)) {
				t.Fatalf("accepted registered_at %s", p.RegisteredAt)
			}
		}
	})
}

func FuzzDecodeCounters(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var list []Counter
		var err error
		alloc := allocated(func() { list, err = decodeCounters(body) })
		checkDecoded(t, body, err, alloc, len(list))
		for _, c := range list {
			checkCounter(t, c)
			if c.Remaining > c.Limit {
				t.Fatalf("accepted remaining above the limit: %+v", c)
			}
		}
	})
}

func FuzzDecodeBlocks(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var list []Counter
		var err error
		alloc := allocated(func() { list, err = decodeBlocks(body) })
		checkDecoded(t, body, err, alloc, len(list))
		for _, c := range list {
			checkCounter(t, c)
		}
	})
}

func checkCounter(t *testing.T, c Counter) {
	t.Helper()
	if c.Count < 0 || c.Count > maxCount || c.Limit < 0 || c.Remaining < 0 {
		t.Fatalf("accepted an implausible counter %+v", c)
	}
}

func FuzzDecodeLimits(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var l *Limits
		var err error
		alloc := allocated(func() { l, err = decodeLimits(body) })
		checkDecoded(t, body, err, alloc, 0)
		if err == nil && (l.DefaultLimit < 0 || l.DefaultWindow < time.Millisecond || l.DefaultWindow > maxWindow) {
			t.Fatalf("accepted implausible limits %+v", *l)
		}
	})
}

func FuzzDecodeCheck(f *testing.F) {
	f.Fuzz(func(t *testing.T, status int, limit, remaining, reset string, body []byte) {
		h := http.Header{}
		for k, v := range map[string]string{"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": reset} {
			if v != "" {
				h.Set(k, v)
			}
		}
		var res CheckResult
		var err error
		alloc := allocated(func() { res, err = decodeCheck(status, h, body) })
		checkDecoded(t, body, err, alloc, 0)
		if err != nil {
			return
		}
		if res.Allowed != (status == http.StatusOK) || res.CurrentCount < 0 || res.Remaining < 0 || res.RetryAfter < 0 {
			t.Fatalf("accepted an implausible check result %+v for status %d", res, status)
		}
		for _, p := range []*int64{res.HeaderLimit, res.HeaderRemaining} {
			if p != nil && *p < 0 {
				t.Fatalf("accepted a negative header in %+v", res)
			}
		}
	})
}

func FuzzDecodeLimitOverride(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var o LimitOverride
		var err error
		alloc := allocated(func() { o, err = decodeLimitOverride(body) })
		checkDecoded(t, body, err, alloc, 0)
		if err == nil && (o.Limit < 0 || o.Window < time.Millisecond || o.Window > maxWindow) {
			t.Fatalf("accepted an implausible override %+v", o)
		}
	})
}

func FuzzDecodeReset(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		var err error
		alloc := allocated(func() { _, err = decodeReset(body) })
		checkDecoded(t, body, err, alloc, 0)
	})
}
