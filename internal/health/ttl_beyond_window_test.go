package health

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// longTTLs lists counters whose TTL the walk found beyond their window's,
// of total in all.
func longTTLs(total int64, ks ...snapshot.KeyTTL) func(*Input) {
	return func(in *Input) {
		in.Redis.TTLBeyondWindow = ks
		in.Redis.Counters.KeysTTLBeyondWindow = total
	}
}

func TestTTLBeyondWindow(t *testing.T) {
	outlives := func(key, message string) seen {
		return seen{subject: key, message: message, sources: []string{SourceObserverd, source.Redis}}
	}
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name: "a counter that outlives its window",
			steps: []judgement{{
				give: longTTLs(1, snapshot.KeyTTL{Key: "a", TTL: time.Minute, Window: 10 * time.Second}),
				want: []seen{outlives("a", `^counter key "a" expires in 1m0s, beyond the 11s its window of 10s gives it \(1 keys in all\)$`)},
			}},
		},
		{
			name: "a window of a fraction of a second is rounded up, the TTL to the second",
			steps: []judgement{{
				give: longTTLs(4, snapshot.KeyTTL{Key: "b", TTL: 4600 * time.Millisecond, Window: 1500 * time.Millisecond}),
				want: []seen{outlives("b", `^counter key "b" expires in 5s, beyond the 3s its window of 1\.5s gives it \(4 keys in all\)$`)},
			}},
		},
		{
			name: "every counter listed is a subject",
			steps: []judgement{{
				give: longTTLs(250,
					snapshot.KeyTTL{Key: "user:1", TTL: time.Hour, Window: time.Minute},
					snapshot.KeyTTL{Key: "user:2", TTL: 2 * time.Minute, Window: time.Minute},
				),
				want: []seen{
					outlives("user:1", `^counter key "user:1" expires in 1h0m0s, beyond the 1m1s its window of 1m0s gives it \(250 keys in all\)$`),
					outlives("user:2", `^counter key "user:2" expires in 2m0s, beyond the 1m1s`),
				},
			}},
		},
		{
			name: "a counter that no longer outlives its window clears",
			steps: []judgement{
				{give: longTTLs(1, snapshot.KeyTTL{Key: "a", TTL: time.Minute, Window: 10 * time.Second}), want: []seen{outlives("a", "1m0s")}},
				{at: 10 * time.Second},
			},
		},
		{
			name:  "no counter outlives its window",
			steps: []judgement{{give: longTTLs(0)}},
		},
		{
			name: "stale redis is unknown, and a reported counter is kept",
			steps: []judgement{
				{give: longTTLs(1, snapshot.KeyTTL{Key: "a", TTL: time.Minute, Window: 10 * time.Second}), want: []seen{outlives("a", "1m0s")}},
				{at: 10 * time.Second, give: redisStale, want: []seen{{
					subject: "a", message: "1m0s", sources: []string{SourceObserverd, source.Redis}, kept: true,
				}}, unknown: true},
			},
		},
		{
			name: "a counter seen only in stale data is not raised",
			steps: []judgement{{
				give:    both(redisStale, longTTLs(1, snapshot.KeyTTL{Key: "a", TTL: time.Minute, Window: 10 * time.Second})),
				unknown: true,
			}},
		},
		{
			name:  "no redis section yet is unknown",
			steps: []judgement{{give: func(in *Input) { in.Redis = nil }, unknown: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "ttl_beyond_window", tt.steps) })
	}
}
