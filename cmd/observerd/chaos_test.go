package main

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/loadgen"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/testenv"
)

// The chaos tests share one cluster (Redis, three reference nodes,
// Prometheus scraping them every second), one steady load and one observerd
// polling every 500 ms. Each subtest injects one real fault, waits for
// exactly the violations the fault implies, checks them in /snapshot and
// /metrics, repairs the fault, waits for the violations to clear, and leaves
// the cluster healthy for the next one.
//
// Bounds: a violation is raised once its condition has held for its grace
// period, and the condition is seen at the latest two polls (500 ms each)
// after it begins; a violation clears at the first evaluation that no
// longer sees it, so within two polls of the repair. Where a source only
// sees a fault after a delay of its own (a Prometheus scrape and rate
// window, a TTL running out, a registry entry expiring), the bound adds it.
// Each bound also adds chaosSlack: the test runs with -race on a 2-core
// machine next to Redis, Prometheus, three nodes and a load generator, and
// a poll or an HTTP round trip of the test itself may be late by that much.
const (
	pollInterval = 500 * time.Millisecond
	twoPolls     = 2 * pollInterval
	// staleAfter is OBSERVERD_STALE_AFTER. It must exceed the poll
	// interval plus the poll timeout (2 s), or a slow yet successful poll
	// makes its source stale: with Redis down, the nodes' Redis-backed
	// endpoints take about 1.7 s to fail (their Redis client retries), and
	// the node poll waits for them.
	staleAfter = 3 * time.Second
	// maxBackoff is OBSERVERD_POLL_MAX_BACKOFF: a failing source is asked
	// again at least this often, so it is seen back within it.
	maxBackoff = time.Second
	// latencyGrace and driftGrace are the short grace periods of the
	// invariants that have one.
	latencyGrace = 2 * time.Second
	driftGrace   = 2 * time.Second
	// latencyThreshold is well above the P99 of a healthy node here: a
	// few milliseconds, but a -race build on 2 busy cores has single
	// checks in the 100-250 ms bucket, and a P99 over few observations
	// (a node just started, load just resumed) lands in that bucket for a
	// whole rate window after one of them. checkDelay puts every check of
	// the slow node in the 500 ms - 1 s bucket, so its P99 is at least
	// 500 ms.
	latencyThreshold = 250 * time.Millisecond
	checkDelay       = 500 * time.Millisecond
	// rateWindow and scrapeInterval are the cluster's Prometheus settings.
	rateWindow     = 10 * time.Second
	scrapeInterval = time.Second
	// registryTTL and heartbeat are the nodes' registry settings.
	registryTTL = 4 * time.Second
	heartbeat   = time.Second
	leakLimit   = 20
	chaosSlack  = 1500 * time.Millisecond
	// slowThreshold is OBSERVERD_REDIS_SLOW_THRESHOLD: a healthy round
	// trip here takes a few milliseconds, but a -race build on 2 busy
	// cores has single ones above 150 ms (as it has single checks in the
	// 100-250 ms bucket, see latencyThreshold). A stall of Redis is 600 ms
	// with 300 ms of work between stalls: a command sent at a random
	// moment waits more than the threshold 40% of the time.
	slowThreshold = 250 * time.Millisecond
	stall         = 600 * time.Millisecond
	stallPause    = 300 * time.Millisecond
	// slowSpan is how far back redis_slow looks for its worst round trip
	// (health's latencySpan): it clears that long after the last stall.
	slowSpan = 10 * time.Second
	// minSeqSpan is the shortest span health takes a key's check rate
	// over: two samples of its :seq that far apart.
	minSeqSpan = 2 * time.Second
	// recentWindow is the window of the recent rates over_throttling
	// judges (OBSERVERD_PROMETHEUS_QUERY_*_RECENT), 30 s by default.
	recentWindow = 5 * time.Second
	// The grace periods of redis_slow, hot_key and over_throttling.
	// over_throttling's outlasts the recent rates' window: a key reset or
	// expired while at its limit leaves its blocks in that window with no
	// key at its limit to explain them, until they leave it (the hot_key
	// fault's repair resets its key).
	slowGrace     = time.Second
	hotGrace      = time.Second
	throttleGrace = recentWindow + scrapeInterval + pollInterval + 500*time.Millisecond
	// skewThreshold is clock_skew's default threshold.
	skewThreshold = 2 * time.Second
)

// severityOf is the invariant's severity, as declared.
func severityOf(invariant string) string {
	for _, inv := range health.Builtin() {
		if inv.Name == invariant {
			return inv.Severity
		}
	}
	return "undeclared invariant " + invariant
}

// graceOf is the invariant's grace period in these tests.
func graceOf(invariant string) time.Duration {
	switch invariant {
	case "high_latency":
		return latencyGrace
	case "counter_drift":
		return driftGrace
	case "redis_slow":
		return slowGrace
	case "hot_key":
		return hotGrace
	case "over_throttling":
		return throttleGrace
	default:
		return 0
	}
}

