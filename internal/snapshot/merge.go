package snapshot

// mergeLimits sets the cluster defaults from the first node (by address)
// that answered /api/limits, else keeps the configured ones, and the
// overrides from Redis.
func mergeLimits(snap *Snapshot, nodes *NodesSection, redis *RedisSection) {
	if nodes != nil {
		for _, n := range nodes.Nodes {
			if n.Limits != nil {
				snap.Limits.DefaultLimit = n.Limits.DefaultLimit
				snap.Limits.DefaultWindow = Milliseconds(n.Limits.DefaultWindow)
				snap.Limits.DefaultsFrom = "api"
				break
			}
		}
	}
	if redis != nil {
		snap.Limits.Overrides = append([]Override{}, redis.Overrides...)
	}
}

// mergeRedis copies the Redis section's figures. connected says whether the
// last poll of Redis succeeded: the section itself is the last good one.
func mergeRedis(snap *Snapshot, redis *RedisSection, connected bool) {
	if redis == nil {
		return
	}
	snap.Redis = redis.Info
	snap.Redis.Connected = connected && redis.Info.Connected
	if !snap.Redis.Connected {
		snap.Redis.Ping = Duration{}
	}
	snap.Counters = redis.Counters
	// Copies, never nil: the document has [] where a list is empty.
	snap.Counters.Top = append([]TopKey{}, redis.Counters.Top...)
	snap.Counters.NearLimit = append([]NearLimitKey{}, redis.Counters.NearLimit...)
	snap.Blocks = append([]Block{}, redis.Blocks...)
	snap.BlocksTotal = redis.BlocksTotal
}

// addAPICounts gives each top key the count the first node (by address)
// that sampled it reported. top is the snapshot's own copy.
func addAPICounts(top []TopKey, nodes *NodesSection) {
	if nodes == nil || len(top) == 0 {
		return
	}
	want := make(map[string]int, len(top))
	for i, t := range top {
		want[t.Key] = i
	}
	for _, n := range nodes.Nodes {
		for _, c := range n.Counters {
			if i, ok := want[c.Key]; ok && top[i].APICount == nil {
				top[i].APICount = new(c.Count)
			}
		}
	}
}

// endpointErrors flattens the per-node endpoint errors of a node API poll
// into "address endpoint" -> error.
func endpointErrors(ns *NodesSection) map[string]string {
	var out map[string]string
	for _, n := range ns.Nodes {
		for ep, msg := range n.Errors {
			if out == nil {
				out = make(map[string]string)
			}
			out[n.Address+" "+ep] = msg
		}
	}
	return out
}
