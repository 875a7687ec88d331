package redis

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

func TestParseOverride(t *testing.T) {
	long := strings.Repeat("9", 10000)
	tests := []struct {
		name    string
		give    map[string]string
		want    Override
		wantErr string
	}{
		{name: "limit and window", give: map[string]string{"limit": "5", "window_ms": "1000"}, want: Override{Key: "k", Limit: 5, Window: time.Second}},
		{name: "zero limit blocks all", give: map[string]string{"limit": "0"}, want: Override{Key: "k"}},
		{name: "empty window is the default", give: map[string]string{"limit": "5", "window_ms": ""}, want: Override{Key: "k", Limit: 5}},
		{name: "largest exact limit", give: map[string]string{"limit": "9007199254740992"}, want: Override{Key: "k", Limit: 1 << 53}},
		{name: "longest window", give: map[string]string{"limit": "1", "window_ms": "9223372036854"}, want: Override{Key: "k", Limit: 1, Window: 9223372036854 * time.Millisecond}},
		{name: "negative limit", give: map[string]string{"limit": "-1"}, wantErr: `limit "-1": want an integer from 0 to 2^53`},
		{name: "limit beyond a double", give: map[string]string{"limit": "9007199254740993"}, wantErr: `limit "9007199254740993"`},
		{name: "limit beyond int64", give: map[string]string{"limit": "9223372036854775808"}, wantErr: `limit "9223372036854775808"`},
		{name: "zero window", give: map[string]string{"limit": "1", "window_ms": "0"}, wantErr: `window_ms "0": want a positive integer of milliseconds`},
		{name: "negative window", give: map[string]string{"limit": "1", "window_ms": "-1000"}, wantErr: `window_ms "-1000"`},
		{name: "window beyond a Duration", give: map[string]string{"limit": "1", "window_ms": "9223372036855"}, wantErr: `window_ms "9223372036855"`},
		{name: "long value is quoted in part", give: map[string]string{"limit": long}, wantErr: `limit "` + long[:maxQuoteBytes] + `"... (10000 bytes)`},
		{name: "not UTF-8", give: map[string]string{"limit": "\xff\xfe"}, wantErr: `limit "\xff\xfe"`},
		{name: "no limit", give: map[string]string{"window_ms": "5"}, wantErr: "no limit field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOverride("k", tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseOverride = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseOverride = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseRegistryEntry(t *testing.T) {
	now := time.Date(2026, 1, 27, 12, 0, 0, 0, time.UTC)
	at := time.Date(2026, 1, 27, 1, 48, 37, 0, time.UTC)
	tests := []struct {
		name         string
		id           string
		give         map[string]string
		wantAddr     string
		wantAt       *time.Time
		wantProblems []string
		wantErr      string
	}{
		{name: "good", id: "node-1", give: map[string]string{"address": "10.0.0.1:8000", "registered_at": "2026-01-27T01:48:37"}, wantAddr: "10.0.0.1:8000", wantAt: &at},
		{name: "ipv6 and a name", id: "node-1", give: map[string]string{"address": "[::1]:8000"}, wantAddr: "[::1]:8000"},
		{name: "null time", id: "n", give: map[string]string{"address": "h:1", "registered_at": "None"}, wantAddr: "h:1"},
		{name: "no address", id: "n", give: map[string]string{}, wantProblems: []string{"no address field"}},
		{name: "no port", id: "n", give: map[string]string{"address": "10.0.0.1"}, wantProblems: []string{`address "10.0.0.1": want host:port`}},
		{name: "port 0", id: "n", give: map[string]string{"address": "h:0"}, wantProblems: []string{`address "h:0": want a port from 1 to 65535`}},
		{name: "port too big", id: "n", give: map[string]string{"address": "h:65536"}, wantProblems: []string{`address "h:65536": want a port from 1 to 65535`}},
		{name: "address not UTF-8", id: "n", give: map[string]string{"address": "h\xff:80"}, wantProblems: []string{`address "h\xff:80": not UTF-8`}},
		{name: "address with a newline", id: "n", give: map[string]string{"address": "h:80\n"}, wantProblems: []string{`address "h:80\n": not printable`}},
		{name: "URL for an address", id: "n", give: map[string]string{"address": "http://h:80"}, wantProblems: []string{`address "http://h:80": want host:port`}},
		{name: "time unparsable", id: "n", give: map[string]string{"address": "h:1", "registered_at": "yesterday"}, wantAddr: "h:1", wantProblems: []string{`registered_at "yesterday": neither RFC 3339 nor ISO 8601`}},
		{name: "time before 1970", id: "n", give: map[string]string{"address": "h:1", "registered_at": "0001-01-01T00:00:00"}, wantAddr: "h:1", wantProblems: []string{`registered_at "0001-01-01T00:00:00": before 1970`}},
		{name: "time far ahead", id: "n", give: map[string]string{"address": "h:1", "registered_at": "2026-01-28T15:00:00Z"}, wantAddr: "h:1", wantProblems: []string{`registered_at "2026-01-28T15:00:00Z": more than 26h0m0s after the server's clock`}},
		{name: "empty id", id: "", give: map[string]string{"address": "h:1"}, wantErr: "node id: empty"},
		{name: "id not UTF-8", id: "n\xc3", give: map[string]string{"address": "h:1"}, wantErr: "node id: not UTF-8"},
		{name: "id with control characters", id: "n\x1b[31m", give: map[string]string{"address": "h:1"}, wantErr: "node id: not printable"},
		{name: "id too long", id: strings.Repeat("n", 257), give: map[string]string{"address": "h:1"}, wantErr: "node id: longer than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRegistryEntry(tt.id, tt.give, time.UTC, now)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseRegistryEntry = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRegistryEntry: %v", err)
			}
			if got.ID != tt.id || got.Address != tt.wantAddr || strings.Join(got.Problems, "|") != strings.Join(tt.wantProblems, "|") {
				t.Errorf("ParseRegistryEntry = %+v, want address %q and problems %q", got, tt.wantAddr, tt.wantProblems)
			}
			if (got.RegisteredAt == nil) != (tt.wantAt == nil) || (got.RegisteredAt != nil && !got.RegisteredAt.Equal(*tt.wantAt)) {
				t.Errorf("RegisteredAt = %v, want %v", got.RegisteredAt, tt.wantAt)
			}
		})
	}
}

