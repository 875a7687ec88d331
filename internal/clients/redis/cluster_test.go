package redis

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

const clusterSlots = 16384

// startCluster starts n redis-server processes in cluster mode, gives each
// an equal share of the slots, joins them with CLUSTER MEET and waits until
// every node says the cluster is ok. It returns the nodes' addresses.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	bin := testenv.LookBinary(t, "redis-server", "redis-server")
	addrs := make([]string, n)
	nodes := make([]*goredis.Client, n)
	for i := range n {
		port := clusterPort(t)
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		startClusterNode(t, bin, port)
		nodes[i] = goredis.NewClient(&goredis.Options{Addr: addrs[i], Protocol: 2, DisableIdentity: true})
		t.Cleanup(func() { nodes[i].Close() })
	}
	ctx := testContext(t)
	for i, c := range nodes {
		testenv.WaitFor(t, 10*time.Second, "cluster node "+addrs[i], func() error { return c.Ping(ctx).Err() })
		lo, hi := i*clusterSlots/n, (i+1)*clusterSlots/n-1
		if err := c.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTS on %s: %v", addrs[i], err)
		}
	}
	for _, a := range addrs[1:] {
		host, port, _ := net.SplitHostPort(a)
		if err := nodes[0].ClusterMeet(ctx, host, port).Err(); err != nil {
			t.Fatalf("CLUSTER MEET %s: %v", a, err)
		}
	}
	want := fmt.Sprintf("cluster_known_nodes:%d", n)
	for i, c := range nodes {
		testenv.WaitFor(t, 20*time.Second, "cluster state on "+addrs[i], func() error {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
				return fmt.Errorf("not formed yet")
			}
			return nil
		})
	}
	return addrs
}

// clusterPort finds a free port whose cluster bus port (+10000) is free too.
func clusterPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := testenv.FreePort(t)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

func startClusterNode(t *testing.T, bin string, port int) {
	t.Helper()
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		t.Fatalf("create log: %v", err)
	}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-node-timeout", "5000",
		"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("start cluster node: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		log.Close()
	})
}

func TestCluster(t *testing.T) {
	addrs := startCluster(t, 3)
	ctx := testContext(t)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { cc.Close() })
	now, err := cc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	ms := float64(now.UnixMilli())
	const keys = 200
	pipe := cc.Pipeline()
	for i := range keys {
		k := fmt.Sprintf("ratelimit:user:%d", i)
		for j := range i%4 + 1 {
			pipe.ZAdd(ctx, k, goredis.Z{Score: ms - float64(j), Member: fmt.Sprintf("m%d", j)})
		}
		pipe.Expire(ctx, k, time.Minute)
		pipe.Set(ctx, k+":seq", "1", 0)
	}
	for i := range 5 {
		pipe.Set(ctx, fmt.Sprintf("ratelimit:gone:%d:seq", i), "1", 0)
	}
	pipe.HSet(ctx, "ratelimit:limit:user:1", "limit", "3", "window_ms", "1000")
	pipe.HSet(ctx, "ratelimiter:nodes:node-a", "address", "10.0.0.1:8000", "registered_at", "2026-01-27T01:48:37")
	pipe.HSet(ctx, "ratelimiter:nodes:node-b", "address", "10.0.0.2:8000", "registered_at", "2026-01-27T01:48:37Z")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}

	c := newTestClient(t, Options{ClusterAddrs: addrs[:1], ScanCount: 20, BatchSize: 16, WrapScan: testenv.ReplayPages[ScanFunc]})
	if !c.Cluster() {
		t.Fatal("Cluster() = false")
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if want := int64(2*keys + 5 + 1 + 2); info.Servers != 3 || info.DBKeys != want || info.Role != "master" {
		t.Errorf("Info = %+v, want 3 servers and %d keys", info, want)
	}
	reg, err := c.Registry(ctx, "ratelimiter:nodes:")
	if err != nil || len(reg) != 2 || reg[0].ID != "node-a" || reg[1].ID != "node-b" || reg[0].RegisteredAt == nil || reg[1].RegisteredAt == nil {
		t.Errorf("Registry = %+v, %v", reg, err)
	}
	ov, err := c.Overrides(ctx, "ratelimit:limit:")
	if err != nil || len(ov.Overrides) != 1 || ov.Overrides[0] != (Override{Key: "user:1", Limit: 3, Window: time.Second}) {
		t.Errorf("Overrides = %+v, %v", ov, err)
	}

	var total int64
	stats, err := c.WalkCounters(ctx, Walk{Prefix: "ratelimit:", Window: func(string) time.Duration { return time.Minute }, Visit: func(cn Counter) { total += cn.Count }})
	if err != nil {
		t.Fatalf("WalkCounters: %v", err)
	}
	// Sum over i of i%4+1 for 200 keys: 50 of each of 1, 2, 3, 4.
	if stats.Counters != keys || total != 500 || stats.SequenceKeys != keys+5 || stats.OrphanSequenceKeys != 5 ||
		stats.OverrideKeys != 1 || stats.Duplicates != stats.Counters+stats.SequenceKeys+stats.OverrideKeys {
		t.Errorf("stats = %+v, total %d", stats, total)
	}
	counts, err := c.Counts(ctx, "ratelimit:", []string{"user:3", "user:7", "absent"}, nil)
	if err != nil || counts["user:3"] != 4 || counts["user:7"] != 4 || counts["absent"] != 0 {
		t.Errorf("Counts = %v, %v", counts, err)
	}
}
