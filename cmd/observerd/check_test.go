package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/config"
	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// checkResult is one `observerd check` run by run in this process.
type checkResult struct {
	code   int
	err    error
	stdout string
	stderr string
}

// lastLine is the verdict line of a summary.
func (r checkResult) lastLine() string {
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	return lines[len(lines)-1]
}

func (r checkResult) String() string {
	return fmt.Sprintf("exit %d, err %v\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, tail(r.stderr, 4000))
}

// runCheckIn runs `observerd check flags...` with env under ctx.
func runCheckIn(ctx context.Context, env []string, flags ...string) checkResult {
	var stdout, stderr bytes.Buffer
	err := run(ctx, append([]string{"observerd", "check"}, flags...), env, &stdout, &stderr)
	code, _ := exitStatus(err)
	return checkResult{code: code, err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// runCheckT runs a check that must end within 30 s.
func runCheckT(t *testing.T, env []string, flags ...string) checkResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r := runCheckIn(ctx, env, flags...)
	if ctx.Err() != nil {
		t.Fatalf("check still running after %s: %s", time.Since(start), r)
	}
	return r
}

// TestCheckCluster runs `observerd check` against a real cluster: three
// reference nodes on one Redis, scraped by Prometheus, observerd told of
// node-1 only and discovering the others in the registry.
func TestCheckCluster(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 3, prometheus: true})
	t.Run("healthy", func(t *testing.T) { testCheckHealthy(t, c) })
	t.Run("json", func(t *testing.T) { testCheckJSON(t, c) })
	t.Run("writes nothing to Redis", func(t *testing.T) { testCheckLeaveLease(t, c) })
	t.Run("the cluster's limits judge the walk", func(t *testing.T) { testCheckClusterLimits(t, c) })
	t.Run("redis gone", func(t *testing.T) { testCheckRedisGone(t, c) })
	t.Run("node down", func(t *testing.T) { testCheckNodeDown(t, c) })
}

func testCheckHealthy(t *testing.T, c *cluster) {
	r := runCheckT(t, c.observerdEnv())
	if r.code != exitOK || r.err != nil || r.lastLine() != "OK: no critical violation" {
		t.Fatalf("healthy cluster: want exit 0 and OK, got %s", r)
	}
	for _, want := range []string{"nodes: 3 up, 0 down", "violations: none"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, src := range []string{"prometheus", "ratelimiter", "redis"} {
		if !containsFields(r.stdout, src, "ok") {
			t.Errorf("summary lacks source %s ok:\n%s", src, r.stdout)
		}
	}
	for _, n := range c.nodes {
		if !containsFields(r.stdout, n.id, n.Addr(), "up", "yes") {
			t.Errorf("summary lacks %s at %s up and registered:\n%s", n.id, n.Addr(), r.stdout)
		}
	}
}

// containsFields reports whether a line of s starts with fields, split on
// spaces.
func containsFields(s string, fields ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		if f := strings.Fields(line); len(f) >= len(fields) && slices.Equal(f[:len(fields)], fields) {
			return true
		}
	}
	return false
}

// hasText reports whether a line of s holds want, however the columns are
// padded.
func hasText(s, want string) bool {
	want = strings.Join(strings.Fields(want), " ")
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(strings.Join(strings.Fields(line), " "), want) {
			return true
		}
	}
	return false
}

func testCheckJSON(t *testing.T, c *cluster) {
	for _, flag := range []string{"--json", "-json"} {
		t.Run(flag, func(t *testing.T) {
			r := runCheckT(t, c.observerdEnv(), flag)
			if r.code != exitOK {
				t.Fatalf("check %s: %s", flag, r)
			}
			var s snapshot.Snapshot
			if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
				t.Fatalf("check %s: stdout is not a snapshot: %v\n%s", flag, err, r.stdout)
			}
			if s.SchemaVersion != 1 || len(s.Nodes) != 3 || len(s.Violations) != 0 {
				t.Errorf("snapshot: schema %d, %d nodes, violations %+v; want 1, 3, none", s.SchemaVersion, len(s.Nodes), s.Violations)
			}
			for name, st := range s.Sources {
				if st.Status != snapshot.StatusOK {
					t.Errorf("source %s: %+v", name, st)
				}
			}
			if !strings.Contains(r.stderr, "OK: no critical violation\n") {
				t.Errorf("stderr lacks the verdict:\n%s", r.stderr)
			}
		})
	}
}

