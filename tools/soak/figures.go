package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/readloop"
)

// flatness is how much each figure may grow from the start (after the
// warm-up) to the end for the run to pass. Each keep-alive connection
// observerd holds to a node or to Prometheus is one fd and two goroutines,
// and how many it keeps depends on how its last polls overlapped; its Redis
// client keeps at most its pool of 4. The Go heap settles within the
// warm-up; RSS then moves with the garbage collector's pacing by a few
// percent. A leak grows with every fault, dozens of them in five minutes,
// and goes past these.
const (
	goroutineSlack = 10
	fdSlack        = 5
	rssGrowth      = 0.20
	redisConnSlack = 2
)

// figures are what a leak in observerd would grow.
type figures struct {
	rss        int64 // bytes, VmRSS
	goroutines int   // go_goroutines of its /metrics
	fds        int   // entries of /proc/PID/fd
	redisConns int   // its connections, as Redis lists its clients
	clients    int   // every client of Redis (connected_clients), for context
}

func (f figures) String() string {
	return fmt.Sprintf("rss %5.1f MiB, goroutines %3d, fds %3d, redis conns %d (all clients %d)",
		float64(f.rss)/(1<<20), f.goroutines, f.fds, f.redisConns, f.clients)
}

// settledFigures is the least of each figure over two poll intervals of
// samples: a connection opened for one poll and closed after it is not
// counted, a leaked one is.
func (c *cluster) settledFigures(ctx context.Context) (figures, error) {
	least, err := c.figures()
	if err != nil {
		return least, err
	}
	for end := time.Now().Add(2 * pollInterval); time.Now().Before(end); {
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return least, err
		}
		f, err := c.figures()
		if err != nil {
			return least, err
		}
		least = figures{
			rss: min(least.rss, f.rss), goroutines: min(least.goroutines, f.goroutines), fds: min(least.fds, f.fds),
			redisConns: min(least.redisConns, f.redisConns), clients: min(least.clients, f.clients),
		}
	}
	return least, nil
}

func (c *cluster) figures() (figures, error) {
	var f figures
	pid := c.obs.PID()
	var err error
	if f.rss, err = procs.RSS(pid); err != nil {
		return f, err
	}
	if f.fds, err = procs.OpenFDs(pid); err != nil {
		return f, err
	}
	if f.goroutines, err = c.goroutines(); err != nil {
		return f, err
	}
	f.redisConns, f.clients, err = c.redisClients(pid)
	return f, err
}

// goroutines is go_goroutines from observerd's own /metrics.
func (c *cluster) goroutines() (int, error) {
	body, err := c.get(c.obsURL + "/metrics")
	if err != nil {
		return 0, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return 0, fmt.Errorf("parse /metrics: %w", err)
	}
	g := families["go_goroutines"]
	if g == nil || len(g.GetMetric()) != 1 {
		return 0, errors.New("/metrics has no go_goroutines")
	}
	return int(g.GetMetric()[0].GetGauge().GetValue()), nil
}

// redisClients counts the clients Redis lists (CLIENT LIST) whose address
// is the local end of one of pid's sockets, and every client.
func (c *cluster) redisClients(pid int) (mine, all int, err error) {
	ports, err := procs.TCPLocalPorts(pid)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	list, err := c.rdb.ClientList(ctx).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("CLIENT LIST: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		all++
		for _, field := range strings.Fields(line) {
			addr, ok := strings.CutPrefix(field, "addr=")
			port := addr[strings.LastIndexByte(addr, ':')+1:]
			if p, err := strconv.Atoi(port); ok && err == nil && ports[p] {
				mine++
			}
		}
	}
	// The soak's own connection, the one CLIENT LIST came on, is no
	// client of the cluster's.
	return mine, all - 1, nil
}

// judge fails the run when a read failed, the quiet phase or a fault went
// wrong (problems) or a figure grew beyond its slack, and prints why.
func judge(start, end figures, reads readloop.Counts, problems []error, w io.Writer) error {
	var errs []error
	if reads.Failed() > 0 {
		errs = append(errs, fmt.Errorf("%d of %d reads failed", reads.Failed(), reads.Reads()))
	}
	errs = append(errs, problems...)
	grew := func(what string, from, to, slack int) {
		if to > from+slack {
			errs = append(errs, fmt.Errorf("%s grew from %d to %d (slack %d)", what, from, to, slack))
		}
	}
	grew("goroutines", start.goroutines, end.goroutines, goroutineSlack)
	grew("open fds", start.fds, end.fds, fdSlack)
	grew("observerd's Redis connections", start.redisConns, end.redisConns, redisConnSlack)
	if limit := float64(start.rss) * (1 + rssGrowth); float64(end.rss) > limit {
		errs = append(errs, fmt.Errorf("rss grew from %d to %d bytes, more than %.0f%%", start.rss, end.rss, rssGrowth*100))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("not flat or not clean:\n%w", err)
	}
	fmt.Fprintf(w, "flat: goroutines %+d (slack %d), fds %+d (slack %d), redis conns %+d (slack %d), rss %+.1f%% (limit %.0f%%); no read failed\n",
		end.goroutines-start.goroutines, goroutineSlack, end.fds-start.fds, fdSlack,
		end.redisConns-start.redisConns, redisConnSlack, 100*(float64(end.rss)/float64(start.rss)-1), rssGrowth*100)
	return nil
}
