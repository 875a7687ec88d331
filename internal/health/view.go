package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// maxReasonBytes bounds the source error text copied into messages and
// reasons: a peer's error may be arbitrarily long.
const maxReasonBytes = 200

// View is one Input made safe to read (no nil snapshot, enabled sources as
// a set) with what the evaluator remembers from earlier inputs. Checks
// read it and never change it.
type View struct {
	now     time.Time
	snap    *snapshot.Snapshot
	redis   *snapshot.RedisSection
	nodes   *snapshot.NodesSection
	promSec *snapshot.PrometheusSection
	fresh   map[string]bool
	enabled map[string]bool
	mem     *memory
}

// Now is the time of the evaluation.
func (v *View) Now() time.Time { return v.now }

// Snapshot is the merged snapshot, without violations.
func (v *View) Snapshot() *snapshot.Snapshot { return v.snap }

// newView normalises in.
func newView(in Input, mem *memory) *View {
	v := &View{
		now:     in.Now,
		snap:    in.Snapshot,
		redis:   in.Redis,
		nodes:   in.Nodes,
		promSec: in.Prometheus,
		fresh:   in.Fresh,
		enabled: make(map[string]bool),
		mem:     mem,
	}
	if v.snap == nil {
		v.snap = &snapshot.Snapshot{}
	}
	if in.Enabled == nil {
		for src := range v.snap.Sources {
			v.enabled[src] = true
		}
	}
	for _, src := range in.Enabled {
		v.enabled[src] = true
	}
	return v
}

// anyEnabled reports whether one of srcs is enabled.
func (v *View) anyEnabled(srcs []string) bool {
	for _, s := range srcs {
		if v.enabled[s] {
			return true
		}
	}
	return false
}

// staleReason is "" when src's data is fresh, else why it is not.
func (v *View) staleReason(src string) string {
	if v.fresh[src] {
		return ""
	}
	st, ok := v.snap.Sources[src]
	switch {
	case !ok:
		return fmt.Sprintf("%s source has no status", src)
	case st.Status == snapshot.StatusPending:
		return fmt.Sprintf("%s source has not been polled yet", src)
	case st.Error != "":
		return fmt.Sprintf("%s source is %s: %s", src, st.Status, truncate(st.Error))
	default:
		return fmt.Sprintf("%s source is not fresh (status %s)", src, st.Status)
	}
}

// redisReady is "" when the Redis-based invariants can be judged, else why
// not. It is only asked when the redis source is enabled.
func (v *View) redisReady() string {
	if r := v.staleReason(source.Redis); r != "" {
		return r
	}
	if v.redis == nil {
		return "redis source has no data yet"
	}
	return ""
}

// redisVerdict judges the last good Redis section: the Redis-based
// invariants keep no verdict from stale data, so while the redis source is
// not fresh they are unknown.
func (v *View) redisVerdict(judge func(*snapshot.RedisSection) []Finding) Verdict {
	if r := v.redisReady(); r != "" {
		return Verdict{Unknown: r}
	}
	return Verdict{Findings: judge(v.redis)}
}

// memory is what the evaluator remembers across inputs for its checks.
type memory struct {
	// registered remembers the node subjects seen registered, so that a
	// registry entry that disappears can be told from one that never was.
	registered map[string]bool
	// watching is, per enabled source, when the evaluator first saw it;
	// a source that never succeeded is stale once its bound has passed
	// since then.
	watching map[string]time.Time
	// staleAfter is each source's staleness bound.
	staleAfter map[string]time.Duration
	// readings are the figures the checks compare over time.
	readings readings
}

// track updates the memory from v: which node subjects were seen
// registered, and since when each enabled source is watched. Both are
// pruned to what the input still names, so they stay bounded.
func (m *memory) track(v *View) {
	for src := range m.watching {
		if !v.enabled[src] {
			delete(m.watching, src)
		}
	}
	for src := range v.enabled {
		if _, ok := m.watching[src]; !ok {
			m.watching[src] = v.now
		}
	}
	present := make(map[string]bool, len(v.snap.Nodes))
	registryFresh := v.enabled[source.Redis] && v.fresh[source.Redis]
	for _, n := range v.snap.Nodes {
		s := n.Name()
		present[s] = true
		if registryFresh && n.Registered {
			m.registered[s] = true
		}
	}
	for s := range m.registered {
		if !present[s] {
			delete(m.registered, s)
		}
	}
	m.readings.record(v)
}

// truncate bounds s to maxReasonBytes without splitting a UTF-8 sequence.
func truncate(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	return names.Prefix(s, maxReasonBytes) + "..."
}
