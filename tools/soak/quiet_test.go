package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/snapshot"
)

func TestParseFlagsQuiet(t *testing.T) {
	s, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.quiet != 10*time.Minute || s.duration != 5*time.Minute {
		t.Errorf("defaults: quiet %s, duration %s; want 10m, 5m", s.quiet, s.duration)
	}
	for _, ok := range []string{"0", "1m", "2m"} {
		if _, err := parseFlags([]string{"-quiet", ok}, io.Discard); err != nil {
			t.Errorf("-quiet %s: %v", ok, err)
		}
	}
	if _, err := parseFlags([]string{"-quiet", "30s"}, io.Discard); err == nil || !strings.Contains(err.Error(), "longest grace period") {
		t.Errorf("-quiet 30s: error %v, want one about the longest grace period", err)
	}
}

// TestQuietMixes: no key of the quiet phase's loads comes near hot_key's
// default threshold, and the fresh keys' orphan :seq keys stay below
// sequence_key_leak's, however long the phase.
func TestQuietMixes(t *testing.T) {
	defaults := health.Defaults(health.Builtin())
	for _, d := range []time.Duration{minQuiet(), 10 * time.Minute, time.Hour} {
		total, hottest := steadyLoad.perSecond(), steadyLoad.hottest()
		var hot, fresh float64
		for _, m := range quietMixes(d) {
			total += m.perSecond()
			hottest = max(hottest, m.hottest())
			hot += m.perSecond() * m.hotShare
			if m.fresh {
				fresh += m.perSecond() * d.Seconds()
			}
		}
		if share := hottest / total; share >= defaults.Of("hot_key").Share()/2 {
			t.Errorf("%s: the hottest key takes %.0f%% of the checks", d, 100*share)
		}
		if hot < 200 {
			t.Errorf("%s: hot keys take %.0f checks/s, want several hundred", d, hot)
		}
		if limit := float64(defaults.Of("sequence_key_leak").Count()); fresh < 1000 || fresh > limit/2 {
			t.Errorf("%s: %.0f fresh keys, want thousands and far below %.0f", d, fresh, limit)
		}
	}
}

func TestMixArgs(t *testing.T) {
	got := steadyLoad.args([]string{"http://a", "http://b"})
	want := []string{"-targets", "http://a,http://b", "-rate", "30", "-key-prefix", "soak-", "-keys", "50", "-hot-share", "0.3", "-hot-keys", "3"}
	if !slices.Equal(got, want) {
		t.Errorf("steady load's args\n%q\nwant\n%q", got, want)
	}
	fresh := quietMixes(10 * time.Minute)[4]
	got = fresh.args([]string{"http://a"})
	want = []string{"-targets", "http://a", "-rate", "5", "-key-prefix", "quiet-", "-fresh-keys", "-window-ms", "10000"}
	if !slices.Equal(got, want) {
		t.Errorf("fresh load's args\n%q\nwant\n%q", got, want)
	}
	bursts := mix{rate: 2, keys: 30, burstEvery: 15 * time.Second, burstSize: 150}
	if got := bursts.perSecond(); got != 12 {
		t.Errorf("bursts' checks per second %v, want 12", got)
	}
}

func TestParseTotals(t *testing.T) {
	log := "loadgen: target=http://a sent=7 allowed=1 blocked=5 failed=1\n" +
		"loadgen: last error: refused\n" +
		"loadgen: sent=12 allowed=3 blocked=8 failed=1\n"
	got, err := parseTotals(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := (totals{sent: 12, allowed: 3, blocked: 8, failed: 1}); got != want {
		t.Errorf("totals %+v, want %+v", got, want)
	}
	if _, err := parseTotals("loadgen: target=http://a sent=7 allowed=1 blocked=5 failed=1\n"); err == nil {
		t.Error("a log without the totals line parsed")
	}
}

func TestParseRaised(t *testing.T) {
	log := `{"level":"info","ts":"2025-01-02T03:04:05.678Z","logger":"observerd","msg":"node unreachable","address":"x"}
not json
{"level":"warn","ts":"2025-01-02T03:04:06.000Z","logger":"observerd.health","msg":"invariant violation raised","invariant":"redis_slow","subject":"redis","severity":"warning","message":"slow","first_seen":"2025-01-02T03:03:36.000Z"}
`
	got, err := parseRaised(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d raised, want 1: %v", len(got), got)
	}
	r := got[0]
	if r.invariant != "redis_slow" || r.subject != "redis" || r.severity != "warning" || r.message != "slow" ||
		!r.at.Equal(time.Date(2025, 1, 2, 3, 4, 6, 0, time.UTC)) {
		t.Errorf("raised %+v", r)
	}
}

// quietSnap is a healthy snapshot with the victim node reachable or not.
func quietSnap(victimUp bool) *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Nodes:    []snapshot.Node{{ID: "node-1", Reachable: victimUp}, {ID: "node-2", Reachable: true}},
		Counters: snapshot.Counters{Keys: 40},
		Traffic:  snapshot.Traffic{AllowedPerSecond: 50, BlockedPerSecond: 250},
	}
}

