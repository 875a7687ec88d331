package health

import (
	"fmt"
	"time"

	"github.com/observerd/observerd/internal/clients/ratelimiter"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func failOpen() Invariant {
	return Invariant{
		Name:     "fail_open",
		Severity: SeverityCritical,
		Sources:  []string{source.Ratelimiter, source.Prometheus},
		Subject:  "node",
		Help:     "a node keeps admitting checks (its allowed counter rises from one scrape to the next) while it cannot reach Redis (its endpoints that read Redis all answer 5xx): requests pass that no limit counted",
		Alert: Alert{For: time.Minute, Description: `observerd {{ $labels.instance }} reports that
{{ if eq $labels.subject "other" }}{{ $value }} more nodes admit{{ else }}node {{ $labels.subject }} admits{{ end }}
checks while it cannot reach Redis: requests pass unlimited.`},
		Check: checkFailOpen,
	}
}

// redisEndpoints are the read endpoints that answer from Redis: a node
// whose every one of them fails cannot reach Redis (one failing is a
// quirk of the service, not a cut).
var redisEndpoints = []string{ratelimiter.PathNodes, ratelimiter.PathCounters, ratelimiter.PathBlocks}

// checkFailOpen: a node that cannot reach Redis still admits checks. A
// node cannot reach Redis when it answers /health while every endpoint that
// reads Redis fails with an answer of the node's own, a 5xx. From the first scrape of its allowed counter taken
// after that moment, any rise at a later scrape is a check it admitted
// without Redis. The scrape times keep a rise scraped late from counting:
// one scraped after the nodes were last read is undecided until they are
// read again, since the node may have reached Redis in between.
func checkFailOpen(v *View, _ Setting) Verdict {
	if !v.enabled[source.Ratelimiter] || !v.enabled[source.Prometheus] {
		return Verdict{Skip: true}
	}
	if r := v.staleReason(source.Ratelimiter); r != "" {
		return Verdict{Unknown: r}
	}
	if v.nodes == nil {
		return Verdict{Unknown: "ratelimiter source has no data yet"}
	}
	p := v.prom()
	promReason := v.staleReason(source.Prometheus)
	cut := v.mem.readings.cut
	var vd Verdict
	for _, n := range v.nodes.Nodes {
		subject := n.Name()
		why := cutOffReason(n)
		if why == "" {
			delete(cut, subject)
			continue
		}
		c, ok := cut[subject]
		if !ok {
			c = &cutOff{since: v.now, why: why}
			cut[subject] = c
		}
		if promReason != "" || p == nil {
			vd.Undecided = append(vd.Undecided, subject)
			continue
		}
		inst, ok := p.Instances[n.Address]
		if !ok || !inst.AllowedTotal.Valid() || inst.AllowedScraped.IsZero() || inst.AllowedScraped.Before(c.since) {
			vd.Undecided = append(vd.Undecided, subject)
			continue
		}
		now := float64(inst.AllowedTotal)
		if c.scraped.IsZero() || now < c.baseline {
			c.baseline, c.scraped = now, inst.AllowedScraped // first after the cut, or a restart
			vd.Undecided = append(vd.Undecided, subject)
			continue
		}
		if !inst.AllowedScraped.After(c.scraped) || now <= c.baseline {
			continue
		}
		if inst.AllowedScraped.After(v.readAt(source.Ratelimiter)) {
			vd.Undecided = append(vd.Undecided, subject)
			continue
		}
		vd.Findings = append(vd.Findings, failedOpen(subject, c, now, inst.AllowedScraped))
	}
	return vd
}

// failedOpen is the finding of a node cut off since c that admitted checks
// up to its counter's value now, scraped at scraped.
func failedOpen(subject string, c *cutOff, now float64, scraped time.Time) Finding {
	return Finding{
		Subject: subject,
		Message: fmt.Sprintf("node %q admitted %.0f checks between scrapes at %s and %s while it cannot reach Redis (since %s: %s)",
			subject, now-c.baseline, c.scraped.Format(time.TimeOnly), scraped.Format(time.TimeOnly),
			c.since.UTC().Format(time.TimeOnly), truncate(c.why)),
		Evidence: []snapshot.Evidence{
			ev(subject, c.since, "endpoints that read Redis failing", float64(len(redisEndpoints))),
			ev(source.Prometheus, c.scraped, "its allowed checks counter", c.baseline),
			ev(source.Prometheus, scraped, "its allowed checks counter", now),
		},
		Causes: []string{
			"the node is built or configured to admit checks when Redis fails (fail open): its error handling around the check script, its settings",
			"the node cannot reach Redis (RATELIMITER_REDIS_URL, the network, Redis's maxclients, ACLs) while it keeps serving: redis-cli -u <its URL> PING from its host",
			"Redis itself is down or frozen: redis_disconnected, redis-cli PING",
		},
	}
}

// cutOffReason is why node report n shows a node that cannot reach Redis,
// empty when it does not: it answers /health while every endpoint that
// reads Redis fails.
func cutOffReason(n snapshot.NodeReport) string {
	if !n.Reachable {
		return ""
	}
	for _, ep := range redisEndpoints {
		// The node's own answer, not a deadline of observerd's: a slow
		// Redis that still answers is no cut.
		if n.Errors[ep] == "" || n.ErrorStatus[ep] < 500 {
			return ""
		}
	}
	return n.Errors[ratelimiter.PathCounters]
}
