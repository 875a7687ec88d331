package health

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// checkNodeDown: a known node is unreachable, or its registry entry expired.
//
// Reachability comes from the ratelimiter source and is judged only for
// nodes observerd polls (a node known from the registry alone, with
// discovery off or not polled yet, says nothing by not answering). An
// expired entry is a node seen registered earlier that is no longer
// registered while the redis source is fresh; a node that was never
// registered (a configured URL without a registry) is not down for that.
// When the ratelimiter source is enabled but not fresh the invariant is
// unknown; when only the registry cannot be judged, reachable nodes are
// undecided.
func (e *Evaluator) checkNodeDown(v *view) verdict {
	apiOn := v.enabled[source.Ratelimiter]
	registryOn := v.enabled[source.Redis]
	if !apiOn && !registryOn {
		return verdict{skip: true}
	}
	if apiOn {
		if r := v.staleReason(source.Ratelimiter); r != "" {
			return verdict{unknown: r}
		}
	}
	registryReason := ""
	if registryOn {
		registryReason = v.staleReason(source.Redis)
	}
	registryKnown := registryOn && registryReason == ""
	if !apiOn && !registryKnown {
		return verdict{unknown: registryReason}
	}
	polled := v.polledNodes()
	var vd verdict
	for _, n := range v.snap.Nodes {
		subject := n.Name()
		unreachable := apiOn && !n.Reachable && (n.URL != "" || polled[n.ID] || polled[n.Address])
		expired := registryKnown && !n.Registered && e.registered[subject]
		if !unreachable && !expired {
			if registryOn && !registryKnown {
				vd.undecided = append(vd.undecided, subject)
			}
			continue
		}
		vd.findings = append(vd.findings, finding{subject: subject, message: nodeDownMessage(n, unreachable, expired)})
	}
	return vd
}

// polledNodes is the set of ids and addresses the nodes section reports on.
func (v *view) polledNodes() map[string]bool {
	out := make(map[string]bool)
	if v.nodes == nil {
		return out
	}
	for _, r := range v.nodes.Nodes {
		if r.ID != "" {
			out[r.ID] = true
		}
		if r.Address != "" {
			out[r.Address] = true
		}
	}
	return out
}

// nodeDownMessage says why a node is down.
func nodeDownMessage(n snapshot.Node, unreachable, expired bool) string {
	name := fmt.Sprintf("node %q (%s)", n.Name(), n.Address)
	var msg string
	switch {
	case unreachable && expired:
		msg = name + " is unreachable and its registry entry expired"
	case unreachable:
		msg = name + " is unreachable"
	case !n.Reachable:
		// Not polled any more since it left the registry, and nothing
		// says it is there.
		msg = name + " is not reachable and its registry entry expired"
	default:
		msg = name + " is reachable but its registry entry expired"
	}
	if err := n.EndpointErrors["/health"]; unreachable && err != "" {
		msg += ": " + truncate(err)
	}
	return msg
}

// checkRedisDisconnected: Redis does not answer. The redis source's last
// poll failed, or the poll succeeded but Redis reported itself not
// connected. Unknown before the first poll has finished.
func (e *Evaluator) checkRedisDisconnected(v *view) verdict {
	if !v.enabled[source.Redis] {
		return verdict{skip: true}
	}
	st, ok := v.snap.Sources[source.Redis]
	if !ok || st.Status == snapshot.StatusPending {
		return verdict{unknown: v.staleReason(source.Redis)}
	}
	var msg string
	switch {
	case st.Status != snapshot.StatusOK:
		msg = "redis does not answer: source is " + st.Status
		if st.ConsecutiveFailures > 0 {
			msg += fmt.Sprintf(" after %d consecutive failures", st.ConsecutiveFailures)
		}
		if st.Error != "" {
			msg += ": " + truncate(st.Error)
		}
	case !v.snap.Redis.Connected:
		msg = "redis reports itself not connected"
	default:
		return verdict{}
	}
	return verdict{findings: []finding{{subject: SubjectRedis, message: msg}}}
}

// checkHighLatency: a node's check-latency P99, from Prometheus, is above
// the threshold. Nodes without a valid figure are not judged.
func (e *Evaluator) checkHighLatency(v *view) verdict {
	if !v.enabled[source.Prometheus] {
		return verdict{skip: true}
	}
	if r := v.staleReason(source.Prometheus); r != "" {
		return verdict{unknown: r}
	}
	limit := e.cfg.HighLatency.Threshold
	var vd verdict
	for _, n := range v.snap.Nodes {
		p99 := n.CheckLatencyP99.Duration
		if !n.CheckLatencyP99.Valid || p99 <= limit {
			continue
		}
		vd.findings = append(vd.findings, finding{
			subject: n.Name(),
			message: fmt.Sprintf("node %q check latency p99 is %s, above the threshold of %s",
				n.Name(), p99.Round(time.Microsecond), limit),
		})
	}
	return vd
}

// checkSourceStale: an enabled source has not succeeded for longer than its
// bound. A source that never succeeded counts from when the evaluator first
// saw it enabled. Never unknown: it judges the sources themselves.
func (e *Evaluator) checkSourceStale(v *view) verdict {
	var vd verdict
	for _, src := range slices.Sorted(maps.Keys(v.enabled)) {
		bound, ok := e.cfg.staleAfter(src)
		if !ok {
			continue
		}
		st := v.snap.Sources[src]
		var msg string
		switch {
		case st.LastSuccess == nil:
			age := v.now.Sub(e.watching[src])
			if age <= bound {
				continue
			}
			msg = fmt.Sprintf("source %q has not succeeded once in %s, above its bound of %s",
				src, age.Round(time.Millisecond), bound)
		default:
			age := v.now.Sub(*st.LastSuccess)
			if age <= bound {
				continue
			}
			msg = fmt.Sprintf("source %q last succeeded %s ago, above its bound of %s",
				src, age.Round(time.Millisecond), bound)
		}
		if st.Error != "" {
			msg += ": " + truncate(st.Error)
		}
		vd.findings = append(vd.findings, finding{subject: src, message: msg})
	}
	return vd
}
