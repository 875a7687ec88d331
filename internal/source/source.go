// Package source names the three sources observerd polls. These names are
// public: they are the values of OBSERVERD_SOURCES, the keys of the
// snapshot's "sources" object and the source label of the metrics.
package source

// The sources, in the order observerd lists them.
const (
	// Ratelimiter is every rate limiter node's HTTP management API.
	Ratelimiter = "ratelimiter"
	// Redis is the cluster's Redis, read directly.
	Redis = "redis"
	// Prometheus is the Prometheus server that scrapes the nodes.
	Prometheus = "prometheus"
)

// All returns every source name in order; the slice is new on every call.
func All() []string { return []string{Ratelimiter, Redis, Prometheus} }
