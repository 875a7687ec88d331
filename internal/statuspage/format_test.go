package statuspage

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

func TestFormat(t *testing.T) {
	n := int64(42)
	up := true
	tests := []struct {
		name string
		give string
		want string
	}{
		{"readable sub-millisecond", readable(250 * time.Microsecond), "0.25ms"},
		{"readable milliseconds", readable(12500 * time.Microsecond), "12.5ms"},
		{"readable seconds", readable(5 * time.Second), "5.0s"},
		{"readable minutes", readable(130 * time.Second), "2m10s"},
		{"readable negative", readable(-2 * time.Millisecond), "-2.00ms"},
		{"short whole minutes", short(10 * time.Minute), "10m"},
		{"short whole hours", short(time.Hour), "1h"},
		{"short mixed", short(time.Hour + 90*time.Second), "1h1m30s"},
		{"short sub-second", short(500 * time.Millisecond), "500.0ms"},
		{"elapsed", elapsed(t0, t0.Add(-130*time.Second)), "2m10s"},
		{"elapsed in the future", elapsed(t0, t0.Add(time.Second)), "0s"},
		{"ago", ago(t0, t0.Add(-1500*time.Millisecond)), "1.5s ago"},
		{"ago long", ago(t0, t0.Add(-2*time.Hour)), "2h ago"},
		{"ago unknown", ago(t0, time.Time{}), "–"},
		{"duration unknown", formatDuration(snapshot.Duration{}), "–"},
		{"rate", formatFloat(40.25), "40.25"},
		{"rate whole", formatFloat(10), "10"},
		{"rate large", formatFloat(1234.5), "1234"},
		{"rate null", formatFloat(snapshot.Null()), "–"},
		{"ttl none", formatTTL(-1), "no TTL"},
		{"ttl", formatTTL(snapshot.Milliseconds(30 * time.Second)), "30.0s"},
		{"bytes", formatBytes(512), "512 B"},
		{"mebibytes", formatBytes(3 << 20), "3.0 MiB"},
		{"gibibytes", formatBytes(5 << 30), "5.0 GiB"},
		{"count", optCount(&n), "42"},
		{"count unknown", optCount(nil), "–"},
		{"up", formatUp(&up), "up"},
		{"up unknown", formatUp(nil), "–"},
		{"clock", clock(t0.Add(90 * time.Second)), "12:01:30"},
		{"clock zero", clock(time.Time{}), "–"},
	}
	for _, tt := range tests {
		if tt.give != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.give, tt.want)
		}
	}
}
