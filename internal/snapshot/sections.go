package snapshot

import "time"

// Section is what one poll of one source produced: a *RedisSection,
// *NodesSection or *PrometheusSection. The Store keeps the last good one per
// source and merges them.
type Section interface{ section() }

func (*RedisSection) section()      {}
func (*NodesSection) section()      {}
func (*PrometheusSection) section() {}

// SourceState is what a poller runner knows of its source after a poll:
// timing, failures, the last error and the last good section. The runner
// hands a fresh copy to the Store after every poll.
type SourceState struct {
	Source              string
	LastAttempt         time.Time // zero before the first poll ends
	LastSuccess         time.Time // zero before the first success
	Duration            time.Duration
	ConsecutiveFailures int
	FailuresTotal       uint64
	Err                 error   // the last poll's error; nil when it succeeded
	Section             Section // the last good section; nil before the first success
}

// RedisSection is one poll of Redis: server info, the node registry, the
// overrides and the counters computed over the whole keyspace. Its JSON is
// the walk one observer shares with the others (docs/design.md, "One walk
// per cluster"): the server info and the keys of interest, each observer's
// own, are left out.
type RedisSection struct {
	Info      RedisInfo       `json:"-"`
	Registry  []RegistryEntry `json:"registry"`
	Overrides []Override      `json:"overrides"`
	// Counters holds the aggregates and the top keys (APICount left nil).
	Counters Counters `json:"counters"`
	// Blocks holds keys at or over their own limit, capped; BlocksTotal is
	// the true number.
	Blocks      []Block `json:"blocks"`
	BlocksTotal int     `json:"blocks_total"`
	// OverLimit holds keys whose in-window count is above their own limit
	// (limit > 0), capped; Counters.OverLimitKeys is the true number.
	OverLimit []Block `json:"over_limit"`
	// ZeroLimitActive holds keys whose limit is 0 yet have requests in their
	// window, capped.
	ZeroLimitActive []Block `json:"zero_limit_active"`
	// WithoutTTL holds counter keys that have no TTL, capped;
	// Counters.KeysWithoutTTL is the true number.
	WithoutTTL []string `json:"without_ttl"`
	// KeyCounts holds the in-window count of each key of interest (see
	// Hints), for comparing nodes with Redis. Keys absent from Redis have
	// count 0.
	KeyCounts map[string]int64 `json:"-"`
	// KeyCountsRead is when KeyCounts were read, by the local clock.
	KeyCountsRead Interval `json:"-"`
	// Clock is Redis's TIME as this observer's poll read it.
	Clock ClockReading `json:"-"`
	// WalkLatency is the median round trip of the walk's batches of
	// commands, zero when it sent none.
	WalkLatency time.Duration `json:"walk_latency_ns"`
	// TTLBeyondWindow holds counters whose TTL exceeds what the contract
	// gives their own window, capped; Counters.KeysTTLBeyondWindow is the
	// true number.
	TTLBeyondWindow []KeyTTL `json:"ttl_beyond_window"`
	// Sampled are the keys read once more after the walk (the top keys
	// and the keys at their limit, bounded): their sequence values and
	// their entries scored in the future. SampledAt is Redis's clock then.
	Sampled   []KeySample `json:"sampled"`
	SampledAt time.Time   `json:"sampled_at"`
	// FutureAfter is how far ahead of Redis's clock an entry must be
	// scored to count in KeySample.Future.
	FutureAfter time.Duration `json:"future_after_ns"`
	// DefaultLimit and DefaultWindow are the defaults this poll judged
	// keys without an override by.
	DefaultLimit  int64         `json:"default_limit"`
	DefaultWindow time.Duration `json:"default_window_ns"`
}

// KeyTTL is a counter with its TTL and the window it is judged by.
type KeyTTL struct {
	Key    string        `json:"key"`
	TTL    time.Duration `json:"ttl_ns"`
	Window time.Duration `json:"window_ns"`
}

// ContractTTL is the TTL the contract gives a counter of window w when a
// request is allowed: ceil(w/1s)+1 s.
func ContractTTL(w time.Duration) time.Duration {
	return (w + time.Second - 1).Truncate(time.Second) + time.Second
}

// TTLCeiling is the longest TTL a counter of window w may have and still
// fit it: ContractTTL and one second more, since the TTL is set in whole
// seconds. A counter whose TTL is longer outlives its window
// (ttl_beyond_window).
func TTLCeiling(w time.Duration) time.Duration { return ContractTTL(w) + time.Second }