func TestQuietWatchSilent(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	w := newQuietWatch(start, "node-1")
	var out bytes.Buffer
	for i := range 10 {
		s := quietSnap(i != 4)
		if i == 6 || i == 7 {
			s.Unknown = []snapshot.UnknownInvariant{{Invariant: "hot_key", Reason: "prometheus source is stale"}}
		}
		w.observe(start.Add(time.Duration(i)*time.Second), s, nil, &out)
	}
	w.line(start.Add(time.Minute), &out)
	if len(w.problems) != 0 {
		t.Errorf("problems on a healthy cluster: %v", w.problems)
	}
	if w.snapshots != 10 || w.victimDown != 1 || w.peakKeys != 40 || w.longestUnknown != time.Second {
		t.Errorf("snapshots %d, victim down in %d, peak keys %d, longest unknown %s", w.snapshots, w.victimDown, w.peakKeys, w.longestUnknown)
	}
	if want := "300 checks/s (blocked 83%)"; !strings.Contains(out.String(), want) {
		t.Errorf("minute line %q lacks %q", out.String(), want)
	}
}

func TestQuietWatchNamesViolation(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	w := newQuietWatch(start, "node-1")
	var out bytes.Buffer
	v := snapshot.Violation{
		Invariant: "redis_slow", Subject: "redis", Severity: "warning", Message: "redis round trips reached 60ms",
		FirstSeen: start.Add(30 * time.Second),
		Evidence:  []snapshot.Evidence{{Source: "redis", At: start.Add(55 * time.Second), What: "PING round trip (ms)", Value: 60.5}},
	}
	for i := range 3 {
		s := quietSnap(true)
		s.Violations = []snapshot.Violation{v}
		w.observe(start.Add(time.Minute+time.Duration(i)*time.Second), s, nil, &out)
	}
	if len(w.problems) != 1 {
		t.Fatalf("%d problems, want the violation once: %v", len(w.problems), w.problems)
	}
	for _, want := range []string{"at 03:01:00 (1m0s into the quiet phase)", "redis_slow", `"redis"`, "redis round trips reached 60ms",
		"first seen 03:00:30.000", "evidence: redis at 03:00:55.000: PING round trip (ms) = 60.5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(w.problems[0].Error(), "redis round trips reached 60ms") {
		t.Errorf("problem %q does not name the violation", w.problems[0])
	}
}

func TestQuietWatchUnknownTooLong(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	w := newQuietWatch(start, "node-1")
	var out bytes.Buffer
	at := start
	observe := func(unknown bool) {
		s := quietSnap(true)
		if unknown {
			s.Unknown = []snapshot.UnknownInvariant{{Invariant: "counter_drift", Reason: "redis source is stale: timeout"}}
		}
		w.observe(at, s, nil, &out)
		at = at.Add(time.Second)
	}
	for range int(unknownBound/time.Second) + 1 {
		observe(true) // unknown for the bound exactly
	}
	observe(false)
	if len(w.problems) != 0 {
		t.Fatalf("unknown within the bound failed: %v", w.problems)
	}
	for range int(unknownBound/time.Second) + 3 {
		observe(true)
	}
	if len(w.problems) != 1 || !strings.Contains(w.problems[0].Error(), "counter_drift unknown since") ||
		!strings.Contains(w.problems[0].Error(), "redis source is stale: timeout") {
		t.Errorf("problems %v, want counter_drift unknown for too long, once", w.problems)
	}
}

// TestRestartShorterThanGrace: the quiet phase's restart waits at most
// reportTimeout for observerd to show the node down, and leaves it a few
// seconds to start again within OBSERVERD_NODE_DOWN_GRACE.
func TestRestartShorterThanGrace(t *testing.T) {
	if reportTimeout+3*time.Second > nodeDownGrace {
		t.Errorf("a restart may last %s and more, OBSERVERD_NODE_DOWN_GRACE is %s", reportTimeout, nodeDownGrace)
	}
}
