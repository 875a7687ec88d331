package testenv

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
)

// clusterSlots is the number of hash slots of every Redis Cluster.
const clusterSlots = 16384

// clusterBusOffset is how far above its client port a cluster node listens
// for the cluster bus when not told otherwise.
const clusterBusOffset = 10000

// RedisCluster is a Redis Cluster of masters without replicas, each a
// redis-server child process on a loopback port.
type RedisCluster struct {
	// Addrs are the masters' host:port addresses in the order of the slots
	// they serve, Addrs[0] the lowest. Any of them is a seed.
	Addrs []string
	nodes []*Redis
}

// StartRedisCluster starts masters redis-servers in cluster mode with no
// persistence, gives each an equal share of the 16384 slots, joins them and
// waits until every one of them says the cluster is ok and sees the same
// slot map. Every process is stopped when the test ends.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	return StartRedisClusterWith(t, masters, RedisOptions{})
}

// StartRedisClusterWith starts a cluster as StartRedisCluster does, every
// master with TLS and a password as opts say. With a CA the cluster bus
// speaks TLS too, and Addrs are the masters' TLS ports.
func StartRedisClusterWith(t testing.TB, masters int, opts RedisOptions) *RedisCluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("a redis cluster of %d masters", masters)
	}
	c := &RedisCluster{}
	extra := []string{
		"--cluster-enabled", "yes",
		// Relative to --dir, which is the node's own directory.
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "5000",
		// Known from the start, so that no node ever describes itself
		// without an address to a client that asks for the slot map.
		"--cluster-announce-ip", "127.0.0.1",
	}
	if opts.CA != nil {
		extra = append(extra, "--tls-cluster", "yes", "--tls-replication", "yes")
	}
	for range masters {
		n := startRedis(t, opts, clusterPort, extra...)
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	t.Cleanup(c.Stop)
	if err := c.join(); err != nil {
		t.Fatalf("form a redis cluster of %d masters: %v", masters, err)
	}
	WaitFor(t, startTimeout, "redis cluster on "+strings.Join(c.Addrs, ","), c.formed)
	return c
}

// Nodes are the masters, in the order of Addrs, for commands a test sends
// to each of them (ACL SETUSER, for instance).
func (c *RedisCluster) Nodes() []*Redis { return slices.Clone(c.nodes) }

// Stop stops every master and waits for each to exit. The test's cleanup
// does it too; the data and the cluster are gone.
func (c *RedisCluster) Stop() {
	for _, n := range c.nodes {
		n.Stop()
	}
}

// clusterPort returns a free port whose cluster bus port, clusterBusOffset
// above it, is free too, and keeps FreePort from handing the bus port to
// anyone else in this test binary.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := FreePort(t)
		bus := port + clusterBusOffset
		if bus > 65535 || !handedOut.claim(bus) {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+itoa(bus))
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			t.Fatalf("find a free cluster bus port: close the probe on %d: %v", bus, err)
		}
		return port
	}
	t.Fatal("find a free port pair for a redis cluster node: none in 100 tries")
	return 0
}

// slotRange is the first and last slot of master i of n.
func slotRange(i, n int) (lo, hi int) {
	return i * clusterSlots / n, (i+1)*clusterSlots/n - 1
}

// join gives every master its slots and its own config epoch, which spares
// the cluster resolving a collision of epochs, then introduces every other
// master to the first; the cluster bus spreads the rest.
func (c *RedisCluster) join() error {
	for i, n := range c.nodes {
		if _, err := n.do("CLUSTER", "SET-CONFIG-EPOCH", itoa(i+1)); err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
		lo, hi := slotRange(i, len(c.nodes))
		args := []string{"CLUSTER", "ADDSLOTS"}
		for s := lo; s <= hi; s++ {
			args = append(args, itoa(s))
		}
		if _, err := n.do(args...); err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
	}
	first := c.nodes[0]
	for _, n := range c.nodes[1:] {
		host, port, err := net.SplitHostPort(n.Addr)
		if err != nil {
			return err
		}
		if _, err := first.do("CLUSTER", "MEET", host, port); err != nil {
			return fmt.Errorf("%s meeting %s: %w", first.Addr, n.Addr, err)
		}
	}
	return nil
}

