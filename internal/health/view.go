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

// view is one Input made safe to read: no nil snapshot, enabled sources as a
// set.
type view struct {
	now     time.Time
	snap    *snapshot.Snapshot
	redis   *snapshot.RedisSection
	nodes   *snapshot.NodesSection
	fresh   map[string]bool
	enabled map[string]bool
}

// newView normalises in.
func newView(in Input) *view {
	v := &view{
		now:     in.Now,
		snap:    in.Snapshot,
		redis:   in.Redis,
		nodes:   in.Nodes,
		fresh:   in.Fresh,
		enabled: make(map[string]bool),
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

// staleReason is "" when src's data is fresh, else why it is not.
func (v *view) staleReason(src string) string {
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
func (v *view) redisReady() string {
	if r := v.staleReason(source.Redis); r != "" {
		return r
	}
	if v.redis == nil {
		return "redis source has no data yet"
	}
	return ""
}

// track updates what the evaluator remembers across inputs: which node
// subjects were seen registered, and since when each enabled source is
// watched. Both are pruned to what the input still names, so they stay
// bounded.
func (e *Evaluator) track(v *view) {
	for src := range e.watching {
		if !v.enabled[src] {
			delete(e.watching, src)
		}
	}
	for src := range v.enabled {
		if _, ok := e.watching[src]; !ok {
			e.watching[src] = v.now
		}
	}
	present := make(map[string]bool, len(v.snap.Nodes))
	registryFresh := v.enabled[source.Redis] && v.fresh[source.Redis]
	for _, n := range v.snap.Nodes {
		s := n.Name()
		present[s] = true
		if registryFresh && n.Registered {
			e.registered[s] = true
		}
	}
	for s := range e.registered {
		if !present[s] {
			delete(e.registered, s)
		}
	}
}

// truncate bounds s to maxReasonBytes without splitting a UTF-8 sequence.
func truncate(s string) string {
	if len(s) <= maxReasonBytes {
		return s
	}
	return names.Prefix(s, maxReasonBytes) + "..."
}
