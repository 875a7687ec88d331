package snapshot

import (
	"slices"
	"sort"
	"time"
)

// mergeLimits sets the cluster defaults from the first node (by address)
// that answered /api/limits, else keeps the configured ones, and the
// overrides from Redis.
func mergeLimits(snap *Snapshot, nodes *NodesSection, redis *RedisSection) {
	if nodes != nil {
		for _, n := range nodes.Nodes {
			if n.Limits != nil {
				snap.Limits.DefaultLimit = n.Limits.DefaultLimit
				snap.Limits.DefaultWindowMs = n.Limits.DefaultWindow.Milliseconds()
				snap.Limits.DefaultsFrom = "api"
				break
			}
		}
	}
	if redis != nil {
		snap.Limits.Overrides = slices.Clone(redis.Overrides)
		if snap.Limits.Overrides == nil {
			snap.Limits.Overrides = []Override{}
		}
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
		snap.Redis.PingMs = Null()
	}
	snap.Counters = redis.Counters
	snap.Counters.Top = make([]TopKey, len(redis.Counters.Top))
	copy(snap.Counters.Top, redis.Counters.Top)
	snap.Blocks = slices.Clone(redis.Blocks)
	if snap.Blocks == nil {
		snap.Blocks = []Block{}
	}
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
			i, ok := want[c.Key]
			if !ok || top[i].APICount != nil {
				continue
			}
			count := c.Count
			top[i].APICount = &count
		}
	}
}

// hintsFrom derives what the pollers need from the merged snapshot.
func hintsFrom(snap *Snapshot, redis *RedisSection, nodes *NodesSection) Hints {
	h := Hints{
		DefaultLimit:  snap.Limits.DefaultLimit,
		DefaultWindow: time.Duration(snap.Limits.DefaultWindowMs) * time.Millisecond,
	}
	if redis != nil {
		for _, e := range redis.Registry {
			if e.Address != "" {
				h.RegistryAddrs = append(h.RegistryAddrs, e.Address)
			}
		}
	}
	if nodes != nil {
		seen := make(map[string]struct{})
		for _, n := range nodes.Nodes {
			for _, c := range n.Counters {
				if _, dup := seen[c.Key]; dup || len(seen) >= maxKeysOfInterest {
					continue
				}
				seen[c.Key] = struct{}{}
				h.KeysOfInterest = append(h.KeysOfInterest, c.Key)
			}
		}
		sort.Strings(h.KeysOfInterest)
	}
	return h
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