// TestWalkWithholdsBadRegistryData seeds registry hashes with nonsense in
// them: a key that names no node is left out with its reason, a bad field
// is withheld and said in Problems.
func TestWalkWithholdsBadRegistryData(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	pipe := rc.Pipeline()
	pipe.HSet(ctx, "ratelimiter:nodes:good", "address", "10.0.0.1:8000", "registered_at", "2026-01-27T01:48:37")
	pipe.HSet(ctx, "ratelimiter:nodes:bad-addr", "address", "10.0.0.2:8000\xff", "registered_at", "2026-01-27T01:48:37")
	pipe.HSet(ctx, "ratelimiter:nodes:future", "address", "10.0.0.3:8000", "registered_at", "9999-12-31T23:59:59")
	pipe.HSet(ctx, "ratelimiter:nodes:", "address", "10.0.0.4:8000")
	pipe.HSet(ctx, "ratelimiter:nodes:\x1b[31mred", "address", "10.0.0.5:8000")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c := newTestClient(t, Options{URL: srv.URL})
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", NodePrefix: "ratelimiter:nodes:"})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	var got []string
	for _, e := range res.Registry {
		got = append(got, fmt.Sprintf("%s %q %v %q", e.ID, e.Address, e.RegisteredAt != nil, e.Problems))
	}
	want := []string{
		`bad-addr "" true ["address \"10.0.0.2:8000\\xff\": not UTF-8"]`,
		`future "10.0.0.3:8000" false ["registered_at \"9999-12-31T23:59:59\": more than 26h0m0s after the server's clock"]`,
		`good "10.0.0.1:8000" true []`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Registry =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	skipped := res.RegistrySkipped
	if skipped.Count != 2 || len(skipped.Sample) != 2 ||
		skipped.Sample[0] != (Malformed{Key: `""`, Reason: "node id: empty"}) ||
		skipped.Sample[1] != (Malformed{Key: `"\x1b[31mred"`, Reason: "node id: not printable"}) {
		t.Errorf("RegistrySkipped = %+v", skipped)
	}
}
