package health

import (
	"testing"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// pinged sets the PING round trip of the poll, read a second before the
// evaluation (the healthy input's last success).
func pinged(d time.Duration) func(*Input) {
	return func(in *Input) { in.Snapshot.Redis.Ping = snapshot.Known(d) }
}

// walked sets the median round trip of the walk's batches.
func walked(d time.Duration) func(*Input) {
	return func(in *Input) { in.Redis.WalkLatency = d }
}

func TestRedisSlow(t *testing.T) {
	slow := func(of, worst string) seen {
		return seen{
			subject: SubjectRedis,
			message: `^` + of + ` redis round trips of the last 10s took longer than the threshold of 50ms \(worst ` + worst + `\)$`,
			sources: []string{SourceObserverd, source.Redis},
		}
	}
	tests := []struct {
		name  string
		steps []judgement
	}{
		{
			name:  "a ping above the threshold",
			steps: []judgement{{give: pinged(ms(80)), want: []seen{slow("1 of the 1", "80ms")}}},
		},
		{
			name:  "the walk's median batch above the threshold",
			steps: []judgement{{give: both(pinged(ms(60)), walked(ms(120.5))), want: []seen{slow("2 of the 2", `120\.5ms`)}}},
		},
		{
			name: "a quarter of the round trips is not enough, more is",
			steps: []judgement{
				{at: 0, give: both(pinged(ms(1)), walked(ms(1)))},
				{at: 2 * time.Second, give: both(pinged(ms(1)), walked(ms(1)))},
				{at: 4 * time.Second, give: both(pinged(ms(80)), walked(ms(1)))},
				{at: 6 * time.Second, give: both(pinged(ms(80)), walked(ms(1)))},
				{at: 8 * time.Second, give: both(pinged(ms(80)), walked(ms(1))), want: []seen{slow("3 of the 10", "80ms")}},
			},
		},
		{
			name:  "round trips at the threshold",
			steps: []judgement{{give: both(pinged(ms(50)), walked(ms(50)))}},
		},
		{
			name: "an unknown ping is not read",
			steps: []judgement{{give: func(in *Input) {
				in.Snapshot.Redis.Ping = snapshot.Duration{Duration: time.Second}
			}}},
		},
		{
			name: "readings older than 10 s are forgotten",
			steps: []judgement{
				// Each poll is read a second before its evaluation.
				{at: 0, give: walked(ms(200)), want: []seen{slow("1 of the 1", "200ms")}},
				{at: 4 * time.Second, give: walked(ms(60)), want: []seen{slow("2 of the 2", "200ms")}},
				{at: 10 * time.Second, give: walked(ms(60)), want: []seen{slow("2 of the 2", "60ms")}},
				{at: 14 * time.Second, give: walked(ms(1)), want: []seen{slow("1 of the 2", "60ms")}},
				{at: 18 * time.Second, give: walked(ms(1)), want: []seen{slow("1 of the 3", "60ms")}},
				{at: 20 * time.Second, give: walked(ms(1))},
			},
		},
		{
			name: "the only reading is kept however old while the section is not read again",
			steps: []judgement{
				{at: 0, give: pinged(ms(80)), want: []seen{slow("1 of the 1", "80ms")}},
				{at: 12 * time.Second, give: func(in *Input) {
					pinged(ms(80))(in)
					lastSuccess(in, source.Redis, 13*time.Second)
				}, want: []seen{slow("1 of the 1", "80ms")}},
			},
		},
		{
			name: "stale redis is unknown, and a stall read before is kept",
			steps: []judgement{
				{at: 0, give: pinged(ms(80)), want: []seen{slow("1 of the 1", "80ms")}},
				{at: 5 * time.Second, give: both(redisStale, pinged(ms(1))), want: []seen{{
					subject: SubjectRedis, message: "80ms", sources: []string{SourceObserverd, source.Redis}, kept: true,
				}}, unknown: true},
				// The readings taken while stale are none: the stall aged out.
				{at: 20 * time.Second, give: pinged(ms(1))},
			},
		},
		{
			name:  "a stall seen only in stale data is not raised",
			steps: []judgement{{give: both(redisStale, pinged(ms(80))), unknown: true}},
		},
		{
			name: "redis disabled is not judged",
			steps: []judgement{{give: func(in *Input) {
				in.Enabled = []string{source.Ratelimiter, source.Prometheus}
				pinged(ms(80))(in)
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { judge(t, noGrace(), "redis_slow", tt.steps) })
	}
}

// TestRedisSlowStallsOutlastTheGrace: a Redis that stalls on many of its
// round trips is reported once that has lasted the grace period, and clears
// once no more than a quarter of the round trips of the last 10 s are slow.
func TestRedisSlowStallsOutlastTheGrace(t *testing.T) {
	var steps []step
	// Two round trips of three stall from +3 s: reported 30 s later.
	for at := time.Duration(0); at <= 33*time.Second; at += 3 * time.Second {
		give := pinged(ms(75))
		if at%(9*time.Second) == 0 {
			give = pinged(ms(1))
		}
		var want []string
		if at >= 33*time.Second {
			want = []string{"warning redis_slow redis first=3s last=" + at.String()}
		}
		steps = append(steps, step{at: at, give: give, want: want})
	}
	// Fast again from +36 s: by +42 s most of the last 10 s is fast.
	steps = append(steps,
		step{at: 36 * time.Second, give: pinged(ms(1)), want: []string{"warning redis_slow redis first=3s last=36s"}},
		step{at: 39 * time.Second, give: pinged(ms(1)), want: []string{"warning redis_slow redis first=3s last=39s"}},
		step{at: 42 * time.Second, give: pinged(ms(1))},
	)
	runSteps(t, defaultConfig(), steps)
}
