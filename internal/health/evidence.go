package health

import (
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
