package health

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// recentRates sets the cluster's allowed and blocked checks per second over
// the recent window, and its allowed checks per second over the last minute.
func recentRates(allowed, blocked, allowedMinute float64) func(*Input) {
	return func(in *Input) {
		in.Prometheus.AllowedRecent, in.Prometheus.BlockedRecent = snapshot.Float(allowed), snapshot.Float(blocked)
		in.Prometheus.AllowedPerSecond = snapshot.Float(allowedMinute)
	}
}

// limited is a sampled key at its limit whose sequence key holds n.
func limited(key string, n int64) snapshot.KeySample {
	return snapshot.KeySample{Key: key, Seq: n, Count: 100, Limit: 100}
}

// blocking sets how many keys Redis holds at or over their own limit.
func blocking(n int) func(*Input) { return func(in *Input) { in.Redis.BlocksTotal = n } }

func TestOverThrottling(t *testing.T) {
	throttled := func(message string) seen {
		return seen{subject: SubjectCluster, message: message, sources: []string{SourceObserverd, source.Prometheus, source.Redis}}
	}
	// twoSamples: the cluster's rates and Redis's keys at their limit at +0
	// and +10 s, the sampled keys' sequences at 0 then at the values given.
	// Without a rate, at +0, blocks are reported only while no key is at
	// its limit (first).
	twoSamples := func(give func(*Input), ks []snapshot.KeySample, first []seen, want ...seen) []judgement {
		zero := make([]snapshot.KeySample, len(ks))
		for i, k := range ks {
			zero[i] = k
			zero[i].Seq = 0
		}
		return []judgement{
			{give: both(give, sampled(zero...)), want: first},
			{at: 10 * time.Second, give: both(give, sampled(ks...)), want: want},
		}
	}
	// noneAtLimit is the violation while no key is at its limit and none
	// below it has a rate yet.
	noneAtLimit := []seen{throttled(`, yet its 0 keys at their limit account for 0\.0/s$`)}
	// The cluster blocks 60 of its 100 checks a second; its sequences
	// count every check (they rise faster than the 40 it admits).
	const b50 = `"b" \(10 of its limit 100, 50\.0 checks/s\)`
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name: "blocks the keys at their limit do not explain",
			steps: twoSamples(both(recentRates(40, 60, 40), blocking(1)), []snapshot.KeySample{limited("a", 200), seq("b", 500)}, nil,
				throttled(`^the cluster blocks 60% of its checks \(60\.0/s of 100\.0/s over the last 30s\), at or above the threshold of 50%, yet its 1 keys at their limit account for 20\.0/s; keys below their limit taking many checks: `+b50+`$`)),
		},
		{
			name:  "keys at their limit explain the blocks",
			steps: twoSamples(both(recentRates(40, 60, 40), blocking(1)), []snapshot.KeySample{limited("a", 400), seq("b", 500)}, nil),
		},
		{
			name:  "keys at their limit explaining exactly half the blocks",
			steps: twoSamples(both(recentRates(40, 60, 40), blocking(1)), []snapshot.KeySample{limited("a", 300), seq("b", 500)}, nil),
		},
		{
			name: "no key at its limit",
			steps: twoSamples(both(recentRates(40, 60, 40), blocking(0)), []snapshot.KeySample{seq("b", 500)}, noneAtLimit,
				throttled(`^the cluster blocks 60% of its checks \(60\.0/s of 100\.0/s over the last 30s\), at or above the threshold of 50%, yet its 0 keys at their limit account for 0\.0/s; keys below their limit taking many checks: `+b50+`$`)),
		},
		{
			name: "no key at its limit, with sequences that count admitted requests only",
			steps: twoSamples(both(recentRates(40, 60, 100), blocking(0)), []snapshot.KeySample{seq("b", 500)}, noneAtLimit,
				throttled(`yet its 0 keys at their limit account for 0\.0/s; keys below their limit taking many checks: `+b50+`$`)),
		},
		{
			name: "no key at its limit nor any key sampled",
			steps: []judgement{{
				give: both(recentRates(40, 60, 40), blocking(0)),
				want: []seen{throttled(`, yet its 0 keys at their limit account for 0\.0/s$`)},
			}},
		},
		{
			name:  "keys at their limit beyond the sample are not weighed",
			steps: twoSamples(both(recentRates(40, 60, 40), blocking(3)), []snapshot.KeySample{limited("a", 200), seq("b", 500)}, nil),
		},
		{
			name: "a key at its limit without a sequence key is not weighed",
			steps: twoSamples(both(recentRates(40, 60, 40), blocking(1)), []snapshot.KeySample{
				{Key: "a", Seq: -1, Count: 100, Limit: 100}, seq("b", 500),
			}, nil),
		},
		{
			name:  "sequences that count admitted requests only weigh no key at its limit",
			steps: twoSamples(both(recentRates(40, 60, 100), blocking(1)), []snapshot.KeySample{limited("a", 200), seq("b", 500)}, nil),
		},
		{
			name: "a blocked share of exactly the threshold",
			steps: twoSamples(both(recentRates(50, 50, 40), blocking(0)), []snapshot.KeySample{seq("b", 500)}, noneAtLimit,
				throttled(`^the cluster blocks 50% of its checks \(50\.0/s of 100\.0/s over the last 30s\), at or above the threshold of 50%`)),
		},
		{
			name:  "a blocked share just below the threshold",
			steps: twoSamples(both(recentRates(50.1, 49.9, 40), blocking(0)), []snapshot.KeySample{seq("b", 500)}, nil),
		},
		{
			name:  "a cluster below one check per second is not judged",
			steps: twoSamples(both(recentRates(0.4, 0.5, 0.4), blocking(0)), []snapshot.KeySample{seq("b", 5)}, nil),
		},
		{
			name: "the three busiest keys below their limit are named, busiest first",
			steps: twoSamples(both(recentRates(40, 60, 40), blocking(0)), []snapshot.KeySample{
				seq("b1", 50), seq("b2", 400), seq("b3", 200), seq("b4", 100), seq("quiet", 9),
			}, noneAtLimit, throttled(`; keys below their limit taking many checks: "b2" \(10 of its limit 100, 40\.0 checks/s\), "b3" \(10 of its limit 100, 20\.0 checks/s\), "b4" \(10 of its limit 100, 10\.0 checks/s\)$`)),
		},
		{
			name: "the keys' rates are taken over the last 30 s",
			steps: []judgement{
				{give: both(recentRates(40, 60, 40), blocking(1), sampled(limited("a", 0), seq("b", 0)))},
				{at: 20 * time.Second, give: both(recentRates(40, 60, 40), blocking(1), sampled(limited("a", 1200), seq("b", 1000)))},
				// 5/s since +20 s, not 32.5/s since +0.
				{at: 40 * time.Second, give: both(recentRates(40, 60, 40), blocking(1), sampled(limited("a", 1300), seq("b", 2000))),
					want: []seen{throttled(`its 1 keys at their limit account for 5\.0/s; keys below their limit taking many checks: "b" \(10 of its limit 100, 50\.0 checks/s\)$`)}},
			},
		},
		{
			name: "rates Prometheus has no series for judge nothing",
			steps: []judgement{
				{give: both(recentRates(40, 60, 40), func(in *Input) { in.Prometheus.AllowedRecent = snapshot.Null() })},
				{at: 10 * time.Second, give: both(recentRates(40, 60, 40), func(in *Input) { in.Prometheus.BlockedRecent = snapshot.Null() })},
				{at: 20 * time.Second, give: both(recentRates(40, 60, 40), func(in *Input) { in.Prometheus.AllowedPerSecond = snapshot.Null() })},
			},
		},
		{
			name: "stale prometheus is unknown, and a reported violation is kept",
			steps: []judgement{
				{give: recentRates(40, 60, 40), want: []seen{throttled(`60%`)}},
				{at: 10 * time.Second, give: both(recentRates(40, 60, 40), func(in *Input) { staleSource(in, source.Prometheus, "timeout") }), want: []seen{{
					subject: SubjectCluster, message: `60%`, sources: []string{SourceObserverd, source.Prometheus, source.Redis}, kept: true,
				}}, unknown: true},
				{at: 20 * time.Second},
			},
		},
		{
			name:  "stale redis is unknown",
			steps: []judgement{{give: both(redisStale, recentRates(40, 60, 40)), unknown: true}},
		},
		{
			name:  "no prometheus section yet is unknown",
			steps: []judgement{{give: func(in *Input) { in.Prometheus = nil }, unknown: true}},
		},
		{
			name: "prometheus disabled is not judged",
			steps: []judgement{{give: both(recentRates(40, 60, 40), func(in *Input) {
				in.Enabled = []string{source.Ratelimiter, source.Redis}
			})}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "over_throttling", tt.steps) })
	}
}

