package exporter

import "github.com/prometheus/client_golang/prometheus"

// namespace prefixes every metric observerd exports.
const namespace = "observerd"

// cached is appended to the help of every value read from the snapshot:
// the values are those of the last poll, not of the scrape.
const cached = " (cached: from the last poll, see observerd_source_last_success_timestamp_seconds)."

// descs are the descriptors of every metric of the Collector, built once.
type descs struct {
	sequence, age                                                                  *prometheus.Desc
	sourceUp, sourceLastSuccess, sourceDuration, sourceFailures, sourceConsecutive *prometheus.Desc
	nodeUp, nodeRegistered, nodeHealthLatency, nodeP99, nodeAllowed, nodeBlocked   *prometheus.Desc
	redisUp, redisPing, redisMemory, redisClients, redisDBKeys                     *prometheus.Desc
	limitDefault, limitWindow, limitOverrides                                      *prometheus.Desc
	counterKeys, counterRequests, counterBlocked, counterOverLimit, counterNoTTL   *prometheus.Desc
	counterLongTTL, counterOrphanSeq, counterWrongType, counterNearLimit           *prometheus.Desc
	keyRequests, keyLimit                                                          *prometheus.Desc
	walkDuration, walkPace, walkShare, walkBudget                                  *prometheus.Desc
	trafficAllowed, trafficBlocked                                                 *prometheus.Desc
	violation, violations, unknown                                                 *prometheus.Desc

	all  []*prometheus.Desc // every one, in the order Describe sends them
	info []Description      // of each of all
}

