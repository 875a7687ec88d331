package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rlclient "github.com/observerd/observerd/internal/clients/ratelimiter"
	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/loadgen"
	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/readloop"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/testenv"
)

// The fault tests share one cluster (Redis, three reference nodes,
// Prometheus scraping them every second), a light steady load and one
// observerd process polling every 500 ms. Each subtest breaks one part for
// real while a reader loop fetches /snapshot and /metrics without pause,
// and checks that every read answered 200 with a body that parses, that the
// broken part and only it is reported down with a clear error within its
// bound, that the last good data is kept, and that everything is back
// within its bound of the repair. Once every fault has come and gone, the
// test checks that observerd leaked no file descriptor, goroutine or Redis
// connection.
//
// observerd runs as its own process (observerdBinary): its file
// descriptors in /proc/PID/fd and its go_goroutines are then its own, not
// mixed with the test's, the in-process nodes' and the load generator's.
const (
	// pollTimeout is OBSERVERD_POLL_TIMEOUT, the deadline of one poll.
	pollTimeout = 2 * time.Second
	// downWithin bounds how long after a fault observerd reports it: a
	// healthy source is polled again within one interval, and that poll
	// fails at the latest at its deadline (a frozen Redis or a node that
	// never answers says nothing at all). chaosSlack covers a -race build
	// on 2 busy cores, as in the chaos tests.
	downWithin = pollInterval + pollTimeout + chaosSlack
	// backWithin bounds how long after the repair everything is ok
	// again: a failing source is polled again within its longest backoff,
	// a healthy one (the node API, for a node fault) within one interval,
	// and that poll answers at once.
	backWithin = max(pollInterval, maxBackoff) + chaosSlack
	// readEvery spaces the reader loop's rounds (one /snapshot and one
	// /metrics each): about 20 of each per second, without starving the
	// 2 cores the cluster runs on.
	readEvery = 50 * time.Millisecond
	// readTimeout is how long one read may take before it counts as
	// failed: a few hundred times what it takes.
	readTimeout = 5 * time.Second
)

// Leak tolerances, start to end. Each HTTP keep-alive connection observerd
// holds as a client is one descriptor and two goroutines (the transport's
// read and write loops). How many it keeps to the nodes (up to 8 idle per
// node, one per endpoint asked at once) and to Prometheus (queries run at
// once, 2 kept idle) depends on how the last polls overlapped, so the
// figures are the least of several samples over two poll intervals and
// may still differ by a few connections. A leak grows with every fault,
// five here, and every fault breaks connections, so it shows beyond these.
const (
	fdTolerance        = 4
	goroutineTolerance = 8
	// redisClientTolerance: observerd's Redis client keeps at most its
	// pool (redisclient.DefaultPoolSize) open; a walk may leave one more
	// idle than there was at the start.
	redisClientTolerance = 2
)