// KeySample is one key read after the walk.
type KeySample struct {
	Key string `json:"key"`
	// Seq is the value of its sequence key, -1 when it has none.
	Seq int64 `json:"seq"`
	// Count is its in-window count and Limit its own limit, as the walk
	// found them.
	Count int64 `json:"count"`
	Limit int64 `json:"limit"`
	// Future counts its entries scored more than RedisSection.FutureAfter
	// after Redis's clock; Ahead is how far ahead its newest entry is
	// scored (zero or less: not in the future).
	Future int64         `json:"future"`
	Ahead  time.Duration `json:"ahead_ns"`
}

// Interval is when a reading was taken, by the local clock: the request
// went out at Start and its answer was in at End.
type Interval struct {
	Start, End time.Time
}

// ClockReading is a peer's clock as one answer showed it: the peer's clock
// read Clock (to within Resolution, below it) at some moment of Read.
type ClockReading struct {
	Clock      time.Time
	Resolution time.Duration
	Read       Interval
}

// Valid reports whether the reading holds a clock.
func (c ClockReading) Valid() bool { return !c.Clock.IsZero() && !c.Read.Start.IsZero() }

// Offset bounds how far the peer's clock is ahead of the local one (behind
// when negative): between lo and hi.
func (c ClockReading) Offset() (lo, hi time.Duration) {
	return c.Clock.Sub(c.Read.End), c.Clock.Add(c.Resolution).Sub(c.Read.Start)
}

// RegistryEntry is one ratelimiter:nodes:{id} hash.
type RegistryEntry struct {
	ID           string
	Address      string
	RegisteredAt *time.Time    // nil when absent or unparsable
	TTL          time.Duration // remaining; negative when the hash has none
}

// NodesSection is one poll of every rate limiter node's HTTP API.
type NodesSection struct {
	Nodes []NodeReport
}

// NodeReport is what one node's API answered. A nil slice or pointer means
// the endpoint failed (see Errors) and says nothing; an empty one means the
// endpoint answered with nothing in it.
type NodeReport struct {
	URL           string // base URL polled
	Address       string // host:port of URL
	ID            string // node_id from /health; empty when it did not answer
	Reachable     bool   // /health answered healthy
	HealthLatency time.Duration
	Peers         []PeerNode        // /api/nodes
	Counters      []APICounter      // /api/counters (a sample of at most 100 keys)
	Limits        *APILimits        // /api/limits
	Blocked       []APICounter      // /api/blocks (judged by the default limit only)
	CountersRead  Interval          // when /api/counters was asked and answered
	Clock         ClockReading      // the Date header of /health; not Valid when absent
	Errors        map[string]string // endpoint path -> error text
	// ErrorStatus is the HTTP status of each failed endpoint that answered
	// one; an endpoint that did not answer (a refused connection, a
	// deadline) has none.
	ErrorStatus map[string]int
}

// Name is the node's name as Node.Name gives it: its id from /health, or
// its address when it did not answer.
func (r NodeReport) Name() string { return nodeName(r.ID, r.Address) }

// PeerNode is one entry of a node's /api/nodes answer.
type PeerNode struct {
	ID           string
	Address      string
	State        string
	RegisteredAt *time.Time
}

// APICounter is one key as a node's API reports it (prefix removed).
type APICounter struct {
	Key       string
	Count     int64
	Limit     int64
	Remaining int64
}

// APILimits is a node's /api/limits answer.
type APILimits struct {
	DefaultLimit  int64
	DefaultWindow time.Duration
}

// PrometheusSection is one round of queries against Prometheus.
type PrometheusSection struct {
	// Instances is keyed by the instance label (the node's host:port).
	Instances map[string]InstanceStats
	// Total rates across all nodes; null when Prometheus has no series.
	AllowedPerSecond Float
	BlockedPerSecond Float
	// The same over the recent window (RecentWindow), so that a burst of a
	// minute shows.
	AllowedRecent Float
	BlockedRecent Float
	// QueryErrors holds queries that failed while others succeeded, keyed
	// by query name.
	QueryErrors map[string]string
}

// InstanceStats is what Prometheus says of one node.
type InstanceStats struct {
	CheckLatencyP99  Duration
	AllowedPerSecond Float
	BlockedPerSecond Float
	Up               *bool // the node job's up series; nil when absent
	// AllowedTotal is the node's allowed checks counter, as scraped at
	// AllowedScraped (zero when unknown).
	AllowedTotal   Float
	AllowedScraped time.Time
}
