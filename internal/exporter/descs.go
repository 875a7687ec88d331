package exporter

import "github.com/prometheus/client_golang/prometheus"

// namespace prefixes every metric observerd exports.
const namespace = "observerd"

// cached is appended to the help of every value read from the snapshot:
// the values are those of the last poll, not of the scrape.
const cached = " (cached: from the last poll, see observerd_source_last_success_timestamp_seconds)."

// descs are the descriptors of every metric of the Collector, built once.
type descs struct {
	buildInfo, sequence, age                                                       *prometheus.Desc
	sourceUp, sourceLastSuccess, sourceDuration, sourceFailures, sourceConsecutive *prometheus.Desc
	nodeUp, nodeRegistered, nodeHealthLatency, nodeP99, nodeAllowed, nodeBlocked   *prometheus.Desc
	redisUp, redisPing, redisMemory, redisClients, redisDBKeys                     *prometheus.Desc
	limitDefault, limitWindow, limitOverrides                                      *prometheus.Desc
	counterKeys, counterRequests, counterBlocked, counterOverLimit, counterNoTTL   *prometheus.Desc
	counterOrphanSeq, counterWrongType, keyRequests, keyLimit                      *prometheus.Desc
	trafficAllowed, trafficBlocked                                                 *prometheus.Desc
	violation, violations, unknown                                                 *prometheus.Desc
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
}

func newDescs() descs {
	return descs{
		buildInfo: newDesc("build_info", "Always 1; the labels say which observerd build is running.", "version", "revision", "goversion"),
		sequence:  newDesc("snapshot_sequence", "Sequence number of the snapshot these metrics come from; /snapshot shows the same number."),
		age:       newDesc("snapshot_age_seconds", "Seconds since the snapshot these metrics come from was built."),

		sourceUp:          newDesc("source_up", "1 when the source's last poll succeeded and its data is fresh, else 0.", "source"),
		sourceLastSuccess: newDesc("source_last_success_timestamp_seconds", "Unix time of the source's last successful poll.", "source"),
		sourceDuration:    newDesc("source_poll_duration_seconds", "Duration of the source's last poll.", "source"),
		sourceFailures:    newDesc("source_failures_total", "Failed polls of the source since observerd started.", "source"),
		sourceConsecutive: newDesc("source_consecutive_failures", "Failed polls of the source since its last success.", "source"),

		nodeUp:            newDesc("node_up", "1 when the rate limiter node answers /health as healthy, else 0"+cached, "node", "address"),
		nodeRegistered:    newDesc("node_registered", "1 when the node's entry is in the Redis node registry, else 0"+cached, "node", "address"),
		nodeHealthLatency: newDesc("node_health_latency_seconds", "Latency of the node's /health answer"+cached, "node"),
		nodeP99:           newDesc("node_check_latency_p99_seconds", "99th percentile of the node's check latency, from Prometheus"+cached, "node"),
		nodeAllowed:       newDesc("node_allowed_per_second", "Checks the node allowed per second, from Prometheus"+cached, "node"),
		nodeBlocked:       newDesc("node_blocked_per_second", "Checks the node blocked per second, from Prometheus"+cached, "node"),

		redisUp:      newDesc("redis_up", "1 when Redis answered the last poll, else 0."),
		redisPing:    newDesc("redis_ping_latency_seconds", "Latency of PING to Redis"+cached),
		redisMemory:  newDesc("redis_used_memory_bytes", "Memory Redis uses (INFO used_memory)"+cached),
		redisClients: newDesc("redis_connected_clients", "Clients connected to Redis"+cached),
		redisDBKeys:  newDesc("redis_db_keys", "Keys in all Redis databases"+cached),

		limitDefault:   newDesc("limit_default_requests", "The cluster's default limit, in requests per window"+cached),
		limitWindow:    newDesc("limit_default_window_seconds", "The cluster's default window"+cached),
		limitOverrides: newDesc("limit_overrides", "Per-key limit overrides stored in Redis"+cached),

		counterKeys:      newDesc("counter_keys", "Counter keys in Redis"+cached),
		counterRequests:  newDesc("counter_requests_in_window", "Requests inside their key's window, summed over all counter keys"+cached),
		counterBlocked:   newDesc("counter_blocked_keys", "Counter keys at or over their own limit"+cached),
		counterOverLimit: newDesc("counter_over_limit_keys", "Counter keys above their own limit"+cached),
		counterNoTTL:     newDesc("counter_keys_without_ttl", "Counter keys without a TTL, which never expire"+cached),
		counterOrphanSeq: newDesc("counter_orphan_sequence_keys", "Sequence keys whose counter is gone"+cached),
		counterWrongType: newDesc("counter_wrong_type_keys", "Keys under the counter prefix that are not sorted sets"+cached),
		keyRequests:      newDesc("counter_requests", "Requests inside the window of one of the hottest keys"+cached, "key"),
		keyLimit:         newDesc("counter_limit", "Own limit of one of the hottest keys"+cached, "key"),

		trafficAllowed: newDesc("traffic_allowed_per_second", "Checks allowed per second across the cluster, from Prometheus"+cached),
		trafficBlocked: newDesc("traffic_blocked_per_second", "Checks blocked per second across the cluster, from Prometheus"+cached),

		violation:  newDesc("invariant_violation", "1 per active violation; subject=\"other\" counts the violations beyond the per-invariant limit.", "invariant", "subject", "severity"),
		violations: newDesc("invariant_violations", "Active violations of the invariant.", "invariant"),
		unknown:    newDesc("invariant_unknown", "1 when the invariant cannot be judged now because a source it needs is not fresh.", "invariant"),
	}
}

// all lists every descriptor, for Describe.
func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.buildInfo, d.sequence, d.age,
		d.sourceUp, d.sourceLastSuccess, d.sourceDuration, d.sourceFailures, d.sourceConsecutive,
		d.nodeUp, d.nodeRegistered, d.nodeHealthLatency, d.nodeP99, d.nodeAllowed, d.nodeBlocked,
		d.redisUp, d.redisPing, d.redisMemory, d.redisClients, d.redisDBKeys,
		d.limitDefault, d.limitWindow, d.limitOverrides,
		d.counterKeys, d.counterRequests, d.counterBlocked, d.counterOverLimit, d.counterNoTTL,
		d.counterOrphanSeq, d.counterWrongType, d.keyRequests, d.keyLimit,
		d.trafficAllowed, d.trafficBlocked,
		d.violation, d.violations, d.unknown,
	}
}
