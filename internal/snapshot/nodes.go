package snapshot

import (
	"cmp"
	"maps"
	"net/url"
	"slices"
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
// node as down (docs/contract.md: no "Down" state), it simply forgets it.
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
	j := &nodeJoin{mem: m, byKey: map[string]*Node{}, byAddr: map[string]*Node{}}
	if in.redis != nil {
		j.addRegistry(in.redis.Registry)
	}
	if in.nodes != nil {
		j.addReports(in.nodes.Nodes)
		// Without Redis, the nodes' own view of the registry says which
		// nodes are registered.
		if in.redis == nil {
			j.addPeers(in.nodes.Nodes)
		}
	}
	if in.prom != nil {
		j.addInstances(in.prom.Instances)
	}
	m.remember(j.byKey, in.now, in.forgetAfter)

	out := make([]Node, 0, len(j.byKey))
	for _, n := range j.byKey {
		out = append(out, *cloneNode(n))
	}
	slices.SortFunc(out, func(a, b Node) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Address, b.Address))
	})
	return out
}

// nodeJoin is the node list of one merge while it is built: every node by
// identity and by address.
type nodeJoin struct {
	mem    nodeMemory
	byKey  map[string]*Node
	byAddr map[string]*Node
}

// get returns the node known by id or by addr, creating it if neither is
// known yet. A node first known by address only takes its id when a later
// source names it.
func (j *nodeJoin) get(id, addr string) *Node {
	if n, ok := j.byKey[id]; ok && id != "" {
		if n.Address == "" {
			n.Address = addr
			j.byAddr[addr] = n
		}
		return n
	}
	if n, ok := j.byAddr[addr]; ok && addr != "" {
		if n.ID == "" && id != "" {
			delete(j.byKey, identity(n))
			n.ID = id
			j.byKey[id] = n
		}
		return n
	}
	if id == "" {
		if n := j.remembered(addr); n != nil {
			return n
		}
	}
	n := &Node{ID: id, Address: addr, AllowedPerSecond: Null(), BlockedPerSecond: Null()}
	j.byKey[identity(n)] = n
	if addr != "" {
		j.byAddr[addr] = n
	}
	return n
}

// remembered finds a node that no longer answers /health, so is only known
// by address now: who it is (id, URL, registration) comes from memory.
func (j *nodeJoin) remembered(addr string) *Node {
	for _, old := range j.mem {
		if old.Address != addr || old.ID == "" {
			continue
		}
		if n, ok := j.byKey[old.ID]; ok {
			return n
		}
		n := forgotten(old)
		j.byKey[n.ID] = n
		j.byAddr[addr] = n
		return n
	}
	return nil
}

func (j *nodeJoin) addRegistry(entries []RegistryEntry) {
	for _, e := range entries {
		n := j.get(e.ID, e.Address)
		n.Registered = true
		if e.TTL >= 0 {
			n.RegistryTTL = Known(e.TTL)
		}
		n.RegisteredAt = clonePtr(e.RegisteredAt)
	}
}

func (j *nodeJoin) addReports(reports []NodeReport) {
	for _, r := range reports {
		n := j.get(r.ID, r.Address)
		n.URL = r.URL
		n.Reachable = r.Reachable
		if r.Reachable {
			n.HealthLatency = Known(r.HealthLatency)
		}
		if len(r.Errors) > 0 {
			n.EndpointErrors = maps.Clone(r.Errors)
		}
	}
}

func (j *nodeJoin) addPeers(reports []NodeReport) {
	for _, r := range reports {
		for _, p := range r.Peers {
			n := j.get(p.ID, p.Address)
			n.Registered = true
			if n.RegisteredAt == nil {
				n.RegisteredAt = clonePtr(p.RegisteredAt)
			}
		}
	}
}

// addInstances ties Prometheus's figures to nodes by their instance label:
// the node's address, or the host:port of the URL it is polled at.
func (j *nodeJoin) addInstances(instances map[string]InstanceStats) {
	for inst, st := range instances {
		n := j.byAddr[inst]
		if n == nil {
			n = byURLHost(j.byKey, inst)
		}
		if n == nil {
			n = j.get("", inst)
			// Known to Prometheus only: its scrape says whether it is
			// there, since observerd does not poll its API.
			n.Reachable = st.Up != nil && *st.Up
		}
		n.CheckLatencyP99 = st.CheckLatencyP99
		n.AllowedPerSecond = st.AllowedPerSecond
		n.BlockedPerSecond = st.BlockedPerSecond
		if st.Up != nil {
			n.ScrapeUp = clonePtr(st.Up)
		}
	}
}

// remember stamps the nodes of this merge as seen, stores copies of them,
// forgets nodes unseen for longer than forgetAfter and adds the others,
// as down, to cur.
func (m nodeMemory) remember(cur map[string]*Node, now time.Time, forgetAfter time.Duration) {
	for key, n := range cur {
		if n.Reachable || n.Registered {
			n.LastSeen = new(now)
		} else if old, ok := m[key]; ok && old.LastSeen != nil {
			n.LastSeen = clonePtr(old.LastSeen)
		}
		m[key] = cloneNode(n)
	}
	for key, old := range m {
		if _, ok := cur[key]; ok {
			continue
		}
		if old.LastSeen == nil || now.Sub(*old.LastSeen) > forgetAfter {
			delete(m, key)
			continue
		}
		cur[key] = forgotten(old)
	}
}

// forgotten is a remembered node that no source reports now: who it is and
// when it was last seen, with nothing current.
func forgotten(old *Node) *Node {
	return &Node{ID: old.ID, Address: old.Address, URL: old.URL, RegisteredAt: clonePtr(old.RegisteredAt),
		LastSeen: clonePtr(old.LastSeen), AllowedPerSecond: Null(), BlockedPerSecond: Null()}
}

// byURLHost finds the node whose polled URL has addr as host:port, for a
// node registered under another name than the one it is scraped by.
func byURLHost(nodes map[string]*Node, addr string) *Node {
	for _, n := range nodes {
		if u, err := url.Parse(n.URL); n.URL != "" && err == nil && u.Host == addr {
			return n
		}
	}
	return nil
}

// clonePtr returns a copy of *p, or nil, so that a published snapshot
// shares no pointer with what it was built from.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return new(*p)
}

// cloneNode copies n deeply, so that a published node shares nothing with
// the memory.
func cloneNode(n *Node) *Node {
	c := *n
	c.RegisteredAt, c.LastSeen, c.ScrapeUp = clonePtr(n.RegisteredAt), clonePtr(n.LastSeen), clonePtr(n.ScrapeUp)
	c.EndpointErrors = maps.Clone(n.EndpointErrors)
	return &c
}
