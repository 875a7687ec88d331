package snapshot

import (
	"sort"
	"time"
)

// Hints are what each poller needs from the other sources' last answers.
// The sources feed each other in a loop, each reading the hints of the
// snapshot published before its poll:
//
//   - the node API gives the cluster's default limit and window
//     (/api/limits), by which the Redis walk judges every key without an
//     override (the configured defaults until a node has answered);
//   - the Redis registry gives the nodes' addresses, which the node API
//     poller also polls (discovery);
//   - the nodes' samples (/api/counters) give the keys of interest, whose
//     in-window counts the Redis walk records for counter_drift.
//
// A hint is at most one poll old; the first polls run on the configured
// defaults and without discovered nodes or keys of interest.
type Hints struct {
	DefaultLimit   int64
	DefaultWindow  time.Duration
	RegistryAddrs  []string // addresses in the Redis node registry
	KeysOfInterest []string // keys the nodes' /api/counters reported, sorted, at most StoreConfig.MaxKeysOfInterest
}

// KeysOfInterestLimit is the usual StoreConfig.MaxKeysOfInterest: the keys
// whose Redis counts are compared with the nodes' samples (counter_drift),
// at most 100 per node (the nodes' /api/counters cap) for fifty nodes.
const KeysOfInterestLimit = 5000

// HintSource gives the hints of the last published snapshot; the Store is
// one.
type HintSource interface {
	Hints() Hints
}

// HintsFunc is a function that gives hints, as a HintSource.
type HintsFunc func() Hints

// Hints implements HintSource.
func (f HintsFunc) Hints() Hints { return f() }

// hintsFrom derives the hints from the merged snapshot and the sections it
// was merged from.
func hintsFrom(snap *Snapshot, redis *RedisSection, nodes *NodesSection, maxKeys int) Hints {
	h := Hints{
		DefaultLimit:  snap.Limits.DefaultLimit,
		DefaultWindow: time.Duration(snap.Limits.DefaultWindow),
	}
	if redis != nil {
		for _, e := range redis.Registry {
			if e.Address != "" {
				h.RegistryAddrs = append(h.RegistryAddrs, e.Address)
			}
		}
	}
	if nodes != nil {
		h.KeysOfInterest = keysOfInterest(nodes, maxKeys)
	}
	return h
}

// keysOfInterest is every key the nodes sampled, once, sorted and cut to
// the first limit.
func keysOfInterest(nodes *NodesSection, limit int) []string {
	seen := make(map[string]struct{})
	var out []string
	for _, n := range nodes.Nodes {
		for _, c := range n.Counters {
			if _, dup := seen[c.Key]; dup {
				continue
			}
			seen[c.Key] = struct{}{}
			out = append(out, c.Key)
		}
	}
	sort.Strings(out)
	return out[:min(len(out), limit)]
}
