package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// Names that peers may write into Redis: bytes that are not UTF-8, and a
// name of 1 MiB.
const (
	binKey      = "bin\xff\xfe\xc0key"
	binKeyShown = `bin\xff\xfe\xc0key` // as /snapshot and /metrics show it
	evilNode    = "evil\xff"
	evilShown   = `evil\xff`
	hugeLen     = 1 << 20
)

// cutName matches a name of repeated letters cut and marked as cut.
var cutName = regexp.MustCompile(`^([a-z]+)…\[\+(\d+) bytes\]$`)

// checkCut checks that got is a name of rawLen bytes cut to the default
// bound of 256 bytes, its mark telling how many bytes were cut.
func checkCut(t *testing.T, what, got string, rawLen int) {
	t.Helper()
	m := cutName.FindStringSubmatch(got)
	if m == nil || len(got) > 256 || fmt.Sprint(rawLen-len(m[1])) != m[2] {
		t.Errorf("%s shown as %.80q... (%d bytes), want cut to 256 bytes with a mark of the bytes cut", what, got, len(got))
	}
}

// seedHostileNames writes counter keys and registry entries whose names are
// not UTF-8 or are 1 MiB long, all over the default limit of 10 and
// without TTL, so that they reach the top keys, the blocks and violations.
func seedHostileNames(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	now := time.Now().UnixMilli()
	pipe := rdb.Pipeline()
	add := func(key string, n int) {
		for i := range n {
			pipe.ZAdd(ctx, "ratelimit:"+key, goredis.Z{Score: float64(now - int64(i)), Member: fmt.Sprintf("%d:%d", now-int64(i), i)})
		}
	}
	add(binKey, 15)
	add(strings.Repeat("k", hugeLen), 14)
	add("plain", 3)
	pipe.HSet(ctx, "ratelimiter:nodes:"+evilNode, "address", "10.0.0.9:8000", "registered_at", "2026-01-02T03:04:05Z")
	pipe.HSet(ctx, "ratelimiter:nodes:wide", "address", strings.Repeat("a", hugeLen))
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed hostile names: %v", err)
	}
}

// TestHostileNames checks that names from peers that are not UTF-8, or are
// huge, never fail a scrape and never bloat /snapshot: they are shown
// escaped and cut, the same in /snapshot and /metrics.
func TestHostileNames(t *testing.T) {
	r := testenv.StartRedis(t)
	seedHostileNames(t, r.Addr)
	d := startDaemon(t,
		"OBSERVERD_SOURCES=redis",
		"OBSERVERD_REDIS_URL="+r.URL,
		"OBSERVERD_POLL_INTERVAL=200ms",
		"OBSERVERD_DEFAULT_LIMIT=10",
	)
	d.waitReady(t, 15*time.Second)

	code, body := d.get(t, "/snapshot")
	if code != http.StatusOK {
		t.Fatalf("/snapshot answered %d", code)
	}
	if len(body) > 64<<10 {
		t.Errorf("/snapshot is %d bytes, want under 64 KiB", len(body))
	}
	// encoding/json would write each invalid byte as U+FFFD: the name
	// would be lost, not shown.
	if strings.Contains(string(body), "\uFFFD") {
		t.Error("/snapshot holds U+FFFD: a name was not escaped")
	}
	s := d.snapshot(t)
	checkHostileSnapshot(t, s)

	for i := range 12 {
		code, body := d.get(t, "/metrics")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics #%d answered %d: %s", i+1, code, body[:min(len(body), 2000)])
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("GET /metrics #%d: parse: %v", i+1, err)
		}
		if i == 0 {
			checkHostileMetrics(t, families, s)
		}
	}
}

func checkHostileSnapshot(t *testing.T, s *snapshot.Snapshot) {
	t.Helper()
	var bin, huge bool
	for _, k := range s.Counters.Top {
		switch {
		case k.Key == binKeyShown:
			bin = true
		case strings.HasPrefix(k.Key, "kkkk"):
			huge = true
			checkCut(t, "huge top key", k.Key, hugeLen)
		}
	}
	if !bin || !huge {
		t.Errorf("top keys %q, want %q and the cut huge key", topNames(s), binKeyShown)
	}
	// The Redis client may withhold registry entries it finds implausible
	// (an id that is not UTF-8, an address that is not host:port); what it
	// passes on is shown escaped and cut.
	for _, n := range s.Nodes {
		switch {
		case strings.HasPrefix(n.ID, "evil"):
			if n.ID != evilShown {
				t.Errorf("node id %q, want %q", n.ID, evilShown)
			}
		case n.ID == "wide" && n.Address != "":
			checkCut(t, "wide node address", n.Address, hugeLen)
		}
	}
	subjects := map[string]bool{}
	for _, v := range s.Violations {
		if v.Invariant == "over_limit" {
			subjects[v.Subject] = true
		}
	}
	if !subjects[binKeyShown] {
		t.Errorf("over_limit subjects %q, want %q", short(subjects), binKeyShown)
	}
}

// topNames are the top keys' names, each at most 40 bytes for messages.
func topNames(s *snapshot.Snapshot) []string {
	var out []string
	for _, k := range s.Counters.Top {
		out = append(out, k.Key[:min(len(k.Key), 40)])
	}
	return out
}

// short lists the names of set, each at most 40 bytes for messages.
func short(set map[string]bool) []string {
	var out []string
	for k := range set {
		out = append(out, k[:min(len(k), 40)])
	}
	slices.Sort(out)
	return out
}

// checkHostileMetrics finds the names of the per-key series as /snapshot
// shows them.
func checkHostileMetrics(t *testing.T, families map[string]*dto.MetricFamily, s *snapshot.Snapshot) {
	t.Helper()
	labels := func(metric, label string) map[string]bool {
		out := map[string]bool{}
		for _, m := range families[metric].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out[l.GetValue()] = true
				}
			}
		}
		return out
	}
	top := map[string]bool{}
	for _, k := range s.Counters.Top {
		top[k.Key] = true
	}
	if keys := labels("observerd_counter_requests", "key"); !keys[binKeyShown] || !maps.Equal(keys, top) {
		t.Errorf("observerd_counter_requests keys %q, want the top keys of /snapshot %q", short(keys), short(top))
	}
	if subjects := labels("observerd_invariant_violation", "subject"); !subjects[binKeyShown] {
		t.Errorf("observerd_invariant_violation subjects %q, want %q", short(subjects), binKeyShown)
	}
}
