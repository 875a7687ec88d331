package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func nodeDown() Invariant {
	return Invariant{
		Name:      "node_down",
		Severity:  SeverityCritical,
		Sources:   []string{source.Ratelimiter, source.Redis},
		Subject:   "node id (address if unknown)",
		Help:      "a known node (configured, registered or seen in the last `OBSERVERD_NODE_FORGET_AFTER`) is unreachable, or its registry entry expired",
		GraceHelp: "how long a node must be down before it is reported",
		Alert: Alert{For: time.Minute, Description: `observerd {{ $labels.instance }} reports
{{ if eq $labels.subject "other" }}{{ $value }} more nodes{{ else }}node {{ $labels.subject }}{{ end }}
unreachable or missing from the Redis node registry.`},
		Check: checkNodeDown,
	}
}

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
func checkNodeDown(v *View, _ Setting) Verdict {
	apiOn := v.enabled[source.Ratelimiter]
	registryOn := v.enabled[source.Redis]
	if apiOn {
		if r := v.staleReason(source.Ratelimiter); r != "" {
			return Verdict{Unknown: r}
		}
	}
	registryReason := ""
	if registryOn {
		registryReason = v.staleReason(source.Redis)
	}
	registryKnown := registryOn && registryReason == ""
	if !apiOn && !registryKnown {
		return Verdict{Unknown: registryReason}
	}
	polled := v.polledNodes()
	var vd Verdict
	for _, n := range v.snap.Nodes {
		subject := n.Name()
		unreachable := apiOn && !n.Reachable && (n.URL != "" || polled[n.ID] || polled[n.Address])
		expired := registryKnown && !n.Registered && v.mem.registered[subject]
		if !unreachable && !expired {
			if registryOn && !registryKnown {
				vd.Undecided = append(vd.Undecided, subject)
			}
			continue
		}
		vd.Findings = append(vd.Findings, Finding{Subject: subject, Message: nodeDownMessage(n, unreachable, expired)})
	}
	return vd
}

// polledNodes is the set of ids and addresses the nodes section reports on.
func (v *View) polledNodes() map[string]bool {
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