// leaseKey and shareKey are the walk lease and the shared walk of the
// default key prefix.
const (
	leaseKey = "observerd:{ratelimit:}:walk:lease"
	shareKey = "observerd:{ratelimit:}:walk:result"
)

// testCheckLeaveLease: in lease mode (the default) a check neither takes
// the walk lease, nor waits for the walker's result, nor writes anything.
func testCheckLeaveLease(t *testing.T, c *cluster) {
	tests := []struct {
		give   string
		holder string // "": no lease held
	}{
		{give: "no lease held"},
		{give: "lease held by another observer", holder: "fleet-walker-7"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if tt.holder != "" {
				if err := c.rdb.Set(ctx, leaseKey, tt.holder, time.Minute).Err(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.rdb.Del(ctx, leaseKey) })
			}
			before := allKeys(t, c.rdb)
			r := runCheckT(t, c.observerdEnv("OBSERVERD_REDIS_WALK_COORDINATION=lease", "OBSERVERD_INSTANCE_ID=checker"))
			if r.code != exitOK || !strings.Contains(r.stdout, "counters: ") {
				t.Fatalf("check: %s", r)
			}
			if after := allKeys(t, c.rdb); !slices.Equal(before, after) {
				t.Errorf("keys before the check %q, after %q", before, after)
			}
			holder, err := c.rdb.Get(ctx, leaseKey).Result()
			switch {
			case tt.holder == "" && !errors.Is(err, goredis.Nil):
				t.Errorf("lease after the check: %q, %v; want none", holder, err)
			case tt.holder != "" && holder != tt.holder:
				t.Errorf("lease after the check: %q, %v; want %q's untouched", holder, err, tt.holder)
			}
			if n := c.rdb.Exists(ctx, shareKey).Val(); n != 0 {
				t.Errorf("the check wrote the shared walk %s", shareKey)
			}
		})
	}
}

