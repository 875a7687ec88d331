package snapshot

import (
	"slices"
	"time"
)

// Hints are what each poller needs from the other sources' last answers,
// read from the snapshot published before its poll (docs/design.md,
// "Hints"): the defaults the Redis walk judges keys by, the registry's
// addresses the node poller also asks, and the keys the nodes sampled,
// whose Redis counts counter_drift compares. Before the first snapshot:
// the configured defaults, and nothing else.
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
	if nodes == nil {
		return h
	}
	// Every key the nodes sampled, once, sorted and cut to maxKeys.
	for _, n := range nodes.Nodes {
		for _, c := range n.Counters {
			h.KeysOfInterest = append(h.KeysOfInterest, c.Key)
		}
	}
	slices.Sort(h.KeysOfInterest)
	h.KeysOfInterest = slices.Compact(h.KeysOfInterest)
	h.KeysOfInterest = h.KeysOfInterest[:min(len(h.KeysOfInterest), maxKeys)]
	return h
}
