package snapshot

import "time"

// SchemaVersion is the version of the JSON document served on /snapshot.
// Fields may be added within a version; renaming one needs a new version.
const SchemaVersion = 1

// Source states.
const (
	StatusOK      = "ok"      // the last poll succeeded and its data is fresh
	StatusStale   = "stale"   // the last poll failed, or the data is too old; the last good data is kept
	StatusError   = "error"   // polls fail and there is no good data at all
	StatusPending = "pending" // no poll has finished yet
)

// Snapshot is one immutable, consistent view of the cluster. Once published
// by the Store it is never modified.
type Snapshot struct {
	SchemaVersion int                     `json:"schema_version"`
	Sequence      uint64                  `json:"sequence"`
	GeneratedAt   time.Time               `json:"generated_at"`
	Sources       map[string]SourceStatus `json:"sources"`
	Nodes         []Node                  `json:"nodes"`
	Limits        Limits                  `json:"limits"`
	Counters      Counters                `json:"counters"`
	Blocks        []Block                 `json:"blocks"`
	// BlocksTotal is the true number of keys at or over their own limit;
	// Blocks is capped and may hold fewer.
	BlocksTotal int         `json:"blocks_total"`
	Redis       RedisInfo   `json:"redis"`
	Traffic     Traffic     `json:"traffic"`
	Violations  []Violation `json:"violations"`
	// Unknown lists the invariants that cannot be judged now because a
	// source they need is not fresh; they are neither healthy nor violated.
	Unknown []UnknownInvariant `json:"unknown_invariants"`
}

// SourceStatus is what observerd knows of one source's polling.
type SourceStatus struct {
	Status              string     `json:"status"`
	LastAttempt         *time.Time `json:"last_attempt"`
	LastSuccess         *time.Time `json:"last_success"`
	Age                 Duration   `json:"age_ms"`      // since last success; null before the first
	Duration            Duration   `json:"duration_ms"` // of the last poll
	ConsecutiveFailures int        `json:"consecutive_failures"`
	FailuresTotal       uint64     `json:"failures_total"`
	Error               string     `json:"error"`
	// Errors holds partial failures of a poll that otherwise succeeded,
	// such as one node endpoint answering 500, keyed by "node endpoint".
	Errors map[string]string `json:"errors,omitempty"`
}

// Node is one rate limiter node, merged from the Redis registry, the
// configured URLs, the nodes' own API answers and Prometheus targets.
type Node struct {
	ID               string            `json:"id"`
	Address          string            `json:"address"`
	URL              string            `json:"url,omitempty"`
	Registered       bool              `json:"registered"`
	RegistryTTL      Duration          `json:"registry_ttl_ms"`
	RegisteredAt     *time.Time        `json:"registered_at"`
	Reachable        bool              `json:"reachable"`
	HealthLatency    Duration          `json:"health_latency_ms"`
	CheckLatencyP99  Duration          `json:"check_latency_p99_ms"`
	AllowedPerSecond Float             `json:"allowed_per_second"`
	BlockedPerSecond Float             `json:"blocked_per_second"`
	ScrapeUp         *bool             `json:"scrape_up"`
	LastSeen         *time.Time        `json:"last_seen"`
	EndpointErrors   map[string]string `json:"endpoint_errors,omitempty"`
}

// Name is how the node is named in violations and metrics: its id, or its
// address while no source has told its id.
func (n Node) Name() string { return nodeName(n.ID, n.Address) }

func nodeName(id, address string) string {
	if id != "" {
		return id
	}
	return address
}

// Limits are the cluster's default limit and window and every per-key override.
type Limits struct {
	DefaultLimit  int64        `json:"default_limit"`
	DefaultWindow Milliseconds `json:"default_window_ms"`
	// DefaultsFrom says where the defaults come from: "api" (a node's
	// /api/limits) or "config" (OBSERVERD_DEFAULT_LIMIT/WINDOW).
	DefaultsFrom string     `json:"defaults_from"`
	Overrides    []Override `json:"overrides"`
}

// Override is a per-key limit stored in Redis under ratelimit:limit:{key}.
type Override struct {
	Key    string       `json:"key"`
	Limit  int64        `json:"limit"`
	Window Milliseconds `json:"window_ms"`
}

// Counters summarise every counter key in Redis.
type Counters struct {
	Keys               int64 `json:"keys"`
	RequestsInWindow   int64 `json:"requests_in_window"`
	BlockedKeys        int64 `json:"blocked_keys"`
	OverLimitKeys      int64 `json:"over_limit_keys"`
	KeysWithoutTTL     int64 `json:"keys_without_ttl"`
	OrphanSequenceKeys int64 `json:"orphan_sequence_keys"`
	// KeysTTLBeyondWindow counts counters whose TTL outlives their window.
	KeysTTLBeyondWindow int64 `json:"keys_ttl_beyond_window"`
	WrongTypeKeys       int64 `json:"wrong_type_keys"`
	// NearLimitKeys counts the keys whose in-window count is at or above
	// NearLimitRatio of their own limit, those at or over it included;
	// NearLimit lists them, capped, nearest first (see NearLimitKey).
	NearLimitKeys  int64          `json:"near_limit_keys"`
	NearLimitRatio float64        `json:"near_limit_ratio"`
	NearLimit      []NearLimitKey `json:"near_limit"`
	// WalkedBy is the observer that walked the keyspace for these figures
	// (this one, or the holder of the walk lease among the sidecars of one
	// cluster); WalkedAt is when that walk began. The Redis source is
	// stale when WalkedAt is, however recent the last poll.
	WalkedBy string     `json:"walked_by"`
	WalkedAt *time.Time `json:"walked_at"`
	// Walk is how that walk went; nil when the walker did not say.
	Walk *Walk    `json:"walk"`
	Top  []TopKey `json:"top"`
}