// steadyLoad is the background traffic: 30 checks per second over 22 keys
// with the nodes' default limit (10 per minute), some of them blocked.
func steadyLoad() loadgen.Config {
	return loadgen.Config{Rate: 30, Keys: 20, HotShare: 0.3, HotKeys: 2, KeyPrefix: "steady-", Seed: 11}
}

// cutNode is the node whose link to Redis goes through a proxy, for
// fail_open.
const cutNode = 2

func TestChaosInvariants(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 3, prometheus: true, proxied: []int{cutNode}})
	r := &chaosRig{c: c, stopLoad: c.load(steadyLoad())}
	r.d = startDaemon(t, c.observerdEnv(
		"OBSERVERD_HIGH_LATENCY_THRESHOLD="+latencyThreshold.String(),
		"OBSERVERD_HIGH_LATENCY_GRACE="+latencyGrace.String(),
		"OBSERVERD_COUNTER_DRIFT_GRACE="+driftGrace.String(),
		fmt.Sprintf("OBSERVERD_SEQUENCE_KEY_LEAK_THRESHOLD=%d", leakLimit),
		"OBSERVERD_STALE_AFTER="+staleAfter.String(),
		"OBSERVERD_REDIS_SLOW_THRESHOLD="+slowThreshold.String(),
		"OBSERVERD_REDIS_SLOW_GRACE="+slowGrace.String(),
		"OBSERVERD_HOT_KEY_GRACE="+hotGrace.String(),
		"OBSERVERD_OVER_THROTTLING_GRACE="+throttleGrace.String(),
		`OBSERVERD_PROMETHEUS_QUERY_ALLOWED_RECENT=sum(rate(ratelimiter_requests_checked_total{result="allowed"}[`+recentWindow.String()+`]))`,
		`OBSERVERD_PROMETHEUS_QUERY_BLOCKED_RECENT=sum(rate(ratelimiter_requests_checked_total{result="blocked"}[`+recentWindow.String()+`]))`,
		// The node cut from Redis is configured, as a sidecar's own node
		// is: a node known from the registry alone is no longer polled
		// once its registry entry expires, which a node cut from Redis
		// cannot renew.
		"OBSERVERD_RATELIMITER_URLS="+c.nodes[0].URL()+","+c.nodes[cutNode].URL(),
	)...)
	r.d.waitReady(t, 30*time.Second)

	t.Run("healthy under steady load", r.testHealthy)
	t.Run("node_down", r.testNodeDown)
	t.Run("redis_disconnected", r.testRedisDown)
	for _, f := range r.faults() {
		t.Run(f.name, func(t *testing.T) { r.run(t, f) })
	}
}

// chaosRig is what the chaos subtests share.
type chaosRig struct {
	c        *cluster
	d        *daemon
	stopLoad func() loadgen.Totals
}

func (r *chaosRig) testHealthy(t *testing.T) {
	// Wait until the load has been scraped, so that every figure the
	// invariants read is there, then watch three seconds of snapshots.
	first := r.d.waitSnapshot(t, 30*time.Second, "every node reachable, registered, with a P99", func(s *snapshot.Snapshot) error {
		if len(s.Nodes) != len(r.c.nodes) {
			return fmt.Errorf("%d nodes", len(s.Nodes))
		}
		// Until Prometheus has scraped the load for a whole rate window,
		// its rates are below the load, while the keys' :seq rates are
		// not: every key's share of the cluster's checks looks larger
		// (hot_key).
		a, b := s.Traffic.AllowedPerSecond, s.Traffic.BlockedPerSecond
		if load := steadyLoad().Rate; !a.Valid() || !b.Valid() || float64(a)+float64(b) < 0.8*load {
			return fmt.Errorf("prometheus sees %v allowed and %v blocked checks a second of the %v sent", a, b, load)
		}
		for _, n := range s.Nodes {
			if !n.Reachable || !n.Registered || !n.CheckLatencyP99.Valid {
				return fmt.Errorf("node %s reachable %v registered %v p99 %v", n.ID, n.Reachable, n.Registered, n.CheckLatencyP99)
			}
		}
		return healthy(s)
	})
	var worst float64
	r.watchUntil(t, "3s of a healthy cluster", 8*time.Second, expectation{}, func(s *snapshot.Snapshot) error {
		for _, n := range s.Nodes {
			worst = max(worst, float64(n.CheckLatencyP99.Duration)/float64(time.Millisecond))
		}
		if d := s.GeneratedAt.Sub(first.GeneratedAt); d < 3*time.Second {
			return fmt.Errorf("watched %s", d)
		}
		return nil
	})
	t.Logf("healthy: no violation and no unknown invariant for 3s; worst check P99 %.1fms (threshold %s)", worst, latencyThreshold)
	r.checkMetrics(t, expectation{})
}

