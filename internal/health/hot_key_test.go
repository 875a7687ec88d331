package health

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// sampled sets the keys the Redis poller read again after its walk, with
// Redis's clock at the evaluation's time.
func sampled(ks ...snapshot.KeySample) func(*Input) {
	return func(in *Input) {
		in.Redis.Sampled, in.Redis.SampledAt, in.Redis.FutureAfter = ks, in.Now, 2*time.Second
	}
}

// seq is a sampled key below its limit whose sequence key holds n.
func seq(key string, n int64) snapshot.KeySample {
	return snapshot.KeySample{Key: key, Seq: n, Count: 10, Limit: 100}
}

// traffic sets the cluster's allowed and blocked checks per second as
// Prometheus shows them, over the last minute and the recent window alike.
func traffic(allowed, blocked float64) func(*Input) {
	return func(in *Input) {
		p := in.Prometheus
		p.AllowedPerSecond, p.BlockedPerSecond = snapshot.Float(allowed), snapshot.Float(blocked)
		p.AllowedRecent, p.BlockedRecent = snapshot.Float(allowed), snapshot.Float(blocked)
	}
}

func TestHotKey(t *testing.T) {
	hot := func(message string) seen {
		return seen{subject: "hot", message: message, sources: []string{SourceObserverd, source.Prometheus, source.Redis}}
	}
	const (
		atLeast = `; at least: this cluster's sequences rise no faster than it admits, so a key's :seq counts its admitted requests and not its blocked checks$`
		exact   = `; exact to the rates' windows: this cluster's sampled sequences rise faster than it admits, so a key's :seq counts every check$`
	)
	// twoSamples is the key "hot" sampled at +0 and +10 s, from 1000 to
	// hotTo, and a cold key rising by 1, with the cluster's rates.
	twoSamples := func(hotTo int64, allowed, blocked float64, want ...seen) []judgement {
		return []judgement{
			{give: both(traffic(allowed, blocked), sampled(seq("hot", 1000), seq("cold", 50)))},
			{at: 10 * time.Second, give: both(traffic(allowed, blocked), sampled(seq("hot", hotTo), seq("cold", 51))), want: want},
		}
	}
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name: "a key taking 60% of the admitted checks takes at least that share",
			steps: twoSamples(1600, 80, 20,
				hot(`^key "hot" takes 60% of the cluster's checks \(60\.0/s of 100\.0/s over 10s\), at or above the threshold of 50%`+atLeast)),
		},
		{
			name: "sequences rising faster than the cluster admits count every check",
			steps: twoSamples(1600, 40, 60,
				hot(`^key "hot" takes 60% of the cluster's checks \(60\.0/s of 100\.0/s over 10s\), at or above the threshold of 50%`+exact)),
		},
		{
			name:  "a share of exactly the threshold",
			steps: twoSamples(1500, 80, 20, hot(`^key "hot" takes 50% of the cluster's checks \(50\.0/s of 100\.0/s over 10s\)`)),
		},
		{
			name:  "a share just below the threshold",
			steps: twoSamples(1499, 80, 20),
		},
		{
			name:  "a cluster below one check per second is not judged",
			steps: twoSamples(1009, 0.6, 0.3),
		},
		{
			name: "a cluster of exactly one check per second is judged",
			// The cold key's 0.1/s counts too: the sequences rise by 1.1/s.
			steps: twoSamples(1010, 0.5, 0.5, hot(`^key "hot" takes 91% of the cluster's checks \(1\.0/s of 1\.1/s over 10s\), at or above the threshold of 50%`+atLeast)),
		},
		{
			name:  "the cluster checks at least what the sampled sequences show",
			steps: twoSamples(4000, 80, 20, hot(`^key "hot" takes 100% of the cluster's checks \(300\.0/s of 300\.1/s over 10s\), at or above the threshold of 50%`+exact)),
		},
		{
			name: "the rate is taken over the last minute",
			steps: []judgement{
				{give: both(traffic(80, 20), sampled(seq("hot", 0)))},
				{at: 30 * time.Second, give: both(traffic(80, 20), sampled(seq("hot", 3000))), want: []seen{hot(`takes 100% .* over 30s\)`)}},
				{at: 60 * time.Second, give: both(traffic(80, 20), sampled(seq("hot", 3600))), want: []seen{hot(`takes 60% .*\(60\.0/s of 100\.0/s over 1m0s\)`)}},
				// 20/s since +30 s: the reading at +0 is more than a minute old.
				{at: 70 * time.Second, give: both(traffic(80, 20), sampled(seq("hot", 3800)))},
			},
		},
		{
			name: "readings less than 2 s apart give no rate",
			steps: []judgement{
				{give: both(traffic(80, 20), sampled(seq("hot", 0)))},
				{at: 1900 * time.Millisecond, give: both(traffic(80, 20), sampled(seq("hot", 190)))},
				{at: 2 * time.Second, give: both(traffic(80, 20), sampled(seq("hot", 200))), want: []seen{hot(`takes 100% .*\(100\.0/s of 100\.0/s over 2s\)`)}},
			},
		},
		{
			name: "a key missing from the newest sample is not judged",
			steps: []judgement{
				{give: sampled(seq("hot", 0), seq("cold", 0))},
				{at: 10 * time.Second, give: sampled(seq("hot", 400), seq("cold", 10)), want: []seen{hot(`takes 95% .*\(40\.0/s of 42\.0/s over 10s\)`)}},
				{at: 20 * time.Second, give: sampled(seq("cold", 20))},
			},
		},
		{
			name: "a sample read again judges the same",
			steps: []judgement{
				{give: sampled(seq("hot", 0))},
				{at: 10 * time.Second, give: sampled(seq("hot", 400)), want: []seen{hot(`\(40\.0/s of 42\.0/s over 10s\)`)}},
				{at: 15 * time.Second, give: func(in *Input) {
					sampled(seq("hot", 400))(in)
					in.Redis.SampledAt = t0.Add(10 * time.Second)
				}, want: []seen{hot(`\(40\.0/s of 42\.0/s over 10s\)`)}},
			},
		},
		{
			name: "a sequence that starts again has no rate until read twice",
			steps: []judgement{
				{give: sampled(seq("hot", 1000))},
				{at: 10 * time.Second, give: sampled(seq("hot", 1400)), want: []seen{hot(`40\.0/s`)}},
				{at: 20 * time.Second, give: sampled(seq("hot", 5))},
				{at: 30 * time.Second, give: sampled(seq("hot", 405)), want: []seen{hot(`40\.0/s of 42\.0/s over 10s`)}},
			},
		},
		{
			name: "a key without a sequence key is not judged",
			steps: []judgement{
				{give: sampled(snapshot.KeySample{Key: "hot", Seq: -1})},
				{at: 10 * time.Second, give: sampled(snapshot.KeySample{Key: "hot", Seq: -1})},
			},
		},
		{
			name: "cluster rates Prometheus has no series for judge no key",
			steps: []judgement{
				{give: sampled(seq("hot", 0))},
				{at: 10 * time.Second, give: both(sampled(seq("hot", 400)), func(in *Input) { in.Prometheus.AllowedPerSecond = snapshot.Null() })},
				{at: 20 * time.Second, give: both(sampled(seq("hot", 800)), func(in *Input) { in.Prometheus.BlockedPerSecond = snapshot.Null() })},
			},
		},
		{
			name: "stale prometheus is unknown, and a reported key is kept",
			steps: []judgement{
				{give: sampled(seq("hot", 0))},
				{at: 10 * time.Second, give: sampled(seq("hot", 400)), want: []seen{hot(`40\.0/s`)}},
				{at: 20 * time.Second, give: both(sampled(seq("hot", 400)), func(in *Input) { staleSource(in, source.Prometheus, "timeout") }), want: []seen{{
					subject: "hot", message: `40\.0/s`, sources: []string{SourceObserverd, source.Prometheus, source.Redis}, kept: true,
				}}, unknown: true},
			},
		},
		{
			name: "stale redis is unknown",
			steps: []judgement{
				{give: sampled(seq("hot", 0))},
				{at: 10 * time.Second, give: both(redisStale, sampled(seq("hot", 400))), unknown: true},
			},
		},
		{
			name: "no prometheus section yet is unknown",
			steps: []judgement{
				{give: both(sampled(seq("hot", 0)), func(in *Input) { in.Prometheus = nil }), unknown: true},
				{at: 10 * time.Second, give: both(sampled(seq("hot", 400)), func(in *Input) { in.Prometheus = nil }), unknown: true},
			},
		},
		{
			name: "prometheus disabled is not judged",
			steps: []judgement{
				{give: both(sampled(seq("hot", 0)), func(in *Input) { in.Enabled = []string{source.Ratelimiter, source.Redis} })},
				{at: 10 * time.Second, give: both(sampled(seq("hot", 400)), func(in *Input) { in.Enabled = []string{source.Ratelimiter, source.Redis} })},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "hot_key", tt.steps) })
	}
}