func TestFaults(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 3, prometheus: true, nodeEnv: []string{
		// The nodes' own default TTL, beside startCluster's 1 s
		// heartbeat: a stopped node stays registered, so discovered and
		// polled, for the whole fault, as it would in production.
		"RATELIMITER_NODE_TTL_SECONDS=30",
	}})
	c.load(loadgen.Config{Rate: 20, Keys: 10, HotShare: 0.3, HotKeys: 2, KeyPrefix: "fault-", Seed: 5})
	sc := startSidecar(t, "faults", c.observerdEnv(
		"OBSERVERD_POLL_TIMEOUT="+pollTimeout.String(),
		// Above one interval plus the poll deadline: a node poll that
		// waits for its deadline on a hung node or on nodes whose Redis
		// is frozen, then succeeds, must not make its source stale.
		"OBSERVERD_STALE_AFTER="+staleAfter.String(),
	)...)
	// The daemon helpers only need its URL.
	r := &faultRig{c: c, sc: sc, d: &daemon{URL: sc.url}}
	// daemon.get fails the test on a refused connection: wait for the
	// process to listen first.
	testenv.WaitFor(t, 30*time.Second, "observerd listening", func() error {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(sc.url, "http://"), time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
	r.d.waitReady(t, 30*time.Second)
	r.waitReady(t, 30*time.Second)
	before := r.settledFigures(t)
	t.Logf("at the start: %s", before)

	for _, o := range r.outages() {
		t.Run(o.name, func(t *testing.T) { r.run(t, o) })
	}

	r.waitReady(t, 30*time.Second)
	after := r.settledFigures(t)
	t.Logf("at the end: %s", after)
	if after.fds > before.fds+fdTolerance {
		t.Errorf("observerd open fds went from %d to %d (tolerance %d)", before.fds, after.fds, fdTolerance)
	}
	if after.goroutines > before.goroutines+goroutineTolerance {
		t.Errorf("observerd goroutines went from %d to %d (tolerance %d)", before.goroutines, after.goroutines, goroutineTolerance)
	}
	if after.redisClients > before.redisClients+redisClientTolerance || after.redisClients > redisclient.DefaultPoolSize {
		t.Errorf("observerd's Redis connections went from %d to %d (tolerance %d, pool %d)",
			before.redisClients, after.redisClients, redisClientTolerance, redisclient.DefaultPoolSize)
	}
}

// faultRig is what the fault subtests share.
type faultRig struct {
	c  *cluster
	sc *sidecar
	d  *daemon
}

// outage is one fault: what it breaks and how it is seen.
type outage struct {
	name string
	// source is the source the fault breaks; empty for a node fault,
	// which breaks r.c.nodes[node] while the node API source stays ok,
	// since the other nodes answer.
	source string
	node   int
	// errPattern must match the source's error, or the node's /health
	// endpoint error.
	errPattern string
	// inject breaks the part and registers a cleanup that repairs it, so
	// that a failing subtest leaves the next one a working cluster.
	inject func(t *testing.T)
	repair func(t *testing.T)
}

func (o outage) nodeFault() bool { return o.source == "" }

func (r *faultRig) outages() []outage {
	redis, prom := r.c.redis, r.c.prom
	var held *heldPort
	return []outage{{
		name:   "redis frozen",
		source: source.Redis,
		// The poll that meets the frozen server ends at its deadline.
		errPattern: `timed out after ` + regexp.QuoteMeta(pollTimeout.String()),
		inject: func(t *testing.T) {
			t.Cleanup(func() { redis.Resume(t) })
			redis.Pause(t)
		},
		repair: func(t *testing.T) { redis.Resume(t) },
	}, {
		name:       "redis restarted",
		source:     source.Redis,
		errPattern: `connection refused`,
		inject: func(t *testing.T) {
			t.Cleanup(func() { redis.Start(t) })
			redis.Stop()
		},
		repair: func(t *testing.T) { redis.Start(t) },
	}, {
		name:       "node stopped",
		node:       1,
		errPattern: `connection refused`,
		inject: func(t *testing.T) {
			t.Cleanup(func() { r.c.startNode(1) })
			r.c.stopNode(1)
		},
		repair: func(*testing.T) { r.c.startNode(1) },
	}, {
		name: "node hangs",
		node: 2,
		// The node API client has no timeout of its own: the poll's
		// deadline ends the request.
		errPattern: `deadline exceeded`,
		inject: func(t *testing.T) {
			t.Cleanup(func() {
				if held != nil {
					held.close()
				}
				r.c.startNode(2)
			})
			r.c.stopNode(2)
			held = holdPort(t, r.c.nodes[2].Addr())
		},
		repair: func(*testing.T) {
			held.close()
			r.c.startNode(2)
		},
	}, {
		name:       "prometheus restarted",
		source:     source.Prometheus,
		errPattern: `connection refused`,
		inject: func(t *testing.T) {
			t.Cleanup(func() { prom.Start(t) })
			prom.Stop()
		},
		repair: func(t *testing.T) { prom.Start(t) },
	}}
}

// run injects o with the reader loop running, waits for it to be reported,
// checks what is kept and exported meanwhile, repairs it and waits for the
// cluster to be whole again.
func (r *faultRig) run(t *testing.T, o outage) {
	r.waitReady(t, 30*time.Second)
	reads := startReads(t, r.sc.url, o.watch)
	since := time.Now()
	o.inject(t)
	down := r.d.waitSnapshot(t, max(downWithin-time.Since(since), 0), o.name+" reported", func(s *snapshot.Snapshot) error {
		return r.reported(o, s)
	})
	t.Logf("reported down %s after the fault (bound %s): %s",
		down.GeneratedAt.Sub(since).Round(time.Millisecond), downWithin, r.downError(o, down))
	if o.nodeFault() {
		// The source stays ok, yet its poll waits for the slowest node.
		t.Logf("the node API source is %s, its last poll took %s", down.Sources[source.Ratelimiter].Status, down.Sources[source.Ratelimiter].Duration.Round(time.Millisecond))
	}
	r.checkKept(t, o, down, since)
	r.checkDownMetrics(t, o)

	since = time.Now()
	o.repair(t)
	back := r.d.waitSnapshot(t, backWithin, o.name+" repaired", r.whole)
	t.Logf("back %s after the repair (bound %s)", back.GeneratedAt.Sub(since).Round(time.Millisecond), backWithin)

	n := reads.Stop()
	t.Logf("%d /snapshot and %d /metrics reads during the fault, %d failed", n.Snapshot.Reads, n.Metrics.Reads, n.Failed())
	if n.Failed() > 0 {
		// A snapshot that showed more than the fault (watch) is a failed
		// read too; its description names the snapshot.
		t.Errorf("%d reads failed during the fault, the first ones:\n%s", n.Failed(), strings.Join(n.Failures, "\n"))
	}
	if n.Snapshot.Reads == 0 || n.Metrics.Reads == 0 {
		t.Errorf("the reader loop read %d snapshots and %d expositions", n.Snapshot.Reads, n.Metrics.Reads)
	}
}

// reported is nil once s shows o: its source stale with its error, or its
// node unreachable with its /health error while every source stays ok.
func (r *faultRig) reported(o outage, s *snapshot.Snapshot) error {
	if o.nodeFault() {
		n := nodeOf(s, r.c.nodes[o.node].id)
		if n == nil || n.Reachable {
			return fmt.Errorf("node %s: %+v", r.c.nodes[o.node].id, n)
		}
	} else if st := s.Sources[o.source]; st.Status != snapshot.StatusStale {
		return fmt.Errorf("source %s is %s", o.source, st.Status)
	}
	if msg := r.downError(o, s); !regexp.MustCompile(o.errPattern).MatchString(msg) {
		return fmt.Errorf("error %q does not match %q", msg, o.errPattern)
	}
	return o.watch(s)
}

// downError is the error s reports for o.
func (r *faultRig) downError(o outage, s *snapshot.Snapshot) string {
	if !o.nodeFault() {
		return s.Sources[o.source].Error
	}
	if n := nodeOf(s, r.c.nodes[o.node].id); n != nil {
		return n.EndpointErrors[rlclient.PathHealth]
	}
	return ""
}

// watch is checked on every snapshot the reader loop reads during o: every
// other source stays ok, and o's own keeps its last good data (stale, not
// error or pending).
func (o outage) watch(s *snapshot.Snapshot) error {
	for name, st := range s.Sources {
		switch {
		case name == o.source && (st.Status == snapshot.StatusError || st.Status == snapshot.StatusPending):
			return fmt.Errorf("snapshot %d: source %s is %s: its last good data is gone", s.Sequence, name, st.Status)
		case name != o.source && st.Status != snapshot.StatusOK:
			return fmt.Errorf("snapshot %d: source %s is %s: %s", s.Sequence, name, st.Status, st.Error)
		}
	}
	return nil
}

// checkKept checks that the snapshot that reports o still holds the last
// good data of what o broke.
func (r *faultRig) checkKept(t *testing.T, o outage, s *snapshot.Snapshot, since time.Time) {
	t.Helper()
	switch o.source {
	case source.Redis:
		c := s.Counters
		// A walk under way when the fault began may still end after it,
		// within its poll's deadline.
		if c.Keys == 0 || len(c.Top) == 0 || c.WalkedAt == nil || c.WalkedAt.After(since.Add(pollTimeout)) {
			t.Errorf("while Redis is down, counters should be the last walk's, ended by the fault at %s and its deadline: keys %d, top %d, walked at %v",
				since, c.Keys, len(c.Top), c.WalkedAt)
		}
		if s.Redis.Connected {
			t.Error("redis.connected is true while Redis is down")
		}
	case source.Prometheus:
		if !s.Traffic.AllowedPerSecond.Valid() {
			t.Errorf("while Prometheus is down, the last traffic figures should be kept: %+v", s.Traffic)
		}
	default:
		id := r.c.nodes[o.node].id
		for _, n := range s.Nodes {
			if n.ID == id && !n.Registered {
				t.Errorf("node %s: no longer registered, with a 30 s TTL", id)
			}
			if n.ID != id && !n.Reachable {
				t.Errorf("node %s is unreachable while only %s is down", n.ID, id)
			}
		}
	}
}

// checkDownMetrics checks that /metrics tells the fault: observerd_source_up
// is 0 for o's source only, or observerd_node_up 0 for o's node only.
func (r *faultRig) checkDownMetrics(t *testing.T, o outage) {
	t.Helper()
	m := parseMetrics(t, r.d.metrics(t))
	for _, s := range m["observerd_source_up"] {
		if want := boolValue(s.labels["source"] != o.source); s.value != want {
			t.Errorf("observerd_source_up%v = %v, want %v", s.labels, s.value, want)
		}
	}
	if len(m["observerd_source_up"]) != 3 {
		t.Errorf("observerd_source_up has %d series, want 3", len(m["observerd_source_up"]))
	}
	if !o.nodeFault() {
		return
	}
	seen := false
	for _, s := range m["observerd_node_up"] {
		down := s.labels["node"] == r.c.nodes[o.node].id
		seen = seen || down
		if want := boolValue(!down); s.value != want {
			t.Errorf("observerd_node_up%v = %v, want %v", s.labels, s.value, want)
		}
	}
	if !seen {
		t.Errorf("no observerd_node_up series for %s", r.c.nodes[o.node].id)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// whole is nil when every source is ok and every node reachable,
// registered and answering every endpoint.
func (r *faultRig) whole(s *snapshot.Snapshot) error {
	for name, st := range s.Sources {
		if st.Status != snapshot.StatusOK {
			return fmt.Errorf("source %s is %s: %s", name, st.Status, st.Error)
		}
	}
	if len(s.Nodes) != len(r.c.nodes) {
		return fmt.Errorf("%d nodes", len(s.Nodes))
	}
	for _, n := range s.Nodes {
		if !n.Reachable || !n.Registered || len(n.EndpointErrors) > 0 {
			return fmt.Errorf("node %s: reachable %v, registered %v, errors %v", n.Name(), n.Reachable, n.Registered, n.EndpointErrors)
		}
	}
	return nil
}

// waitReady waits until the cluster is whole and observerd has data of
// every kind a fault must keep: counters, top keys and traffic.
func (r *faultRig) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	r.d.waitSnapshot(t, timeout, "a whole cluster with counters and traffic", func(s *snapshot.Snapshot) error {
		if err := r.whole(s); err != nil {
			return err
		}
		if s.Counters.Keys == 0 || len(s.Counters.Top) == 0 || !s.Traffic.AllowedPerSecond.Valid() {
			return fmt.Errorf("counters %d keys, %d top, traffic %+v", s.Counters.Keys, len(s.Counters.Top), s.Traffic)
		}
		return nil
	})
}

// startReads starts a reader loop on base for the rest of t: it fetches
// /snapshot and /metrics in turn, and a snapshot watch rejects is a failed
// read.
func startReads(t *testing.T, base string, watch func(*snapshot.Snapshot) error) *readloop.Loop {
	t.Helper()
	l, err := readloop.Start(t.Context(), readloop.Config{URL: base, Every: readEvery, Timeout: readTimeout, Check: watch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

// heldPort accepts connections on an address and never answers them: to
// its clients, a node that hangs between the TCP handshake and its answer.
type heldPort struct {
	ln   net.Listener
	done chan struct{} // closed when the accept loop ends
	once sync.Once

	mu    sync.Mutex // guards conns
	conns []net.Conn
}

// holdPort listens on addr, which a node has just left, and holds every
// connection until close, which the test's end calls too.
func holdPort(t *testing.T, addr string) *heldPort {
	t.Helper()
	var ln net.Listener
	testenv.WaitFor(t, 10*time.Second, "listen on "+addr, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	h := &heldPort{ln: ln, done: make(chan struct{})}
	go h.accept()
	t.Cleanup(h.close)
	return h
}

func (h *heldPort) accept() {
	defer close(h.done)
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
	}
}

// close stops listening and closes every held connection.
func (h *heldPort) close() {
	h.once.Do(func() {
		_ = h.ln.Close()
		<-h.done
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			_ = c.Close()
		}
	})
}

// figures are observerd's resources that a leak would grow.
type figures struct {
	fds, goroutines, redisClients int
}

func (f figures) String() string {
	return fmt.Sprintf("%d open fds, %d goroutines, %d Redis connections", f.fds, f.goroutines, f.redisClients)
}

// settledFigures is the least of each figure over two poll intervals of
// samples: a connection opened for one poll and closed after it is not
// counted, a leaked one is.
func (r *faultRig) settledFigures(t *testing.T) figures {
	t.Helper()
	least := r.figures(t)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(2 * pollInterval); time.Now().Before(end); {
		<-tick.C
		f := r.figures(t)
		least = figures{min(least.fds, f.fds), min(least.goroutines, f.goroutines), min(least.redisClients, f.redisClients)}
	}
	return least
}

func (r *faultRig) figures(t *testing.T) figures {
	t.Helper()
	pid := r.sc.cmd.Process.Pid
	fds, err := procs.OpenFDs(pid)
	if err != nil {
		t.Fatal(err)
	}
	g := parseMetrics(t, r.d.metrics(t))["go_goroutines"]
	if len(g) != 1 {
		t.Fatalf("go_goroutines: %v", g)
	}
	return figures{fds: fds, goroutines: int(g[0].value), redisClients: r.redisClientsOf(t, pid)}
}

// redisClientsOf counts the clients Redis lists (CLIENT LIST) whose
// address is the local end of one of pid's TCP sockets: pid's connections
// as Redis sees them.
func (r *faultRig) redisClientsOf(t *testing.T, pid int) int {
	t.Helper()
	ports, err := procs.TCPLocalPorts(pid)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	list, err := r.c.rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		for _, field := range strings.Fields(line) {
			addr, ok := strings.CutPrefix(field, "addr=")
			port := addr[strings.LastIndexByte(addr, ':')+1:]
			if p, err := strconv.Atoi(port); ok && err == nil && ports[p] {
				n++
			}
		}
	}
	return n
}