func (r *chaosRig) testNodeDown(t *testing.T) {
	node := r.c.nodes[1]
	t.Cleanup(func() { r.c.startNode(1) })
	e := expectation{want: []wantViolation{{
		key:     vkey{"node_down", node.id},
		message: `^node "` + node.id + `" \(` + regexp.QuoteMeta(node.Addr()) + `\) is unreachable`,
	}}}
	since := time.Now()
	r.c.stopNode(1)
	// The node is polled at its registry address: the next poll finds it
	// refusing connections.
	raised := r.waitRaised(t, e, since, twoPolls+chaosSlack)
	r.checkMetrics(t, e)

	// A crashed node's registry entry expires after its TTL; observerd
	// then no longer discovers it, and knows it from memory and from its
	// Prometheus target. It is still down since it stopped answering.
	expired := r.watchUntil(t, "the registry entry of "+node.id+" expired", registryTTL+heartbeat+twoPolls+chaosSlack, e, func(s *snapshot.Snapshot) error {
		if n := nodeOf(s, node.id); n == nil || n.Registered {
			return fmt.Errorf("%s still registered", node.id)
		}
		return nil
	})
	later := r.holds(t, e, expired)
	v, n := activeInvariants(later)[e.want[0].key], nodeOf(later, node.id)
	if n != nil && !n.Reachable && strings.Contains(v.Message, "is reachable") {
		t.Errorf("node_down says %q while the same snapshot has %s reachable=false, url=%q: the message must not call a node that does not answer reachable",
			v.Message, node.id, n.URL)
	}
	if b := activeInvariants(raised)[e.want[0].key]; !v.FirstSeen.Equal(b.FirstSeen) {
		t.Errorf("%s first_seen moved from %s to %s when the registry entry expired", e.want[0].key, b.FirstSeen, v.FirstSeen)
	}

	since = time.Now()
	r.c.startNode(1)
	// Back in the registry at once (heartbeat), seen by the next redis
	// poll, then polled again by the next node poll.
	r.waitCleared(t, e, since, twoPolls+chaosSlack)
	r.waitHealthy(t)
}

func (r *chaosRig) testRedisDown(t *testing.T) {
	// A violation already reported from Redis must stay reported, frozen,
	// while Redis cannot be read: a stale source turns nothing green.
	ttlKey := r.send(t, "frozen-", 3)
	frozen := wantViolation{key: vkey{"counter_without_ttl", ttlKey}, message: "has no TTL"}
	since := time.Now()
	r.redisDo(t, func(ctx context.Context) error { return r.c.rdb.Persist(ctx, "ratelimit:"+ttlKey).Err() })
	r.waitRaised(t, expectation{want: []wantViolation{frozen}}, since, twoPolls+chaosSlack)

	// The load is paused first: while Redis is down every check fails
	// after the nodes' Redis client has retried with backoff, which puts
	// the checks' P99 above the latency threshold. That would raise a
	// true high_latency, a second fault that is not the one under test.
	r.stopLoad()
	restored := false
	t.Cleanup(func() {
		if !restored {
			r.c.redis.Start(t)
			r.stopLoad = r.c.load(steadyLoad())
		}
	})
	disconnected := wantViolation{
		key:     vkey{"redis_disconnected", health.SubjectRedis},
		message: `^redis does not answer: source is stale after \d+ consecutive failures: .+`,
	}
	stale := wantViolation{
		key:     vkey{"source_stale", source.Redis},
		message: `^source "redis" last succeeded [0-9.]+m?s ago, above its bound of ` + staleAfter.String() + `: .+`,
	}
	e := expectation{
		// The frozen violation stays reported as it was: holds checks
		// that last_seen does not move for an unknown invariant.
		want: []wantViolation{disconnected, frozen},
		// Implied once the redis source has gone without success for
		// longer than OBSERVERD_STALE_AFTER.
		allow: map[vkey]string{stale.key: "redis is down for longer than the stale bound"},
		// Every invariant read from Redis is unknown at once: the source
		// turns stale at its first failed poll. node_down stays judged
		// (the nodes answer /health; their registry entries are
		// undecided), so do high_latency and source_stale.
		unknown: []string{
			"clock_skew", "counter_drift", "counter_without_ttl", "ghost_allowing", "hot_key",
			"over_limit", "over_throttling", "redis_slow", "sequence_key_leak", "ttl_beyond_window",
		},
	}
	since = time.Now()
	r.c.redis.Stop()
	// The next redis poll fails.
	r.waitRaised(t, e, since, twoPolls+chaosSlack)
	e.want = append(e.want, stale)
	raised := r.waitRaised(t, e, since, staleAfter+twoPolls+chaosSlack)
	r.checkMetrics(t, e)
	r.holds(t, e, raised)

	// Redis comes back empty (no persistence): the key without TTL is gone
	// too, so its violation clears with the others. The registry is empty
	// until the nodes' next heartbeat, so node_down may flicker then: the
	// registry entries did vanish. The load resumes once every node has
	// registered again and answers checks, that is once its Redis client
	// has reconnected: checks sent before that fail slowly, as during the
	// outage. Registered is not enough: go-redis may refuse new connections
	// for up to a second more, while dials begun during the outage fail.
	since = time.Now()
	r.c.redis.Start(t)
	testenv.WaitFor(t, heartbeat+time.Second+chaosSlack, "every node registered and checking again", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, n := range r.c.nodes {
			if ok, err := r.c.rdb.Exists(ctx, "ratelimiter:nodes:"+n.id).Result(); err != nil || ok != 1 {
				return fmt.Errorf("%s: %d, %v", n.id, ok, err)
			}
			limit := int64(1 << 30)
			tot, err := loadgen.Run(ctx, loadgen.Config{Targets: []string{n.URL()}, Count: 1, Rate: 100, Keys: 1, KeyPrefix: "probe-", Limit: &limit})
			if err != nil || tot.Allowed != 1 {
				return fmt.Errorf("%s: a check: %+v, %v", n.id, tot, err)
			}
		}
		return nil
	})
	r.redisDo(t, func(ctx context.Context) error {
		return r.c.rdb.Del(ctx, "ratelimit:probe-key-0", "ratelimit:probe-key-0:seq").Err()
	})
	r.stopLoad, restored = r.c.load(steadyLoad()), true
	// A failing source is polled again within the maximum backoff.
	r.waitCleared(t, e, since, maxBackoff+twoPolls+chaosSlack)
	r.waitHealthy(t)
}