// TestHotKeyGrace: a key is reported once it has been hot for a minute.
func TestHotKeyGrace(t *testing.T) {
	var steps []step
	for at := time.Duration(0); at <= 80*time.Second; at += 10 * time.Second {
		var want []string
		if at >= 70*time.Second {
			want = []string{"info hot_key hot first=10s last=" + at.String()}
		}
		steps = append(steps, step{at: at, give: both(traffic(80, 20), sampled(seq("hot", int64(at/time.Second)*60))), want: want})
	}
	runSteps(t, defaultConfig(), steps)
}

// TestHotKeyUnderAPartialRate: Prometheus's rate of a window scraped only
// in part (just after a start or a restart of Prometheus) reads below the
// checks the sampled sequences show; a key's share is taken of the larger,
// so the keys of a steady load are not hot for that.
func TestHotKeyUnderAPartialRate(t *testing.T) {
	judge(t, noGrace(), "hot_key", []judgement{
		{give: both(traffic(2, 6), sampled(seq("a", 0), seq("b", 0), seq("c", 0)))},
		// 30 checks a second over three keys, 10 each; Prometheus says 8.
		{at: 10 * time.Second, give: both(traffic(2, 6), sampled(seq("a", 100), seq("b", 100), seq("c", 100)))},
	})
}