// How a walk's share of Redis's time was measured (Walk.ShareMeasuredBy).
const (
	// ShareByCommandstats: the time Redis counted in the walk's commands
	// (INFO commandstats usec of SCAN, ZCOUNT and PTTL, other clients'
	// calls of them included), which leaves out reading requests and
	// writing replies.
	ShareByCommandstats = "commandstats"
	// ShareByRoundTrips: the walk's own round trips, which include the
	// network and are longer than the server's time; for a server that
	// does not let INFO commandstats be read.
	ShareByRoundTrips = "round_trips"
)

// Walk is how a walk of the keyspace went: how long it took, its pace,
// what set the pace, and its share of Redis's time against its budget.
type Walk struct {
	Duration      Duration `json:"duration_ms"`
	KeysPerSecond Float    `json:"keys_per_second"`
	// RedisShare is the time Redis spent on the walk over the walk's
	// duration, as ShareMeasuredBy says; at most 1.
	RedisShare      Float  `json:"redis_share"`
	ShareMeasuredBy string `json:"share_measured_by"`
	// Budget is the share the walk was allowed (OBSERVERD_REDIS_WALK_BUDGET;
	// 1: unpaced), null when OBSERVERD_REDIS_WALK_MAX_KEYS_PER_SECOND paced
	// it instead.
	Budget Float `json:"budget"`
	// PacedBy is "budget", "interval" (the budget would not have let it
	// finish in time, so it took more), "max_keys_per_second" or
	// "unpaced".
	PacedBy string `json:"paced_by"`
}

// TopKey is one of the hottest counter keys.
type TopKey struct {
	Key       string       `json:"key"`
	Count     int64        `json:"count"`
	Limit     int64        `json:"limit"`
	Remaining int64        `json:"remaining"`
	TTL       Milliseconds `json:"ttl_ms"` // negative, written -1: no TTL
	APICount  *int64       `json:"api_count"`
}

// Block is a key at or over its own limit.
type Block struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	Limit int64  `json:"limit"`
}

// NearLimitKey is a key at or above the near-limit share of its own limit:
// count >= ratio × limit, decided exactly in integers. A key whose limit is
// 0 refuses every request and is always near it. The list is ordered by
// count/limit, highest first (a limit of 0 above any other), then by
// count, highest first, then by key.
type NearLimitKey struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	Limit int64  `json:"limit"`
}

// RedisInfo is what Redis says of itself.
type RedisInfo struct {
	Connected        bool     `json:"connected"`
	Ping             Duration `json:"ping_ms"`
	Version          string   `json:"version"`
	Role             string   `json:"role"`
	UsedMemoryBytes  int64    `json:"used_memory_bytes"`
	ConnectedClients int64    `json:"connected_clients"`
	DBKeys           int64    `json:"db_keys"`
}

// Traffic is the cluster-wide request rate, from Prometheus.
type Traffic struct {
	AllowedPerSecond Float `json:"allowed_per_second"`
	BlockedPerSecond Float `json:"blocked_per_second"`
}

// Violation is an invariant that has held for at least its grace period.
type Violation struct {
	Invariant string    `json:"invariant"`
	Subject   string    `json:"subject"`
	Severity  string    `json:"severity"`
	Message   string    `json:"message"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Evidence are the figures that prove it, as last confirmed.
	Evidence []Evidence `json:"evidence"`
	// Causes are its likely causes, in the order an on-call checks them.
	Causes []string `json:"causes"`
}

// Evidence is one figure behind a violation: what a source said, and when.
type Evidence struct {
	// Source is where the figure comes from: "redis", "prometheus", a
	// node's id, or "observerd" for a figure it derived from the others.
	Source string `json:"source"`
	// At is when the source was read.
	At time.Time `json:"at"`
	// What names the figure and its unit.
	What  string `json:"what"`
	Value Float  `json:"value"`
}

// UnknownInvariant is an invariant that cannot be judged now.
type UnknownInvariant struct {
	Invariant string `json:"invariant"`
	Reason    string `json:"reason"`
}

// Key states a KeyEvent records.
const (
	KeyBlocked   = "blocked"    // at or over its own limit: checks are refused
	KeyOverLimit = "over_limit" // more requests in its window than its limit
	KeyNearLimit = "near_limit" // at or above the near-limit share of its limit
	KeyViolation = "violation"  // the subject of a violation
)

// KeyEvent is a stretch of time in which observerd's history saw one key
// in one state: from the first snapshot that showed it (At) to the last
// (Until).
type KeyEvent struct {
	At     time.Time `json:"at"`
	Until  time.Time `json:"until"`
	State  string    `json:"state"`
	Detail string    `json:"detail"`
}