// fault is one injected fault and its repair. raiseWithin counts from the
// injection, clearWithin from the end of the repair.
type fault struct {
	name        string
	expect      expectation
	setup       func(t *testing.T) // prepares the fault, registering its own cleanup
	inject      func(t *testing.T)
	raiseWithin time.Duration
	// hold is how long the fault is watched once raised, every snapshot
	// checked against expect; two polls when zero.
	hold        time.Duration
	repair      func(t *testing.T)
	clearWithin time.Duration
}

// run injects f, waits for exactly its violations, checks them in both
// outputs and across snapshots, repairs it, waits for the violations to
// clear and for the cluster to be healthy again.
func (r *chaosRig) run(t *testing.T, f fault) {
	if f.setup != nil {
		f.setup(t)
		// What the setup did reaches every source before the fault does,
		// so that a condition it caused in passing (a node sampled before
		// the setup's checks, Redis after them) is not taken for the
		// fault's.
		r.waitPolledAfter(t, time.Now())
	}
	since := time.Now()
	f.inject(t)
	raised := r.waitRaised(t, f.expect, since, f.raiseWithin)
	r.checkMetrics(t, f.expect)
	r.holdsFor(t, f.expect, raised, cmp.Or(f.hold, twoPolls))
	f.repair(t)
	r.waitCleared(t, f.expect, time.Now(), f.clearWithin)
	r.waitHealthy(t)
}

// waitPolledAfter waits for a snapshot in which every source has succeeded
// after t0.
func (r *chaosRig) waitPolledAfter(t *testing.T, t0 time.Time) {
	t.Helper()
	r.d.waitSnapshot(t, 10*time.Second, "every source polled after the setup", func(s *snapshot.Snapshot) error {
		for name, st := range s.Sources {
			if st.LastSuccess == nil || st.LastSuccess.Before(t0) {
				return fmt.Errorf("%s last succeeded at %v", name, st.LastSuccess)
			}
		}
		return nil
	})
}