// allKeys is every key of rdb, sorted.
func allKeys(t *testing.T, rdb *goredis.Client) []string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// testCheckClusterLimits: the nodes' default limit (10, not observerd's
// configured 100) judges the Redis walk, so the seeded "hot" key with 12
// requests is over its limit, at once whatever its grace period.
func testCheckClusterLimits(t *testing.T, c *cluster) {
	seedKeyspace(t, c.redis.Addr)
	r := runCheckT(t, c.observerdEnv("OBSERVERD_OVER_LIMIT_GRACE=1m"))
	if r.code != exitOK || r.lastLine() != "OK: no critical violation (2 warnings)" {
		t.Fatalf("seeded keyspace: want exit 0 with 2 warnings, got %s", r)
	}
	wantCounters := fmt.Sprintf("counters: %d keys, %d requests in window, 1 blocked, 1 over limit, 1 without TTL, 1 orphan :seq keys, 0 of the wrong type", seededKeys, seededRequests)
	for _, want := range []string{
		"limits: default 10 per 1m0s (from api), 1 override",
		wantCounters,
		// Of the default 10, hot's 12 is near it; no bulk key's 1 to 5,
		// nor vip's 2 of its own 5.
		"near limit: 1 key at or above 80% of its own limit",
		`warning over_limit hot key "hot" counts 12 requests in its window, over its limit of 10`,
		"warning counter_without_ttl cold",
	} {
		if !hasText(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !containsFields(r.stdout, "hot", "12", "10", "120%") {
		t.Errorf("summary lacks hot among the keys near their limit:\n%s", r.stdout)
	}
}

// testCheckRedisGone: the nodes answer, observerd's Redis does not: judged
// from what is there, redis_disconnected is critical.
func testCheckRedisGone(t *testing.T, c *cluster) {
	dead := "redis://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	r := runCheckT(t, c.observerdEnv("OBSERVERD_REDIS_URL="+dead))
	if r.code != exitCritical || r.lastLine() != "CRITICAL: 1 critical violation (redis_disconnected redis)" {
		t.Fatalf("redis gone: want exit 2 with redis_disconnected, got %s", r)
	}
	if !hasText(r.stdout, "critical redis_disconnected redis") || !containsFields(r.stdout, "redis", "error") {
		t.Errorf("summary lacks the violation or the failed source:\n%s", r.stdout)
	}
}

func containsPrefix(s, prefix string) bool {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

func testCheckNodeDown(t *testing.T, c *cluster) {
	c.stopNode(1)
	t.Cleanup(func() { c.startNode(1) })
	// A check does not wait for a grace period.
	r := runCheckT(t, c.observerdEnv("OBSERVERD_RATELIMITER_URLS="+strings.Join(c.urls(), ","), "OBSERVERD_NODE_DOWN_GRACE=1m"))
	if r.code != exitCritical || r.lastLine() != "CRITICAL: 1 critical violation (node_down node-2)" {
		t.Fatalf("node-2 stopped: want exit 2 naming node_down node-2, got %s", r)
	}
	if !strings.Contains(r.stdout, "nodes: 2 up, 1 down") || !containsFields(r.stdout, "node-2", c.nodes[1].Addr(), "down") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	// The summary reports the violations; the log must not say it again.
	if strings.Contains(r.stderr, "invariant violation raised") {
		t.Errorf("the check logged the violations its summary reports:\n%s", r.stderr)
	}
	// The seeded keys' warnings come after.
	if i, j := strings.Index(r.stdout, "critical  node_down"), strings.Index(r.stdout, "warning   "); i < 0 || j < i {
		t.Errorf("critical violations must come first:\n%s", r.stdout)
	}
}

// TestCheckCannotJudge: a bad setting or no source answering exits 1, and
// no secret is shown.
func TestCheckCannotJudge(t *testing.T) {
	const secret = "chk-pass-5e1"
	deadRedis := fmt.Sprintf("redis://:%s@127.0.0.1:%d", secret, testenv.FreePort(t))
	tests := []struct {
		give  string
		args  []string
		env   []string
		want  string // in the error
		wantV string // the verdict line, when the check judged
	}{
		{give: "bad value", env: []string{"OBSERVERD_POLL_INTERVAL=often"}, want: "OBSERVERD_POLL_INTERVAL"},
		{give: "unknown variable", env: []string{"OBSERVERD_POL_INTERVAL=1s"}, want: "did you mean OBSERVERD_POLL_INTERVAL"},
		{give: "bad grace", env: []string{"OBSERVERD_NODE_DOWN_GRACE=-1s"}, want: "OBSERVERD_NODE_DOWN_GRACE"},
		{give: "an argument", args: []string{"now"}, want: "unexpected arguments"},
		{give: "unknown flag", args: []string{"-yaml"}, want: "-yaml"},
		{
			give:  "redis only, unreachable",
			env:   []string{"OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL=" + deadRedis, "OBSERVERD_POLL_TIMEOUT=2s"},
			wantV: "UNKNOWN: every source failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			r := runCheckT(t, tt.env, tt.args...)
			if r.code != exitUnknown {
				t.Fatalf("want exit 1, got %s", r)
			}
			if tt.want != "" && (r.err == nil || !strings.Contains(r.err.Error(), tt.want)) {
				t.Errorf("error %v, want one naming %q", r.err, tt.want)
			}
			if tt.wantV != "" && r.lastLine() != tt.wantV {
				t.Errorf("verdict %q, want %q\n%s", r.lastLine(), tt.wantV, r)
			}
			if strings.Contains(r.stdout+r.stderr+fmt.Sprint(r.err), secret) {
				t.Errorf("the password shows:\n%s", r)
			}
		})
	}
}

// TestCheckDeadlineAndInterrupt: a node that never answers holds a check
// for its poll deadline at most, and an interrupt ends it at once.
func TestCheckDeadlineAndInterrupt(t *testing.T) {
	asked := make(chan struct{}, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	env := func(timeout string) []string {
		return []string{"OBSERVERD_SOURCES=ratelimiter", "OBSERVERD_RATELIMITER_URLS=" + srv.URL, "OBSERVERD_RATELIMITER_POLL_TIMEOUT=" + timeout}
	}
	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		r := runCheckT(t, env("300ms"))
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("check took %s with a 300ms deadline", took)
		}
		if r.code != exitUnknown || r.lastLine() != "UNKNOWN: every source failed" || !strings.Contains(r.stdout, "no answer before context deadline exceeded") {
			t.Errorf("want exit 1, every source failed on its deadline, got %s", r)
		}
	})
	t.Run("interrupt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan checkResult, 1)
		go func() { done <- runCheckIn(ctx, env("30s")) }()
		select {
		case <-asked:
		case <-time.After(10 * time.Second):
			t.Fatal("the node was not asked within 10s")
		}
		cancel()
		select {
		case r := <-done:
			if r.code != exitUnknown || r.err == nil || !strings.Contains(r.err.Error(), "check interrupted") || r.stdout != "" {
				t.Errorf("interrupted: want exit 1, check interrupted, no summary; got %s", r)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("check still running 2s after the interrupt")
		}
	})
}

