package main

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/readloop"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// reportTimeout bounds how long observerd may take to report a fault: the
// next poll (within an interval) fails at the latest at its deadline; the
// rest is slack for a loaded machine.
const reportTimeout = pollInterval + pollTimeout + 3*time.Second

// fault is one part of the cluster broken for the hold and then repaired.
type fault struct {
	name   string
	inject func() error
	repair func() error
	// seen is nil once a snapshot shows the fault.
	seen func(*snapshot.Snapshot) error
}

// faults is the schedule, run in a loop.
func (c *cluster) faults() []fault {
	victim := c.nodes[1]
	return []fault{{
		name:   "redis frozen (SIGSTOP)",
		inject: func() error { return c.redis.Signal(syscall.SIGSTOP) },
		repair: func() error { return c.redis.Signal(syscall.SIGCONT) },
		seen:   sourceStale(source.Redis),
	}, {
		name:   "redis restarted",
		inject: func() error { c.redis.Stop(); return nil },
		repair: c.startRedis,
		seen:   sourceStale(source.Redis),
	}, {
		name:   "node restarted",
		inject: func() error { victim.child.Stop(); return nil },
		repair: func() error { return c.startNode(victim) },
		seen: func(s *snapshot.Snapshot) error {
			for _, n := range s.Nodes {
				if n.ID == victim.id && !n.Reachable {
					return nil
				}
			}
			return fmt.Errorf("%s not reported unreachable", victim.id)
		},
	}, {
		name:   "prometheus restarted",
		inject: func() error { c.prom.Stop(); return nil },
		repair: c.startPrometheus,
		seen:   sourceStale(source.Prometheus),
	}}
}

func sourceStale(name string) func(*snapshot.Snapshot) error {
	return func(s *snapshot.Snapshot) error {
		if st := s.Sources[name]; st.Status != snapshot.StatusStale || st.Error == "" {
			return fmt.Errorf("source %s is %s", name, st.Status)
		}
		return nil
	}
}

// runFaults applies the schedule in a loop until the deadline, printing a
// line per fault, and returns the faults that were not seen or not
// recovered from. A fault is repaired before the next one; an interrupted
// soak stops every child instead.
func runFaults(ctx context.Context, c *cluster, s settings, deadline time.Time, reads *readloop.Loop, stdout io.Writer) []error {
	var errs []error
	schedule := c.faults()
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		f := schedule[i%len(schedule)]
		line, err := c.apply(ctx, f, s.hold)
		if err != nil {
			errs = append(errs, fmt.Errorf("fault %d (%s): %w", i+1, f.name, err))
			fmt.Fprintf(stdout, "fault %2d %-24s FAILED: %v\n", i+1, f.name, err)
			continue
		}
		fig, err := c.settledFigures(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n := reads.Counts()
		fmt.Fprintf(stdout, "fault %2d %-24s %s | %s | reads %d failed %d\n", i+1, f.name, line, fig, n.Reads(), n.Failed())
		if err := sleepCtx(ctx, s.gap); err != nil {
			break
		}
	}
	return errs
}

// apply injects f, waits for observerd to report it, holds it, repairs it
// and waits for the whole cluster to be back. It describes the timings.
func (c *cluster) apply(ctx context.Context, f fault, hold time.Duration) (string, error) {
	since := time.Now()
	if err := f.inject(); err != nil {
		return "", fmt.Errorf("inject: %w", err)
	}
	// Whatever happens, the fault is repaired before the next one; an
	// interrupted soak stops every child instead (a frozen one is thawed
	// to handle SIGTERM).
	seenErr := c.waitSeen(ctx, f)
	seenAfter := time.Since(since)
	if err := sleepCtx(ctx, max(hold-seenAfter, 0)); err != nil {
		return "", err
	}
	start := time.Now()
	if err := f.repair(); err != nil {
		return "", fmt.Errorf("repair: %w", err)
	}
	if err := c.waitWhole(ctx, recoverTimeout); err != nil {
		return "", fmt.Errorf("not recovered: %w", err)
	}
	if seenErr != nil {
		return "", fmt.Errorf("not reported within %s: %w", reportTimeout, seenErr)
	}
	return fmt.Sprintf("seen after %5s, back %5s after the repair",
		seenAfter.Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond)), nil
}

// waitSeen waits until a snapshot shows f.
func (c *cluster) waitSeen(ctx context.Context, f fault) error {
	return procs.WaitFor(ctx, reportTimeout, f.name+" reported", func() error {
		s, err := c.snapshot()
		if err != nil {
			return err
		}
		return f.seen(s)
	})
}
