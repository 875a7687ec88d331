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
		vd.Findings = append(vd.Findings, Finding{
			Subject: subject, Message: nodeDownMessage(n, unreachable, expired),
			Evidence: v.nodeDownEvidence(n, unreachable, expired),
			Causes:   nodeDownCauses(unreachable, expired),
		})
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

// nodeDownEvidence is what showed the node down.
func (v *View) nodeDownEvidence(n snapshot.Node, unreachable, expired bool) []snapshot.Evidence {
	var out []snapshot.Evidence
	if unreachable {
		out = append(out, ev(n.Name(), v.readAt(source.Ratelimiter), "/health answered healthy (1 yes, 0 no)", 0))
		if n.LastSeen != nil {
			out = append(out, ev(n.Name(), *n.LastSeen, "last seen reachable (Unix s)", float64(n.LastSeen.Unix())))
		}
	}
	if expired {
		out = append(out, ev(source.Redis, v.redisAt(), "registry entry present (1 yes, 0 no)", 0))
	}
	return out
}

// nodeDownCauses are the likely causes of a node down, in the order an
// on-call checks them.
func nodeDownCauses(unreachable, expired bool) []string {
	switch {
	case unreachable && expired:
		return []string{
			"the node's process stopped or crashed: its service manager or pod status, its last log lines",
			"its host is down or cut from the network: ping, the host's status",
		}
	case unreachable:
		return []string{
			"the node's process hangs or its HTTP server is saturated while its heartbeat still runs: its CPU, its open connections, its logs",
			"the network between observerd and the node (a firewall, a wrong OBSERVERD_RATELIMITER_URLS entry): curl its /health from observerd's host",
			"the node restarted on another address: compare the registry's address with the one observerd polls",
		}
	default:
		return []string{
			"the node's heartbeat cannot write to Redis while it keeps serving (Redis maxclients, ACLs, a network split between it and Redis): its logs",
			"the node's heartbeat interval is longer than its registry TTL (RATELIMITER_NODE_HEARTBEAT_SECONDS, RATELIMITER_NODE_TTL_SECONDS)",
			"the node was stopped on purpose: it is gone from the registry and drops out after OBSERVERD_NODE_FORGET_AFTER",
		}
	}
}
