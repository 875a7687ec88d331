package snapshot

import (
	"maps"
	"net/url"
	"sort"
	"time"
)

// mergeInput is what one node merge sees.
type mergeInput struct {
	now         time.Time
	redis       *RedisSection
	nodes       *NodesSection
	prom        *PrometheusSection
	forgetAfter time.Duration
}

// nodeMemory remembers every node seen recently, by identity, so that a
// node that stopped and whose registry entry expired is still listed (as
// down) until forgetAfter has passed: the service itself never reports a
// node as down (CONTRACT.md: no "Down" state), it simply forgets it.
type nodeMemory map[string]*Node

// identity is how a node is known: its id when any source told it, else
// its address.
func identity(n *Node) string {
	if n.ID != "" {
		return n.ID
	}
	return "addr:" + n.Address
}

// merge builds the node list of one snapshot from the registry, the node
// API answers and Prometheus, joined by id and by address, then adds the
// nodes remembered from earlier snapshots. It returns a fresh slice.
func (m nodeMemory) merge(in mergeInput) []Node {
	cur := map[string]*Node{}
	byAddr := map[string]*Node{}
	get := func(id, addr string) *Node {
		if id != "" {
			if n, ok := cur[id]; ok {
				if n.Address == "" {
					n.Address = addr
					byAddr[addr] = n
				}
				return n
			}
		}
		if addr != "" {
			if n, ok := byAddr[addr]; ok {
				if n.ID == "" && id != "" {
					delete(cur, identity(n))
					n.ID = id
					cur[id] = n
				}
				return n
			}
		}
		// A node that no longer answers /health is only known by address
		// now; who it is (id, URL, registration) comes from memory.
		if id == "" {
			for _, old := range m {
				if old.Address == addr && old.ID != "" {
					if n, ok := cur[old.ID]; ok {
						return n
					}
					n := forgotten(old)
					cur[n.ID] = n
					byAddr[addr] = n
					return n
				}
			}
		}
		n := &Node{ID: id, Address: addr, RegistryTTLMs: Null(), HealthLatencyMs: Null(),
			CheckLatencyP99Ms: Null(), AllowedPerSecond: Null(), BlockedPerSecond: Null()}
		cur[identity(n)] = n
		if addr != "" {
			byAddr[addr] = n
		}
		return n
	}

	if in.redis != nil {
		for _, e := range in.redis.Registry {
			n := get(e.ID, e.Address)
			n.Registered = true
			if e.TTL >= 0 {
				n.RegistryTTLMs = Float(Millis(e.TTL))
			}
			n.RegisteredAt = cloneTime(e.RegisteredAt)
		}
	}
	if in.nodes != nil {
		for _, r := range in.nodes.Nodes {
			n := get(r.ID, r.Address)
			n.URL = r.URL
			n.Reachable = r.Reachable
			if r.Reachable {
				n.HealthLatencyMs = Float(Millis(r.HealthLatency))
			}
			if len(r.Errors) > 0 {
				n.EndpointErrors = maps.Clone(r.Errors)
			}
		}
		// Without Redis, the nodes' own view of the registry says which
		// nodes are registered.
		if in.redis == nil {
			for _, r := range in.nodes.Nodes {
				for _, p := range r.Peers {
					n := get(p.ID, p.Address)
					n.Registered = true
					if n.RegisteredAt == nil {
						n.RegisteredAt = cloneTime(p.RegisteredAt)
					}
				}
			}
		}
	}
	if in.prom != nil {
		for inst, st := range in.prom.Instances {
			n := byAddr[inst]
			if n == nil {
				n = byURLHost(cur, inst)
			}
			if n == nil {
				n = get("", inst)
				// Known to Prometheus only: its scrape says whether it is
				// there, since observerd does not poll its API.
				n.Reachable = st.Up != nil && *st.Up
			}
			n.CheckLatencyP99Ms = Float(float64(st.CheckLatencyP99) * 1000)
			n.AllowedPerSecond = st.AllowedPerSecond
			n.BlockedPerSecond = st.BlockedPerSecond
			if st.Up != nil {
				up := *st.Up
				n.ScrapeUp = &up
			}
		}
	}

	now := in.now
	for key, n := range cur {
		if n.Reachable || n.Registered {
			t := now
			n.LastSeen = &t
		} else if old, ok := m[key]; ok && old.LastSeen != nil {
			n.LastSeen = cloneTime(old.LastSeen)
		}
		m[key] = cloneNode(n)
	}
	for key, old := range m {
		if _, ok := cur[key]; ok {
			continue
		}
		if old.LastSeen == nil || now.Sub(*old.LastSeen) > in.forgetAfter {
			delete(m, key)
			continue
		}
		cur[key] = forgotten(old)
	}

	out := make([]Node, 0, len(cur))
	for _, n := range cur {
		out = append(out, *cloneNode(n))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// forgotten is a remembered node that no source reports now: who it is and
// when it was last seen, with nothing current.
func forgotten(old *Node) *Node {
	n := cloneNode(old)
	n.Registered, n.Reachable = false, false
	n.RegistryTTLMs, n.HealthLatencyMs = Null(), Null()
	n.CheckLatencyP99Ms, n.AllowedPerSecond, n.BlockedPerSecond = Null(), Null(), Null()
	n.ScrapeUp, n.EndpointErrors = nil, nil
	return n
}

// byURLHost finds the node whose polled URL has addr as host:port, for a
// node registered under another name than the one it is scraped by.
func byURLHost(nodes map[string]*Node, addr string) *Node {
	for _, n := range nodes {
		if n.URL != "" && urlHostPort(n.URL) == addr {
			return n
		}
	}
	return nil
}

func urlHostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// cloneNode copies n deeply, so that a published node shares nothing with
// the memory.
func cloneNode(n *Node) *Node {
	c := *n
	c.RegisteredAt = cloneTime(n.RegisteredAt)
	c.LastSeen = cloneTime(n.LastSeen)
	if n.ScrapeUp != nil {
		up := *n.ScrapeUp
		c.ScrapeUp = &up
	}
	c.EndpointErrors = maps.Clone(n.EndpointErrors)
	return &c
}