// formed answers nil once every master says cluster_state:ok, knows
// exactly the others and sees the slot map it was given: each master by
// its own id and address, a healthy master, with its own slots.
func (c *RedisCluster) formed() error {
	views := make([][]clusterNode, len(c.nodes))
	for i, n := range c.nodes {
		if n.proc.exited() {
			return fmt.Errorf("%s: %w: %s", n.Addr, errExited, n.proc.logTail())
		}
		if err := c.stateOK(n); err != nil {
			return err
		}
		text, err := n.do("CLUSTER", "NODES")
		if err != nil {
			return err
		}
		if views[i], err = parseClusterNodes(text); err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
	}
	want := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		me := slices.IndexFunc(views[i], func(e clusterNode) bool { return e.myself })
		if me < 0 {
			return fmt.Errorf("%s does not list itself in CLUSTER NODES", n.Addr)
		}
		lo, hi := slotRange(i, len(c.nodes))
		want[i] = clusterNode{id: views[i][me].id, addr: n.Addr, flags: "master", slots: slotText(lo, hi)}.String()
	}
	slices.Sort(want)
	for i, n := range c.nodes {
		got := make([]string, len(views[i]))
		for k, e := range views[i] {
			got[k] = e.String()
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s sees the slot map %q, want %q", n.Addr, got, want)
		}
	}
	return nil
}

// stateOK answers nil when n's CLUSTER INFO says the cluster is ok, every
// slot is assigned and n knows as many nodes as there are masters.
func (c *RedisCluster) stateOK(n *Redis) error {
	info, err := n.do("CLUSTER", "INFO")
	if err != nil {
		return err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if fields["cluster_state"] != "ok" || fields["cluster_slots_assigned"] != itoa(clusterSlots) ||
		fields["cluster_known_nodes"] != itoa(len(c.nodes)) {
		return fmt.Errorf("%s: cluster_state:%s cluster_slots_assigned:%s cluster_known_nodes:%s, want ok, %d and %d",
			n.Addr, fields["cluster_state"], fields["cluster_slots_assigned"], fields["cluster_known_nodes"], clusterSlots, len(c.nodes))
	}
	return nil
}

// clusterNode is one line of CLUSTER NODES, as far as formed compares it.
type clusterNode struct {
	id     string
	addr   string // host:port, without the bus port or a host name
	flags  string // without "myself"
	myself bool
	slots  string // the slot ranges, separated by spaces
}

// String is how formed compares two views of a node.
func (e clusterNode) String() string {
	return e.id + " " + e.addr + " " + e.flags + " " + e.slots
}

// parseClusterNodes reads the text of CLUSTER NODES: per line an id,
// ip:port@cport[,hostname], flags, master id, ping and pong times, config
// epoch, link state and the node's slots.
func parseClusterNodes(text string) ([]clusterNode, error) {
	var out []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("CLUSTER NODES line %q: fewer than 8 fields", line)
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addr, _, _ = strings.Cut(addr, ",")
		var flags []string
		myself := false
		for _, fl := range strings.Split(f[2], ",") {
			if fl == "myself" {
				myself = true
				continue
			}
			flags = append(flags, fl)
		}
		out = append(out, clusterNode{id: f[0], addr: addr, flags: strings.Join(flags, ","), myself: myself, slots: strings.Join(f[8:], " ")})
	}
	return out, nil
}

// slotText writes a slot range as CLUSTER NODES does.
func slotText(lo, hi int) string {
	if lo == hi {
		return itoa(lo)
	}
	return itoa(lo) + "-" + itoa(hi)
}