func TestCheckHelp(t *testing.T) {
	for _, flag := range []string{"-h", "--help"} {
		t.Run(flag, func(t *testing.T) {
			r := runCheckT(t, nil, flag)
			if r.err != nil {
				t.Fatalf("check %s: %s", flag, r)
			}
			for _, want := range []string{
				"Usage: observerd check [-json] [-h]", "2  a critical violation holds", "Grace periods are not waited for",
				"without the walk lease", "OBSERVERD_REDIS_URL", "OBSERVERD_NODE_DOWN_GRACE",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("check %s lacks %q", flag, want)
				}
			}
		})
	}
}

// TestCheckBinaryExitCodes runs the built binary: main turns the verdict
// into the exit status and prints an error only when there is one.
func TestCheckBinaryExitCodes(t *testing.T) {
	deadNode := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	tests := []struct {
		give       string
		env        []string
		wantCode   int
		wantStdout string // the last line
		wantStderr string // "": no "observerd:" line
	}{
		{
			give:       "node down",
			env:        []string{"OBSERVERD_SOURCES=ratelimiter", "OBSERVERD_RATELIMITER_URLS=http://" + deadNode},
			wantCode:   2,
			wantStdout: "CRITICAL: 1 critical violation (node_down " + deadNode + ")",
		},
		{
			give:       "bad value",
			env:        []string{"OBSERVERD_SOURCES=ratelimiter,kafka"},
			wantCode:   1,
			wantStderr: "OBSERVERD_SOURCES: unknown source",
		},
	}
	bin := observerdBinary(t)
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "check")
			cmd.Env = append(cleanEnv(), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if code := 0; !errors.As(err, &ee) || ee.ExitCode() != tt.wantCode {
				if ee != nil {
					code = ee.ExitCode()
				}
				t.Fatalf("exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", code, err, tt.wantCode, stdout.String(), stderr.String())
			}
			r := checkResult{stdout: stdout.String()}
			if tt.wantStdout != "" && r.lastLine() != tt.wantStdout {
				t.Errorf("last line %q, want %q", r.lastLine(), tt.wantStdout)
			}
			said := containsPrefix(stderr.String(), "observerd:")
			if tt.wantStderr == "" && said || tt.wantStderr != "" && (!said || !strings.Contains(stderr.String(), tt.wantStderr)) {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

// cleanEnv is this process's environment without any OBSERVERD_ variable.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.Prefix) {
			out = append(out, kv)
		}
	}
	return out
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		give     error
		wantCode int
		wantSay  bool
	}{
		{give: nil, wantCode: 0},
		{give: errors.New("OBSERVERD_X: bad"), wantCode: 1, wantSay: true},
		{give: &exitError{code: 2}, wantCode: 2},
		{give: &exitError{code: 1}, wantCode: 1},
		{give: fmt.Errorf("check: %w", &exitError{code: 1, err: errors.New("interrupted")}), wantCode: 1, wantSay: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.give), func(t *testing.T) {
			code, say := exitStatus(tt.give)
			if code != tt.wantCode || say != tt.wantSay {
				t.Errorf("exitStatus(%v) = %d, %v; want %d, %v", tt.give, code, say, tt.wantCode, tt.wantSay)
			}
		})
	}
}

