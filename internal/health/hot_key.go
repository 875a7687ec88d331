package health

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// Bounds of the judgements made from sequence readings.
const (
	// minSeqSpan is the shortest span a key's check rate is taken over.
	minSeqSpan = 2 * time.Second
	// minClusterRate is the cluster's check rate below which no share of
	// it is judged: one client of a quiet cluster is all of its traffic,
	// which is no fault.
	minClusterRate = 1.0
)

func hotKey() Invariant {
	return Invariant{
		Name:     "hot_key",
		Severity: SeverityInfo,
		Sources:  []string{source.Redis, source.Prometheus},
		Subject:  SubjectKey,
		Help:     "one key takes at least `OBSERVERD_HOT_KEY_THRESHOLD` of the cluster's checks over the last minute (its `:seq` increase against the cluster's check rate)",
		Grace:    time.Minute,
		Threshold: &Threshold{
			Default:  0.5,
			Positive: true,
			Max:      1.0,
			Help:     "share of the cluster's checks (0 to 1) from which one key is hot",
		},
		Alert: Alert{For: 10 * time.Minute, Description: `observerd {{ $labels.instance }} reports key {{ $labels.subject }}
taking more than the threshold's share of the cluster's checks.`},
		Check: checkHotKey,
	}
}

// checkHotKey: a sampled key's check rate over the last minute, from the
// increase of its sequence key, is at least the threshold's share of the
// cluster's check rate (allowed plus blocked, from Prometheus). The nodes
// increment a key's sequence for every request they admit, and the
// reference node for every check; which one this cluster does is told by
// the sampled sequences rising faster than the cluster admits (see
// seqCountsChecks), and the evidence says how exact the share is.
func checkHotKey(v *View, s Setting) Verdict {
	p, unjudged, ok := v.redisAndTraffic()
	if !ok {
		return unjudged
	}
	if !p.AllowedPerSecond.Valid() || !p.BlockedPerSecond.Valid() {
		return Verdict{}
	}
	allowed, blocked := float64(p.AllowedPerSecond), float64(p.BlockedPerSecond)
	total := allowed + blocked
	if total < minClusterRate {
		return Verdict{}
	}
	rates := v.mem.readings.seqRates(time.Minute)
	checks := seqCountsChecks(rates, allowed)
	// A rate over a window Prometheus scraped only in part (just after it
	// started) reads low: the cluster checks at least what the sampled
	// sequences show.
	total = max(total, sumRates(rates))
	var vd Verdict
	for _, key := range slices.Sorted(maps.Keys(rates)) {
		r := rates[key]
		share := r.rate / total
		if share < s.Share() {
			continue
		}
		how := "at least: this cluster's sequences rise no faster than it admits, so a key's :seq counts its admitted requests and not its blocked checks"
		if checks {
			how = "exact to the rates' windows: this cluster's sampled sequences rise faster than it admits, so a key's :seq counts every check"
		}
		vd.Findings = append(vd.Findings, Finding{
			Subject: key,
			Message: fmt.Sprintf("key %q takes %.0f%% of the cluster's checks (%.1f/s of %.1f/s over %s), at or above the threshold of %.0f%%; %s",
				key, 100*min(1, share), r.rate, total, r.last.at.Sub(r.first.at).Round(time.Second), 100*s.Share(), how),
			Evidence: []snapshot.Evidence{
				ev(source.Redis, r.first.at, "its :seq", float64(r.first.seq)),
				ev(source.Redis, r.last.at, "its :seq", float64(r.last.seq)),
				ev(source.Prometheus, v.promAt(), "cluster's allowed checks per second (1 m)", allowed),
				ev(source.Prometheus, v.promAt(), "cluster's blocked checks per second (1 m)", blocked),
				ev(SourceObserverd, v.now, "its share of the cluster's checks", min(1, share)),
			},
			Causes: []string{
				"one client sends most of the traffic under this key: a retry loop without backoff, a batch job, a crawler (the access logs of the service in front of the nodes)",
				"the key is not specific enough: a constant, empty or shared key in a client's requests (a tenant id instead of a user id)",
				"a load test aimed at the cluster",
			},
		})
	}
	return vd
}

// keyRate is one key's check rate from its sequence readings.
type keyRate struct {
	rate        float64
	first, last seqReading
	// atLimit: at its limit at one of the readings the rate is taken over.
	atLimit bool
}

// seqRates are the rates of the keys sampled in the newest sample, over
// the last span.
func (r *readings) seqRates(span time.Duration) map[string]keyRate {
	out := make(map[string]keyRate, len(r.seqs))
	for key, rs := range r.seqs {
		rate, first, last, ok := seqRate(rs, span, minSeqSpan)
		if !ok || !last.at.Equal(r.seqAt) {
			continue
		}
		kr := keyRate{rate: rate, first: first, last: last}
		for _, x := range rs {
			kr.atLimit = kr.atLimit || (!x.at.Before(first.at) && x.count >= x.limit)
		}
		out[key] = kr
	}
	return out
}

// seqCountsChecks reports whether the sequences count every check rather
// than every admitted request: together the sampled keys' sequences rise
// faster than the whole cluster admits.
func seqCountsChecks(rates map[string]keyRate, allowedPerSecond float64) bool {
	return sumRates(rates) > 1.1*allowedPerSecond+1
}

// sumRates is the sum of the keys' rates.
func sumRates(rates map[string]keyRate) float64 {
	var sum float64
	for _, r := range rates {
		sum += r.rate
	}
	return sum
}