// TestOverThrottlingGrace: the blocks are reported once they have gone
// unexplained for the grace period.
func TestOverThrottlingGrace(t *testing.T) {
	give := both(recentRates(40, 60, 40), blocking(0))
	runSteps(t, defaultConfig(), []step{
		{at: 0, give: give},
		{at: 20 * time.Second, give: give},
		{at: 30 * time.Second, give: give, want: []string{"warning over_throttling cluster first=0s last=30s"}},
		{at: 40 * time.Second, give: recentRates(40, 20, 40)},
	})
}

// TestOverThrottlingKeysOfLimitZero: a key whose limit is 0 is at its
// limit whatever its count (Redis counts it among BlocksTotal), and every
// check of it is blocked: it is weighed like any key at its limit.
func TestOverThrottlingKeysOfLimitZero(t *testing.T) {
	banned := func(n int64) snapshot.KeySample { return snapshot.KeySample{Key: "banned", Seq: n, Count: 0, Limit: 0} }
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name: "its checks explain the blocks",
			steps: []judgement{
				{give: both(recentRates(40, 60, 40), blocking(1), sampled(banned(0), seq("b", 0)))},
				{at: 10 * time.Second, give: both(recentRates(40, 60, 40), blocking(1), sampled(banned(400), seq("b", 500)))},
			},
		},
		{
			name: "its checks do not explain the blocks",
			steps: []judgement{
				{give: both(recentRates(40, 60, 40), blocking(1), sampled(banned(0), seq("b", 0)))},
				{at: 10 * time.Second, give: both(recentRates(40, 60, 40), blocking(1), sampled(banned(100), seq("b", 500))), want: []seen{{
					subject: SubjectCluster,
					message: `, yet its 1 keys at their limit account for 10\.0/s; keys below their limit taking many checks: "b" \(10 of its limit 100, 50\.0 checks/s\)$`,
					sources: []string{SourceObserverd, source.Prometheus, source.Redis},
				}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "over_throttling", tt.steps) })
	}
}

// TestOverThrottlingKeyThatLeftItsLimit: a key at its limit a few seconds
// ago explains the blocks of the recent window as well as one at its limit
// now: its window moved on (or it was reset) after the blocks were counted.
func TestOverThrottlingKeyThatLeftItsLimit(t *testing.T) {
	judge(t, noGrace(), "over_throttling", []judgement{
		{give: both(recentRates(10, 90, 10), blocking(1), sampled(limited("busy", 0)))},
		{at: 10 * time.Second, give: both(recentRates(10, 90, 10), blocking(1), sampled(limited("busy", 1000)))},
		// Its window moved on: below its limit now, the blocks of the last
		// 30 s are still its.
		{at: 12 * time.Second, give: both(recentRates(10, 90, 10), blocking(0), sampled(seq("busy", 1200)))},
	})
}