// newDescs is the one place every metric is defined. The calls of mk in
// the literal run in its order, which is then Describe's.
func newDescs() descs {
	var all []*prometheus.Desc
	var info []Description
	mk := func(name, help string, labels ...string) *prometheus.Desc {
		desc := prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
		all = append(all, desc)
		info = append(info, Description{Name: namespace + "_" + name, Help: help, Labels: labels})
		return desc
	}
	d := descs{
		sequence: mk("snapshot_sequence", "Sequence number of the snapshot these metrics come from; /snapshot shows the same number."),
		age:      mk("snapshot_age_seconds", "Seconds since the snapshot these metrics come from was built."),

		sourceUp:          mk("source_up", "1 when the source's last poll succeeded and its data is fresh, else 0.", "source"),
		sourceLastSuccess: mk("source_last_success_timestamp_seconds", "Unix time of the source's last successful poll.", "source"),
		sourceDuration:    mk("source_poll_duration_seconds", "Duration of the source's last poll.", "source"),
		sourceFailures:    mk("source_failures_total", "Failed polls of the source since observerd started.", "source"),
		sourceConsecutive: mk("source_consecutive_failures", "Failed polls of the source since its last success.", "source"),

		nodeUp:            mk("node_up", "1 when the rate limiter node answers /health as healthy, else 0"+cached, "node", "address"),
		nodeRegistered:    mk("node_registered", "1 when the node's entry is in the Redis node registry, else 0"+cached, "node", "address"),
		nodeHealthLatency: mk("node_health_latency_seconds", "Latency of the node's /health answer"+cached, "node"),
		nodeP99:           mk("node_check_latency_p99_seconds", "99th percentile of the node's check latency, from Prometheus"+cached, "node"),
		nodeAllowed:       mk("node_allowed_per_second", "Checks the node allowed per second, from Prometheus"+cached, "node"),
		nodeBlocked:       mk("node_blocked_per_second", "Checks the node blocked per second, from Prometheus"+cached, "node"),

		redisUp:      mk("redis_up", "1 when Redis answered the last poll, else 0."),
		redisPing:    mk("redis_ping_latency_seconds", "Latency of PING to Redis"+cached),
		redisMemory:  mk("redis_used_memory_bytes", "Memory Redis uses (INFO used_memory)"+cached),
		redisClients: mk("redis_connected_clients", "Clients connected to Redis"+cached),
		redisDBKeys:  mk("redis_db_keys", "Keys in all Redis databases"+cached),

		limitDefault:   mk("limit_default_requests", "The cluster's default limit, in requests per window"+cached),
		limitWindow:    mk("limit_default_window_seconds", "The cluster's default window"+cached),
		limitOverrides: mk("limit_overrides", "Per-key limit overrides stored in Redis"+cached),

		counterKeys:      mk("counter_keys", "Counter keys in Redis"+cached),
		counterRequests:  mk("counter_requests_in_window", "Requests inside their key's window, summed over all counter keys"+cached),
		counterBlocked:   mk("counter_blocked_keys", "Counter keys at or over their own limit"+cached),
		counterOverLimit: mk("counter_over_limit_keys", "Counter keys above their own limit"+cached),
		counterNoTTL:     mk("counter_keys_without_ttl", "Counter keys without a TTL, which never expire"+cached),
		counterLongTTL:   mk("counter_keys_ttl_beyond_window", "Counter keys whose TTL outlives their own window by more than a second"+cached),
		counterOrphanSeq: mk("counter_orphan_sequence_keys", "Sequence keys whose counter is gone"+cached),
		counterWrongType: mk("counter_wrong_type_keys", "Keys under the counter prefix that are not sorted sets"+cached),
		counterNearLimit: mk("counter_near_limit_keys", "Counter keys at or above OBSERVERD_NEAR_LIMIT_RATIO of their own limit, those at or over it included"+cached),
		keyRequests:      mk("counter_requests", "Requests inside the window of one of the hottest keys"+cached, "key"),
		keyLimit:         mk("counter_limit", "Own limit of one of the hottest keys"+cached, "key"),

		walkDuration: mk("redis_walk_duration_seconds", "Duration of the last walk of the keyspace, by this observer or the one whose walk it reads"+cached),
		walkPace:     mk("redis_walk_keys_per_second", "Keys the last walk of the keyspace read per second, its pace"+cached),
		walkShare:    mk("redis_walk_redis_share", "Share of Redis's time the last walk of the keyspace took while it ran, by INFO commandstats or else by its round trips (counters.walk.share_measured_by)"+cached),
		walkBudget:   mk("redis_walk_budget_ratio", "Share of Redis's time the last walk of the keyspace was allowed (OBSERVERD_REDIS_WALK_BUDGET of its walker; 1: unpaced); absent when OBSERVERD_REDIS_WALK_MAX_KEYS_PER_SECOND paced it"+cached),

		trafficAllowed: mk("traffic_allowed_per_second", "Checks allowed per second across the cluster, from Prometheus"+cached),
		trafficBlocked: mk("traffic_blocked_per_second", "Checks blocked per second across the cluster, from Prometheus"+cached),

		violation:  mk("invariant_violation", "1 per active violation; subject=\"other\" counts the violations beyond the per-invariant limit.", "invariant", "subject", "severity"),
		violations: mk("invariant_violations", "Active violations of the invariant.", "invariant"),
		unknown:    mk("invariant_unknown", "1 when the invariant cannot be judged now because a source it needs is not fresh.", "invariant"),
	}
	d.all, d.info = all, info
	return d
}

// perKey reports whether desc is one of the families labelled by key name,
// which Options.OmitKeySeries leaves out.
func (d *descs) perKey(desc *prometheus.Desc) bool {
	return desc == d.keyRequests || desc == d.keyLimit
}

// Description names one metric the Collector exports and its variable
// label names, in the order the Collector sets them.
type Description struct {
	Name   string
	Help   string
	Labels []string
}

// Descriptions lists every metric the Collector exports, in the order
// Describe sends them, built from the same definitions as the Collector's
// descriptors. The Collector exports only gauges and counters, so each name
// is also the name of its series.
func Descriptions() []Description { return newDescs().info }
