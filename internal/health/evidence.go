package health

import (
	"cmp"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// SourceObserverd is the evidence source of a figure observerd derived
// from the others (a share, an offset).
const SourceObserverd = "observerd"

// ev is one figure of evidence.
func ev(src string, at time.Time, what string, value float64) snapshot.Evidence {
	return snapshot.Evidence{Source: src, At: at.UTC(), What: what, Value: snapshot.Float(value)}
}

// millis is d in milliseconds, for evidence.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// readAt is when src's data was read: its last success, or now before one.
func (v *View) readAt(src string) time.Time {
	if st, ok := v.snap.Sources[src]; ok && st.LastSuccess != nil {
		return *st.LastSuccess
	}
	return v.now
}

// redisAt is when the Redis section judged was read.
func (v *View) redisAt() time.Time { return v.readAt(source.Redis) }

// promAt is when the Prometheus figures judged were read.
func (v *View) promAt() time.Time { return v.readAt(source.Prometheus) }

// prom is the last good Prometheus section, nil before the first.
func (v *View) prom() *snapshot.PrometheusSection { return v.promSec }

// redisAndTraffic is the Prometheus section for the checks that weigh keys
// against the cluster's traffic, which need both sources fresh; without
// them, ok is false and vd is the verdict to return.
func (v *View) redisAndTraffic() (p *snapshot.PrometheusSection, vd Verdict, ok bool) {
	if !v.enabled[source.Redis] || !v.enabled[source.Prometheus] {
		return nil, Verdict{Skip: true}, false
	}
	if r := v.redisReady(); r != "" {
		return nil, Verdict{Unknown: r}, false
	}
	if r := v.staleReason(source.Prometheus); r != "" || v.prom() == nil {
		return nil, Verdict{Unknown: cmp.Or(r, "prometheus source has no data yet")}, false
	}
	return v.prom(), Verdict{}, true
}
