package snapshot

import (
	"cmp"
	"maps"
	"slices"

	"github.com/observerd/observerd/internal/names"
)

// textFactor is how many names' worth of bytes an error text or a
// violation message may hold: one may quote several names.
const textFactor = 4

// cleaner makes every string a peer supplied publishable (see names.Clean):
// names cut to name bytes, error texts and messages to text bytes. The
// hints keep the raw names, which pollers look up.
type cleaner struct {
	name, text int
}

func newCleaner(maxName int) cleaner {
	maxName = cmp.Or(maxName, names.DefaultMaxBytes)
	return cleaner{name: maxName, text: textFactor * maxName}
}

func (c cleaner) str(s string) string { return names.Clean(s, c.name) }
func (c cleaner) msg(s string) string { return names.Clean(s, c.text) }

// section returns a clean copy of sec; the raw section is left as it is.
func (c cleaner) section(sec Section) Section {
	switch s := sec.(type) {
	case *RedisSection:
		return c.redis(s)
	case *NodesSection:
		return c.nodes(s)
	case *PrometheusSection:
		return c.prometheus(s)
	}
	return sec
}

func (c cleaner) redis(s *RedisSection) *RedisSection {
	if s == nil {
		return nil
	}
	out := *s
	out.Info.Version, out.Info.Role = c.str(s.Info.Version), c.str(s.Info.Role)
	out.Registry = cleanEach(s.Registry, func(e RegistryEntry) RegistryEntry {
		e.ID, e.Address, e.RegisteredAt = c.str(e.ID), c.str(e.Address), clonePtr(e.RegisteredAt)
		return e
	})
	out.Overrides = cleanEach(s.Overrides, func(o Override) Override { o.Key = c.str(o.Key); return o })
	out.Counters.WalkedBy, out.Counters.WalkedAt = c.str(s.Counters.WalkedBy), clonePtr(s.Counters.WalkedAt)
	if w := s.Counters.Walk; w != nil {
		cw := *w
		cw.ShareMeasuredBy, cw.PacedBy = c.str(w.ShareMeasuredBy), c.str(w.PacedBy)
		out.Counters.Walk = &cw
	}
	out.Counters.Top = cleanEach(s.Counters.Top, func(t TopKey) TopKey {
		t.Key, t.APICount = c.str(t.Key), clonePtr(t.APICount)
		return t
	})
	out.Counters.NearLimit = cleanEach(s.Counters.NearLimit, func(k NearLimitKey) NearLimitKey { k.Key = c.str(k.Key); return k })
	out.Blocks = cleanEach(s.Blocks, c.block)
	out.OverLimit = cleanEach(s.OverLimit, c.block)
	out.ZeroLimitActive = cleanEach(s.ZeroLimitActive, c.block)
	out.WithoutTTL = cleanEach(s.WithoutTTL, c.str)
	out.TTLBeyondWindow = cleanEach(s.TTLBeyondWindow, func(k KeyTTL) KeyTTL { k.Key = c.str(k.Key); return k })
	out.Sampled = cleanEach(s.Sampled, func(k KeySample) KeySample { k.Key = c.str(k.Key); return k })
	out.KeyCounts = cleanKeys(s.KeyCounts, c.str, func(v int64) int64 { return v })
	return &out
}

func (c cleaner) block(b Block) Block { b.Key = c.str(b.Key); return b }

func (c cleaner) nodes(s *NodesSection) *NodesSection {
	if s == nil {
		return nil
	}
	return &NodesSection{Nodes: cleanEach(s.Nodes, c.report)}
}

func (c cleaner) report(r NodeReport) NodeReport {
	r.URL, r.Address, r.ID = c.str(r.URL), c.str(r.Address), c.str(r.ID)
	r.Peers = cleanEach(r.Peers, func(p PeerNode) PeerNode {
		p.ID, p.Address, p.State, p.RegisteredAt = c.str(p.ID), c.str(p.Address), c.str(p.State), clonePtr(p.RegisteredAt)
		return p
	})
	counter := func(a APICounter) APICounter { a.Key = c.str(a.Key); return a }
	r.Counters = cleanEach(r.Counters, counter)
	r.Blocked = cleanEach(r.Blocked, counter)
	r.Limits = clonePtr(r.Limits)
	r.Errors = cleanKeys(r.Errors, c.str, c.msg)
	r.ErrorStatus = cleanKeys(r.ErrorStatus, c.str, func(v int) int { return v })
	return r
}

func (c cleaner) prometheus(s *PrometheusSection) *PrometheusSection {
	if s == nil {
		return nil
	}
	out := *s
	out.Instances = cleanKeys(s.Instances, c.str, func(st InstanceStats) InstanceStats {
		st.Up = clonePtr(st.Up)
		return st
	})
	out.QueryErrors = cleanKeys(s.QueryErrors, c.str, c.msg)
	return &out
}

// violation and unknown clean the invariants' verdict: it is built from
// clean sections, so this only guards against a check that quotes
// something raw.
func (c cleaner) violation(v Violation) Violation {
	v.Subject, v.Message = c.str(v.Subject), c.msg(v.Message)
	v.Evidence = cleanEach(v.Evidence, func(e Evidence) Evidence {
		e.Source, e.What = c.str(e.Source), c.msg(e.What)
		return e
	})
	v.Causes = cleanEach(v.Causes, c.msg)
	return v
}

func (c cleaner) unknown(u UnknownInvariant) UnknownInvariant { u.Reason = c.msg(u.Reason); return u }

// cleanEach returns a new slice of f of every element of s, nil for nil: a
// nil list means an endpoint said nothing, an empty one that it answered
// with nothing.
func cleanEach[T any](s []T, f func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// cleanKeys returns a new map of m with its keys and values cleaned, nil
// for nil. Two raw keys that read the same once clean keep the value of the
// smaller raw key, so that the result does not depend on map order.
func cleanKeys[V any](m map[string]V, key func(string) string, value func(V) V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ck := key(k)
		if _, dup := out[ck]; !dup {
			out[ck] = value(m[k])
		}
	}
	return out
}
