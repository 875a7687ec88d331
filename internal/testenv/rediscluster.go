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

// RedisCluster is a Redis Cluster of masters without replicas, each a
// redis-server child process on a loopback port.
type RedisCluster struct {
	// Addrs are the masters' host:port addresses in the order of the slots
	// they serve, Addrs[0] the lowest. Any of them is a seed.
	Addrs []string
	nodes []*Redis
	buses []int // the cluster bus ports of nodes
}

// StartRedisCluster starts masters redis-servers in cluster mode with no
// persistence, gives each an equal share of the slots, joins them, waits
// until the cluster is formed and stops it when the test ends.
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
	args := []string{
		"--cluster-enabled", "yes",
		// Relative to --dir, which is the node's own directory.
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "5000",
		// Known from the start, so that no node ever describes itself
		// without an address to a client that asks for the slot map.
		"--cluster-announce-ip", "127.0.0.1",
	}
	if opts.CA != nil {
		args = append(args, "--tls-cluster", "yes", "--tls-replication", "yes")
	}
	for range masters {
		var bus int
		n := startRedis(t, opts, func() []string {
			bus = FreePort(t)
			return append(slices.Clip(args), "--cluster-port", itoa(bus))
		})
		c.nodes = append(c.nodes, n)
		c.buses = append(c.buses, bus)
		c.Addrs = append(c.Addrs, n.Addr)
	}
	if err := c.join(); err != nil {
		t.Fatalf("form a redis cluster of %d masters: %v", masters, err)
	}
	WaitFor(t, startTimeout, "redis cluster on "+strings.Join(c.Addrs, ","), c.formed)
	return c
}

// Nodes are the masters, in the order of Addrs, for commands a test sends
// to each of them (ACL SETUSER, for instance).
func (c *RedisCluster) Nodes() []*Redis { return slices.Clone(c.nodes) }

// Stop stops every master and waits for each to exit; the data and the
// cluster are gone.
func (c *RedisCluster) Stop() {
	for _, n := range c.nodes {
		n.Stop()
	}
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
		if _, err := n.do("CLUSTER", "ADDSLOTSRANGE", itoa(lo), itoa(hi)); err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
	}
	first := c.nodes[0]
	for i, n := range c.nodes[1:] {
		host, port, _ := net.SplitHostPort(n.Addr) // as startRedis wrote it
		if _, err := first.do("CLUSTER", "MEET", host, port, itoa(c.buses[i+1])); err != nil {
			return fmt.Errorf("%s meeting %s: %w", first.Addr, n.Addr, err)
		}
	}
	return nil
}

// formed answers nil once every master says cluster_state:ok and sees the
// slot map it was given, and nothing else: each master by its own id and
// address, a healthy master, with its own slots.
func (c *RedisCluster) formed() error {
	want := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		if n.proc.exited() {
			return fmt.Errorf("%s: %w: %s", n.Addr, errExited, n.proc.logTail())
		}
		info, err := n.do("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok\r\n") {
			return fmt.Errorf("%s: the cluster is not ok yet", n.Addr)
		}
		id, err := n.do("CLUSTER", "MYID")
		if err != nil {
			return err
		}
		lo, hi := slotRange(i, len(c.nodes))
		want[i] = clusterNode{id: id, addr: n.Addr, flags: "master", slots: slotText(lo, hi)}.String()
	}
	slices.Sort(want)
	for _, n := range c.nodes {
		text, err := n.do("CLUSTER", "NODES")
		if err != nil {
			return err
		}
		view, err := parseClusterNodes(text)
		if err != nil {
			return fmt.Errorf("%s: %w", n.Addr, err)
		}
		got := make([]string, len(view))
		for k, e := range view {
			got[k] = e.String()
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s sees the slot map %q, want %q", n.Addr, got, want)
		}
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
		flags := strings.Split(f[2], ",")
		myself := slices.Contains(flags, "myself")
		flags = slices.DeleteFunc(flags, func(fl string) bool { return fl == "myself" })
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