// TestWithoutGrace sets every grace period variable, found by name so that
// a new invariant's is not missed, and wants them all zero in the check.
func TestWithoutGrace(t *testing.T) {
	environ := []string{"OBSERVERD_HIGH_LATENCY_THRESHOLD=1s", "OBSERVERD_COUNTER_DRIFT_THRESHOLD=7"}
	graces := 0
	for _, v := range config.Vars(health.Builtin()) {
		if strings.HasSuffix(v.Name, "_GRACE") {
			environ = append(environ, v.Name+"=1h")
			graces++
		}
	}
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatal(err)
	}
	got := checkConfig(cfg).Invariants
	for _, name := range got.Names() {
		if g := got.Of(name).Grace; g != 0 {
			t.Errorf("%s grace = %v after checkConfig", name, g)
		}
	}
	latency, drift := got.Of("high_latency").Duration(), got.Of("counter_drift").Count()
	if graces < 9 || latency != time.Second || drift != 7 {
		t.Errorf("%d grace periods found; thresholds %s, %d: want at least 9, and the thresholds kept", graces, latency, drift)
	}
}

func TestVerdictOf(t *testing.T) {
	enabled := []string{"prometheus", "ratelimiter", "redis"}
	sources := func(status ...string) map[string]snapshot.SourceStatus {
		m := make(map[string]snapshot.SourceStatus)
		for i, s := range status {
			m[enabled[i]] = snapshot.SourceStatus{Status: s}
		}
		return m
	}
	v := func(severity, invariant, subject string) snapshot.Violation {
		return snapshot.Violation{Severity: severity, Invariant: invariant, Subject: subject}
	}
	var many []snapshot.Violation
	for i := range 7 {
		many = append(many, v("critical", "node_down", fmt.Sprintf("node-%d", i)))
	}
	tests := []struct {
		give     string
		snap     snapshot.Snapshot
		wantCode int
		wantLine string
	}{
		{give: "healthy", snap: snapshot.Snapshot{Sources: sources("ok", "ok", "ok")}, wantLine: "OK: no critical violation"},
		{
			give: "every source failed", wantCode: 1, wantLine: "UNKNOWN: every source failed",
			snap: snapshot.Snapshot{Sources: sources("error", "error", "error"), Violations: []snapshot.Violation{v("critical", "redis_disconnected", "redis")}},
		},
		{
			give: "one source left", wantCode: 2, wantLine: "CRITICAL: 1 critical violation (redis_disconnected redis)",
			snap: snapshot.Snapshot{Sources: sources("error", "ok", "error"), Violations: []snapshot.Violation{v("critical", "redis_disconnected", "redis")}},
		},
		{
			give: "many", wantCode: 2,
			wantLine: "CRITICAL: 7 critical violations (node_down node-0, node_down node-1, node_down node-2, node_down node-3, node_down node-4 and 2 more)",
			snap:     snapshot.Snapshot{Sources: sources("ok", "ok", "ok"), Violations: many},
		},
		{
			give: "warnings, info and unknown", wantLine: "OK: no critical violation (2 warnings, 1 info; unknown: high_latency, node_down)",
			snap: snapshot.Snapshot{
				Sources:    sources("error", "ok", "ok"),
				Violations: []snapshot.Violation{v("warning", "over_limit", "a"), v("warning", "over_limit", "b"), v("info", "sequence_key_leak", "redis")},
				Unknown:    []snapshot.UnknownInvariant{{Invariant: "high_latency"}, {Invariant: "node_down"}},
			},
		},
		{
			give: "only unknown", wantLine: "OK: no critical violation (unknown: node_down)",
			snap: snapshot.Snapshot{Sources: sources("ok", "error", "ok"), Unknown: []snapshot.UnknownInvariant{{Invariant: "node_down"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := verdictOf(&tt.snap, enabled)
			if got.code != tt.wantCode || got.line != tt.wantLine {
				t.Errorf("verdictOf = %d %q, want %d %q", got.code, got.line, tt.wantCode, tt.wantLine)
			}
		})
	}
}

// TestSummaryQuotesControlCharacters: a peer's names reach a terminal
// quoted when they hold control characters.
func TestSummaryQuotesControlCharacters(t *testing.T) {
	s := &snapshot.Snapshot{
		Sources:    map[string]snapshot.SourceStatus{"redis": {Status: "ok"}},
		Violations: []snapshot.Violation{{Severity: "warning", Invariant: "over_limit", Subject: "\x1b[31mred\tkey", Message: "m"}},
	}
	var out bytes.Buffer
	if err := writeSummary(&out, s, []string{"redis"}, verdictOf(s, []string{"redis"})); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\x1b") || !strings.Contains(out.String(), `"\x1b[31mred\tkey"`) {
		t.Errorf("summary:\n%s", out.String())
	}
}

// TestCheckSummaryShowsEvidenceAndCauses: under each violation the summary
// writes its evidence, "what = value (source, time)" a line, and its
// causes numbered, lined up with the message; a violation without either
// is one line, as before.
func TestCheckSummaryShowsEvidenceAndCauses(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &snapshot.Snapshot{
		GeneratedAt: at,
		Sources:     map[string]snapshot.SourceStatus{"redis": {Status: "ok"}, "ratelimiter": {Status: "ok"}},
		Violations: []snapshot.Violation{
			{Severity: "warning", Invariant: "ttl_beyond_window", Subject: "user:1", Message: `counter key "user:1" expires in 1h0m0s`,
				Evidence: []snapshot.Evidence{
					{Source: "redis", At: at.Add(-2 * time.Second), What: "PTTL (ms)", Value: 3600000},
					{Source: "observerd", At: at.Add(-26 * time.Hour), What: "TTL the contract gives that window (ms)", Value: 61000.5},
					{Source: "node-\x1b[2J", At: at, What: "a figure not known", Value: snapshot.Null()},
				},
				Causes: []string{"an EXPIRE run by hand", "a longer window_ms in the requests"},
			},
			{Severity: "critical", Invariant: "node_down", Subject: "node-2", Message: "node-2 is unreachable", Evidence: []snapshot.Evidence{}, Causes: []string{}},
		},
	}
	var out bytes.Buffer
	if err := writeSummary(&out, s, []string{"ratelimiter", "redis"}, verdictOf(s, []string{"ratelimiter", "redis"})); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	want := `violations: 2
  SEVERITY  INVARIANT          SUBJECT  MESSAGE
  critical  node_down          node-2   node-2 is unreachable
  warning   ttl_beyond_window  user:1   counter key "user:1" expires in 1h0m0s
                                        evidence:
                                          PTTL (ms) = 3600000 (redis, 11:59:58Z)
                                          TTL the contract gives that window (ms) = 61000.5 (observerd, 2026-02-28T10:00:00Z)
                                          a figure not known = - ("node-\x1b[2J", 12:00:00Z)
                                        likely causes, in the order to check them:
                                          1. an EXPIRE run by hand
                                          2. a longer window_ms in the requests
CRITICAL: 1 critical violation (node_down node-2)
`
	if i := strings.Index(got, "violations: "); i < 0 || got[i:] != want {
		t.Errorf("summary:\n%s\nwant it to end with:\n%s", got, want)
	}
}

// TestCheckEvidenceOfARealViolation runs a check on a Redis holding a
// counter whose TTL outlives its window: the summary shows the violation's
// evidence and causes under it, and --json carries them in the violation,
// as /snapshot does; the exit status stays 0 for a warning.
func TestCheckEvidenceOfARealViolation(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	defer rdb.Close()
	now := time.Now().UnixMilli()
	if err := rdb.ZAdd(ctx, "ratelimit:lingering", goredis.Z{Score: float64(now), Member: fmt.Sprintf("%d:0", now)}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Expire(ctx, "ratelimit:lingering", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	env := []string{"OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL=" + r.URL, "OBSERVERD_DEFAULT_WINDOW=60s", "OBSERVERD_POLL_TIMEOUT=5s"}

	human := runCheckT(t, env)
	if human.code != exitOK || human.lastLine() != "OK: no critical violation (1 warning)" {
		t.Fatalf("check: want exit 0 with 1 warning, got %s", human)
	}
	t.Logf("summary:\n%s", human.stdout)
	for _, want := range []string{
		"warning ttl_beyond_window lingering",
		"evidence:",
		"its window, override or default (ms) = 60000 (redis, ",
		"TTL the contract gives that window (ms) = 61000 (observerd, ",
		"likely causes, in the order to check them:",
		"1. an EXPIRE (or PERSIST and EXPIRE) run on the key by hand",
	} {
		if !hasText(human.stdout, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	// The TTL left: an hour, less the time the check took.
	if pttl := regexp.MustCompile(`(?m)^ +PTTL \(ms\) = 3[56]\d{5} \(redis, \d\d:\d\d:\d\dZ\)$`); !pttl.MatchString(human.stdout) {
		t.Errorf("summary lacks a line matching %s", pttl)
	}

	js := runCheckT(t, env, "--json")
	if js.code != exitOK {
		t.Fatalf("check --json: %s", js)
	}
	var doc struct {
		Violations []map[string]json.RawMessage `json:"violations"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, js.stdout)
	}
	var found bool
	for _, raw := range doc.Violations {
		var v snapshot.Violation
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		// Every violation carries both lists, [] when it has nothing to say.
		for _, field := range []string{"evidence", "causes"} {
			if f, ok := raw[field]; !ok || !bytes.HasPrefix(f, []byte("[")) {
				t.Errorf("violation %s %s: %s is %s, want a list", v.Invariant, v.Subject, field, f)
			}
		}
		if v.Invariant != "ttl_beyond_window" || v.Subject != "lingering" {
			continue
		}
		found = true
		whats := make(map[string]snapshot.Evidence)
		for _, e := range v.Evidence {
			whats[e.What] = e
			if e.At.IsZero() || time.Since(e.At) > time.Minute {
				t.Errorf("evidence %q read at %s", e.What, e.At)
			}
		}
		if e := whats["PTTL (ms)"]; e.Source != "redis" || float64(e.Value) < 3_500_000 || float64(e.Value) > 3_600_000 {
			t.Errorf("evidence PTTL %+v, want about 3600000 ms from redis", e)
		}
		if e := whats["TTL the contract gives that window (ms)"]; e.Source != "observerd" || e.Value != 61000 {
			t.Errorf("evidence of the contract's TTL %+v, want 61000 ms from observerd", e)
		}
		if len(v.Causes) != 3 || !strings.HasPrefix(v.Causes[0], "an EXPIRE") {
			t.Errorf("causes %q, want three, an EXPIRE by hand first", v.Causes)
		}
	}
	if !found {
		t.Errorf("--json has no ttl_beyond_window violation of lingering:\n%s", js.stdout)
	}
}

// TestCheckSummaryShowsNearLimit: the summary counts the keys near their
// limit and names the nearest few, in the snapshot's order, with their
// share; the rest are counted.
func TestCheckSummaryShowsNearLimit(t *testing.T) {
	near := []snapshot.NearLimitKey{
		{Key: "blocked-all", Count: 0, Limit: 0}, {Key: "over", Count: 15, Limit: 10}, {Key: "full", Count: 10, Limit: 10},
		{Key: "o80", Count: 80, Limit: 100}, {Key: "d8", Count: 8, Limit: 10}, {Key: "o4of5", Count: 4, Limit: 5},
	}
	tests := []struct {
		name string
		give snapshot.Counters
		want string
	}{
		{
			name: "none",
			give: snapshot.Counters{NearLimitRatio: 0.8, NearLimit: []snapshot.NearLimitKey{}},
			want: "near limit: no key at or above 80% of its own limit\n",
		},
		{
			name: "more than listed, more than kept",
			give: snapshot.Counters{NearLimitKeys: 9, NearLimitRatio: 0.8, NearLimit: near},
			want: `near limit: 9 keys at or above 80% of their own limit
  KEY          COUNT  LIMIT  SHARE
  blocked-all  0      0      limit 0
  over         15     10     150%
  full         10     10     100%
  o80          80     100    80%
  d8           8      10     80%
  and 4 more
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &snapshot.Snapshot{
				Sources:  map[string]snapshot.SourceStatus{"redis": {Status: "ok", LastSuccess: new(time.Now())}},
				Counters: tt.give,
			}
			var out bytes.Buffer
			if err := writeSummary(&out, s, []string{"redis"}, verdictOf(s, []string{"redis"})); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			i := strings.Index(got, "near limit: ")
			j := strings.Index(got, "violations: ")
			if i < 0 || j < i || got[i:j] != tt.want {
				t.Errorf("summary:\n%s\nwant it to hold:\n%s", got, tt.want)
			}
		})
	}
}