// faults are the faults that need no more than run's steps. Each raise
// bound is the grace period plus two polls, plus how long the fault takes
// to show and chaosSlack; each clear bound is two polls plus how long the
// repair takes to show and chaosSlack.
func (r *chaosRig) faults() []fault {
	redis := func(cmd func(ctx context.Context) error) func(*testing.T) {
		return func(t *testing.T) { r.redisDo(t, cmd) }
	}
	override := func(key, limit string) func(*testing.T) {
		return redis(func(ctx context.Context) error {
			return r.c.rdb.HSet(ctx, "ratelimit:limit:"+key, "limit", limit, "window_ms", "60000").Err()
		})
	}
	expire := func(key string, d time.Duration) func(*testing.T) {
		return redis(func(ctx context.Context) error { return r.c.rdb.Expire(ctx, "ratelimit:"+key, d).Err() })
	}
	unset := func(key string) func(*testing.T) {
		return redis(func(ctx context.Context) error { return r.c.rdb.Del(ctx, "ratelimit:limit:"+key).Err() })
	}
	// keyed makes n allowed checks of prefix+"key-0" through targets (all
	// nodes when empty) and, when allowing, keeps checking it twice a
	// second while the fault holds.
	keyed := func(prefix string, n int64, allowing bool, targets ...string) func(*testing.T) {
		return func(t *testing.T) {
			key := r.send(t, prefix, n, targets...)
			t.Cleanup(func() { r.forget(t, key) })
			if allowing {
				stop := r.c.load(loadgen.Config{Rate: 2, Keys: 1, KeyPrefix: prefix})
				t.Cleanup(func() { stop() })
			}
		}
	}
	skewed, slow, early, cut := r.c.nodes[2], r.c.nodes[1], r.c.nodes[0], r.c.nodes[cutNode]
	// skew is the message of clock_skew on a node ahead, with the entries
	// its checks wrote in the future, or without them when the node
	// poll saw its clock before a walk saw the entries.
	skew := func(id string, entries bool) string {
		m := `^node "` + id + `"'s clock is at least [0-9.hms]+ ahead of Redis's TIME, above the threshold of ` + skewThreshold.String()
		tail := `; \d+ entries of \d+ sampled keys are scored up to [0-9.hms]+ in the future, as its checks write them`
		if entries {
			return m + tail + "$"
		}
		return m + "(" + tail + ")?$"
	}
	// setRight sets a node's clock right, then removes the entries it
	// scored ahead, which would otherwise show as clock_skew{redis} until
	// Redis's clock passes them.
	setRight := func(n *refNode) func(*testing.T) {
		return func(t *testing.T) {
			n.node.SetClockOffset(0)
			r.dropFuture(t)
		}
	}
	// stopRunning stops what the last inject started and left running (a
	// load, the stalls); the test's end stops it too.
	var stopRunning func()
	// loadFor starts a load through every node.
	loadFor := func(cfg loadgen.Config) func(*testing.T) {
		return func(*testing.T) {
			stop := r.c.load(cfg)
			stopRunning = func() { stop() }
		}
	}
	// stopAndForget stops it and removes the keys it checked.
	stopAndForget := func(keys ...string) func(*testing.T) {
		return func(t *testing.T) {
			stopRunning()
			for _, k := range keys {
				r.forget(t, k)
			}
		}
	}
	forgetting := func(keys ...string) func(*testing.T) {
		return func(t *testing.T) {
			t.Cleanup(func() {
				for _, k := range keys {
					r.forget(t, k)
				}
			})
		}
	}
	// hotMessage is hot_key's message; how is the expression of how exact
	// its share is.
	hotMessage := func(key, how string) string {
		return `^key "` + key + `" takes \d+% of the cluster's checks \([0-9.]+/s of [0-9.]+/s over \d+s\), at or above the threshold of 50%; (` + how + `): .+$`
	}
	// entriesFirst is why a node ahead may show as clock_skew{redis} for
	// a moment.
	const entriesFirst = "a walk may see the entries the node scores ahead before a node poll sees its clock"
	two, million := int64(2), int64(1_000_000)
	// Which way the clock goes: a node counts a key over [its now -
	// window, +inf). A node behind by d counts a longer window, which
	// differs from Redis only by members older than the window that no
	// check pruned yet: almost never. A node ahead by d counts only the
	// members of the last window - d; with d = 58 s, a key filled through
	// another node counts 0 there two seconds later while Redis and the
	// other nodes count 10. The skewed node takes steady traffic too (it
	// prunes what it checks to its short window), but no check leaves more
	// than the limit in a key: no over_limit.
	const ahead = 58 * time.Second
	drift := `\d+ of \d+ (sampled keys|keys sampled by both) differ (from redis )?by more than 5; worst: key "[^"]+" counts \d+ `
	const fresh = 40
	orphans := func(t *testing.T) {
		r.redisDo(t, func(ctx context.Context) error { _, err := r.orphanSequenceKeys(ctx, true); return err })
	}
	return []fault{{
		name: "counter_without_ttl",
		expect: expectation{want: []wantViolation{{
			key:     vkey{"counter_without_ttl", "ttl-key-0"},
			message: `^counter key "ttl-key-0" has no TTL, so it never expires \(1 keys without TTL in all\)$`,
		}}},
		setup:       keyed("ttl-", 3, false),
		inject:      redis(func(ctx context.Context) error { return r.c.rdb.Persist(ctx, "ratelimit:ttl-key-0").Err() }),
		raiseWithin: twoPolls + chaosSlack,
		repair:      redis(func(ctx context.Context) error { return r.c.rdb.Expire(ctx, "ratelimit:ttl-key-0", time.Minute).Err() }),
		clearWithin: twoPolls + chaosSlack,
	}, {
		// The override says 2 per minute, the key already counts 3 and
		// its clients keep asking with the default limit, which the nodes
		// apply (quirk: /check ignores overrides), up to 10.
		name: "over_limit",
		expect: expectation{want: []wantViolation{{
			key:     vkey{"over_limit", "over-key-0"},
			message: `^key "over-key-0" counts ([3-9]|10) requests in its window, over its limit of 2$`,
		}}},
		setup:       keyed("over-", 3, true),
		inject:      override("over-key-0", "2"),
		raiseWithin: twoPolls + chaosSlack,
		repair:      unset("over-key-0"),
		clearWithin: twoPolls + chaosSlack,
	}, {
		// A zero limit with traffic is ghost_allowing only, not over_limit.
		name: "ghost_allowing",
		expect: expectation{want: []wantViolation{{
			key:     vkey{"ghost_allowing", "ghost-key-0"},
			message: `^key "ghost-key-0" has a limit of 0 yet counts ([1-9]|10) requests in its window$`,
		}}},
		setup:       keyed("ghost-", 1, true),
		inject:      override("ghost-key-0", "0"),
		raiseWithin: twoPolls + chaosSlack,
		repair:      unset("ghost-key-0"),
		clearWithin: twoPolls + chaosSlack,
	}, {
		// The skewed node disagrees with Redis, and so with each other
		// node: every key is in every node's sample, the keyspace being
		// far below the 100 keys of /api/counters.
		name: "counter_drift",
		expect: expectation{want: []wantViolation{
			{key: vkey{"counter_drift", skewed.id}, message: `^node "` + skewed.id + `": ` + drift + `on the node, \d+ and \d+ in redis just before and after$`},
			{key: vkey{"counter_drift", "node-1/" + skewed.id}, message: `^nodes "node-1" and "` + skewed.id + `": ` + drift},
			{key: vkey{"counter_drift", "node-2/" + skewed.id}, message: `^nodes "node-2" and "` + skewed.id + `": ` + drift},
			// The clock that makes it drift is seen itself, at once: in
			// the Date of its answers, and in the entries its steady
			// checks score 58 s ahead.
			{key: vkey{"clock_skew", skewed.id}, message: skew(skewed.id, false), held: skew(skewed.id, true)},
		}, allow: map[vkey]string{{"clock_skew", health.SubjectRedis}: entriesFirst}},
		setup: func(t *testing.T) {
			keyed("drift-", 10, false, r.c.nodes[0].URL())(t)
			t.Cleanup(func() { setRight(skewed)(t) })
		},
		inject: func(*testing.T) { skewed.node.SetClockOffset(ahead) },
		// The filled key leaves the skewed window after window - d.
		raiseWithin: time.Minute - ahead + driftGrace + twoPolls + chaosSlack,
		repair:      setRight(skewed),
		clearWithin: twoPolls + chaosSlack,
	}, {
		name: "high_latency",
		expect: expectation{want: []wantViolation{{
			key:     vkey{"high_latency", slow.id},
			message: `^node "` + slow.id + `" check latency p99 is [0-9.]+m?s, above the threshold of ` + latencyThreshold.String() + `$`,
		}}},
		setup:  func(t *testing.T) { t.Cleanup(func() { slow.node.SetCheckDelay(0) }) },
		inject: func(*testing.T) { slow.node.SetCheckDelay(checkDelay) },
		// The first slow checks end after the delay and reach the P99 at
		// the next scrape (a 10 s rate window holds ~100 checks of the
		// node, and a scrape brings ~10 slow ones: above 1%).
		raiseWithin: checkDelay + scrapeInterval + latencyGrace + twoPolls + chaosSlack,
		repair:      func(*testing.T) { slow.node.SetCheckDelay(0) },
		// The P99 falls below the threshold once the last slow check (in
		// flight for up to the delay) and the scrape before it have left
		// the 10 s rate window.
		clearWithin: checkDelay + rateWindow + scrapeInterval + twoPolls + chaosSlack,
	}, {
		// Short-lived clients, each with its own key and a 1 s window:
		// each sorted set expires ceil(1000/1000)+1 = 2 s after its check,
		// and its sequence key stays (quirk: they never expire).
		name: "sequence_key_leak",
		expect: expectation{want: []wantViolation{{
			key:     vkey{"sequence_key_leak", health.SubjectRedis},
			message: fmt.Sprintf(`^\d+ orphan sequence keys \(no sorted set left\), above the threshold of %d$`, leakLimit),
		}}},
		setup: func(t *testing.T) { t.Cleanup(func() { orphans(t) }) },
		inject: func(t *testing.T) {
			window := int64(1000)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tot, err := loadgen.Run(ctx, loadgen.Config{Targets: r.c.urls(), Rate: fresh, Count: fresh, FreshKeys: true, WindowMS: &window, KeyPrefix: "leak-"})
			if err != nil || tot.Allowed != fresh {
				t.Fatalf("fresh keys: %+v, %v", tot, err)
			}
		},
		// One second of checks, then the last sorted set expires 2 s later
		// (Redis's active expiry reclaims it within ~100 ms).
		raiseWithin: time.Second + 2*time.Second + twoPolls + chaosSlack,
		repair:      orphans,
		clearWithin: twoPolls + chaosSlack,
	}, {
		// A counter of the default 60 s window given a day to live, as a
		// stray EXPIRE would: the contract gives it 61 s.
		name: "ttl_beyond_window",
		expect: expectation{want: []wantViolation{{
			key:     vkey{"ttl_beyond_window", "long-key-0"},
			message: `^counter key "long-key-0" expires in (23h59m\d+s|24h0m0s), beyond the 1m1s its window of 1m0s gives it \(1 keys in all\)$`,
		}}},
		setup:       keyed("long-", 3, false),
		inject:      expire("long-key-0", 24*time.Hour),
		raiseWithin: twoPolls + chaosSlack,
		repair:      expire("long-key-0", time.Minute),
		clearWithin: twoPolls + chaosSlack,
	}, {
		// A node whose clock runs two minutes ahead, with the steady
		// load going through it: the Date of its answers shows it at the
		// next node poll, the entries its checks score two minutes ahead
		// at the next walk.
		name: "clock_skew",
		expect: expectation{
			want: []wantViolation{{key: vkey{"clock_skew", early.id}, message: skew(early.id, false), held: skew(early.id, true)}},
			allow: map[vkey]string{
				// Quirk 14: counting by its own clock, the node counts a
				// window two minutes later than Redis's and prunes what
				// the others still count; a key it has just pruned
				// counts more in Redis and on the other nodes.
				{"counter_drift", early.id}:                   "the node ahead counts another window than Redis",
				{"counter_drift", early.id + "/node-2"}:       "the node ahead counts another window than node-2",
				{"counter_drift", early.id + "/" + skewed.id}: "the node ahead counts another window than node-3",
				{"clock_skew", health.SubjectRedis}:           entriesFirst,
			},
		},
		setup:       func(t *testing.T) { t.Cleanup(func() { setRight(early)(t) }) },
		inject:      func(*testing.T) { early.node.SetClockOffset(2 * time.Minute) },
		raiseWithin: twoPolls + chaosSlack,
		repair:      setRight(early),
		clearWithin: twoPolls + chaosSlack,
	}, {
		// Redis runs a 600 ms script, works 300 ms, and again: every
		// other client's command waits behind a script now and then.
		name: "redis_slow",
		expect: expectation{
			want: []wantViolation{{
				key:     vkey{"redis_slow", health.SubjectRedis},
				message: `^\d+ of the \d+ redis round trips of the last ` + slowSpan.String() + ` took longer than the threshold of ` + slowThreshold.String() + ` \(worst [0-9.]+m?s\)$`,
			}},
			allow: map[vkey]string{
				// Each check is two commands, either of which may wait
				// up to a stall.
				{"high_latency", "node-1"}: "its checks wait for the stalls too",
				{"high_latency", "node-2"}: "its checks wait for the stalls too",
				{"high_latency", "node-3"}: "its checks wait for the stalls too",
			},
		},
		inject: func(t *testing.T) { stopRunning = r.stallRedis(t, stall, stallPause) },
		// A poll's PING and walk meet a stall at a random moment: about
		// 40% of them are above the threshold. More than a quarter of
		// the round trips of the last 10 s are, once the slow ones make
		// up for the fast ones read before the fault: after some 6 to 9
		// s, within the window at the latest.
		raiseWithin: stall + slowSpan + slowGrace + twoPolls + chaosSlack,
		repair:      func(*testing.T) { stopRunning() },
		clearWithin: slowSpan + twoPolls + chaosSlack,
	}, {
		// Clients of four keys send a limit of 2 in their checks, 120 a
		// second in all: the nodes block nearly all of them at a count
		// of 2, while observerd judges those keys by the default limit,
		// 10, so none is at its limit. The steady keys at their limit
		// (~30 checks a second) explain less than half of the ~140
		// blocked a second. No key takes a hot share (~30 of ~150).
		name: "over_throttling",
		expect: expectation{want: []wantViolation{{
			key:     vkey{"over_throttling", health.SubjectCluster},
			message: `^the cluster blocks \d+% of its checks \([0-9.]+/s of [0-9.]+/s over the last \d+s\), at or above the threshold of 50%, yet its \d+ keys at their limit account for [0-9.]+/s`,
		}}},
		setup:  forgetting("strict-key-0", "strict-key-1", "strict-key-2", "strict-key-3"),
		inject: loadFor(loadgen.Config{Rate: 120, Keys: 4, KeyPrefix: "strict-", Limit: &two}),
		// The blocked rate climbs past twice the explained one as the
		// blocks fill the recent rates' window...
		raiseWithin: recentWindow + scrapeInterval + throttleGrace + twoPolls + chaosSlack,
		repair:      stopAndForget("strict-key-0", "strict-key-1", "strict-key-2", "strict-key-3"),
		// ... and falls back as they leave it.
		clearWithin: recentWindow + scrapeInterval + twoPolls + chaosSlack,
	}, {
		// One client checks one key 100 times a second, three times the
		// whole steady load: at its limit (the default, 10) at once, the
		// key takes ~100 of ~130 checks a second, blocked by its limit
		// (no over_throttling). The steady load's two hot keys take 15%
		// each. hot_key looks a minute back, so the repair stops the
		// client and resets its key, which leaves the sample. Its
		// blocks stay in the recent rates' window, explained by no key
		// at its limit any more, for less than over_throttling's grace:
		// it comes after over_throttling, whose condition would
		// otherwise begin before that fault.
		name: "hot_key",
		// Its blocked checks raise its :seq but not the cluster's
		// allowed rate: the sequences count checks, the share is exact.
		expect:      expectation{want: []wantViolation{{key: vkey{"hot_key", "hot-key-0"}, message: hotMessage("hot-key-0", "exact to the rates' windows")}}},
		setup:       forgetting("hot-key-0"),
		inject:      loadFor(loadgen.Config{Rate: 100, Keys: 1, KeyPrefix: "hot-"}),
		raiseWithin: minSeqSpan + pollInterval + hotGrace + twoPolls + chaosSlack,
		repair:      stopAndForget("hot-key-0"),
		clearWithin: twoPolls + chaosSlack,
	}, {
		// A node set to fail open loses its link to Redis while observerd
		// still reaches Redis. It answers /health, its endpoints that
		// read Redis fail, and the steady load's checks through it are
		// admitted: its allowed counter keeps rising.
		name: "fail_open",
		expect: expectation{
			want: []wantViolation{{
				key:     vkey{"fail_open", cut.id},
				message: `^node "` + cut.id + `" admitted \d+ checks between scrapes at [0-9:]+ and [0-9:]+ while it cannot reach Redis \(since [0-9:]+: .+\)$`,
			}},
			allow: map[vkey]string{
				{"node_down", cut.id}: "its heartbeat cannot reach Redis either: its registry entry expires after its TTL",
			},
		},
		setup: func(t *testing.T) {
			cut.node.SetFailOpen(true)
			t.Cleanup(func() { cut.proxy.Restore(); cut.node.SetFailOpen(false) })
		},
		inject: func(*testing.T) { cut.proxy.Cut() },
		// The next node poll sees the endpoints fail (the node's Redis
		// client does not retry); the first scrape after that is the
		// baseline, the next one shows the rise.
		raiseWithin: 2*scrapeInterval + twoPolls + chaosSlack,
		repair: func(*testing.T) {
			cut.proxy.Restore()
			cut.node.SetFailOpen(false)
		},
		clearWithin: twoPolls + chaosSlack,
	}, {
		// The false alarm: a key checked several hundred times a
		// second grows between any two reads of it, so a node's count
		// and Redis's, read a moment apart, differ by more than the
		// threshold while both are right ("node 188, Redis 182"). That
		// is no counter_drift. Its clients send the limit of its
		// override, a million: it is below its limit, and a hot key.
		name: "hot growing key without counter_drift",
		// Nearly every check of the cluster is admitted now: whether
		// the sequences count checks or admissions cannot be told, and
		// the share is a lower bound.
		expect: expectation{want: []wantViolation{{
			key: vkey{"hot_key", "busy-key-0"}, message: hotMessage("busy-key-0", "at least|exact to the rates' windows"),
		}}},
		setup: func(t *testing.T) {
			forgetting("busy-key-0")(t)
			override("busy-key-0", strconv.FormatInt(million, 10))(t)
		},
		inject: loadFor(loadgen.Config{Rate: 300, Keys: 1, KeyPrefix: "busy-", Limit: &million}),
		// Below its limit, the key is sampled only once in the top keys,
		// which it enters when a steady key has ranked below it for
		// three walks (the list is full and sticky).
		raiseWithin: 3*pollInterval + minSeqSpan + pollInterval + hotGrace + twoPolls + chaosSlack,
		// Long enough for counter_drift to outlast its grace.
		hold:        driftGrace + 2*twoPolls,
		repair:      stopAndForget("busy-key-0"),
		clearWithin: twoPolls + chaosSlack,
	}, {
		// Last: for a while after it comes back, Prometheus's rates are
		// below the load (one run saw 8 checks a second of 30), which
		// makes keys look hotter than they are.
		name: "source_stale of prometheus",
		expect: expectation{
			want: []wantViolation{{
				key:     vkey{"source_stale", source.Prometheus},
				message: `^source "prometheus" last succeeded [0-9.]+m?s ago, above its bound of ` + staleAfter.String() + `: .+`,
			}},
			// high_latency reads Prometheus alone, hot_key and
			// over_throttling its rates beside Redis: unknown from the
			// first failed poll on. fail_open, which reads the nodes'
			// counters, is undecided only for a node cut from Redis: none
			// is.
			unknown: []string{"high_latency", "hot_key", "over_throttling"},
		},
		setup:       func(t *testing.T) { t.Cleanup(func() { r.c.prom.Start(t) }) },
		inject:      func(*testing.T) { r.c.prom.Stop() },
		raiseWithin: staleAfter + twoPolls + chaosSlack,
		// Start returns once Prometheus answers; a failing source is
		// polled again within the maximum backoff.
		repair:      func(t *testing.T) { r.c.prom.Start(t) },
		clearWithin: maxBackoff + twoPolls + chaosSlack,
	}}
}
