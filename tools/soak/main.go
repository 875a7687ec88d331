// Command soak runs a real rate limiter cluster for minutes (redis-server,
// three bin/ratelimiterd nodes, prometheus scraping them, bin/loadgen load
// and bin/observerd watching it all) while a reader fetches /snapshot and
// /metrics without pause. After a warm-up comes a quiet phase: the healthy
// cluster under the load generator's mixes (hot keys, bursts, fresh keys)
// with no fault injected and one node restarted gracefully, during which
// observerd must report no violation (see quietPhase). Then a loop of
// faults breaks and repairs its parts. It prints observerd's RSS,
// goroutines, open fds and Redis connections before the faults, after
// every fault and at the end, and exits non-zero when observerd reported
// anything on the healthy cluster, any read failed, a fault was not seen
// or not recovered from, or the end figures are not flat (see flatness).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/readloop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
	}
}

// settings are the command line.
type settings struct {
	duration time.Duration // the whole run but the quiet phase, warm-up included
	warmup   time.Duration
	quiet    time.Duration // the quiet phase, after the warm-up; 0: none
	hold     time.Duration // how long each fault lasts
	gap      time.Duration // a healthy pause between two faults
	bin      string
}

func parseFlags(args []string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s settings
	fs.DurationVar(&s.duration, "duration", 5*time.Minute, "how long the run lasts besides the quiet phase: the warm-up and the loop of faults")
	fs.DurationVar(&s.warmup, "warmup", 30*time.Second, "how long the cluster runs under load before the quiet phase")
	fs.DurationVar(&s.quiet, "quiet", 10*time.Minute, "how long the healthy cluster runs under the load generator's mixes, one node restarted, with no violation allowed, before the faults (0: no quiet phase)")
	fs.DurationVar(&s.hold, "hold", 5*time.Second, "how long each fault lasts; above observerd's poll deadline ("+pollTimeout.String()+")")
	fs.DurationVar(&s.gap, "gap", 5*time.Second, "healthy time between two faults")
	fs.StringVar(&s.bin, "bin", "../bin", "directory of observerd, ratelimiterd and loadgen (make build)")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.hold <= pollTimeout {
		return s, fmt.Errorf("-hold %s must exceed observerd's poll deadline %s, or a frozen Redis is never seen", s.hold, pollTimeout)
	}
	if s.duration <= s.warmup {
		return s, fmt.Errorf("-duration %s leaves no time after the -warmup %s", s.duration, s.warmup)
	}
	if least := minQuiet(); s.quiet != 0 && s.quiet < least {
		return s, fmt.Errorf("-quiet %s is shorter than the longest grace period, %s: a condition that holds all along could not be reported within it (0 skips the quiet phase)", s.quiet, least)
	}
	return s, nil
}

// run is the soak. It returns an error when the run failed its checks.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	bins, err := procs.FindPrograms(s.bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "observerd-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	g := procs.NewGroup(dir)
	defer g.StopAll()
	started := time.Now()
	c, err := startCluster(ctx, g, bins)
	if err != nil {
		return err
	}
	defer c.close()
	fmt.Fprintf(stdout, "cluster up in %s: observerd %s (pid %d), redis %s, prometheus %s\n",
		time.Since(started).Round(time.Millisecond), c.obsURL, c.obs.PID(), c.redisAddr(), c.promURL)
	reads, err := startReads(ctx, c.obsURL)
	if err != nil {
		return err
	}
	defer reads.Stop()
	return soak(ctx, c, s, started, reads, stdout)
}

// soak warms up, runs the quiet phase, takes the start figures, runs
// faults until the end of the run, takes the end figures and judges them
// with what the quiet phase found.
func soak(ctx context.Context, c *cluster, s settings, started time.Time, reads *readloop.Loop, stdout io.Writer) error {
	if err := sleepCtx(ctx, s.warmup); err != nil {
		return err
	}
	if err := c.waitWhole(ctx, recoverTimeout); err != nil {
		return fmt.Errorf("after the warm-up: %w", err)
	}
	var quietErrs []error
	deadline := started.Add(s.duration)
	if s.quiet > 0 {
		began := time.Now()
		var err error
		if quietErrs, err = c.quietPhase(ctx, s.quiet, stdout); err != nil {
			return errors.Join(append(quietErrs, err)...)
		}
		deadline = deadline.Add(time.Since(began))
		if err := c.waitWhole(ctx, recoverTimeout); err != nil {
			return fmt.Errorf("after the quiet phase: %w", err)
		}
	}
	start, err := c.settledFigures(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "start  %s\n", start)
	faultErrs := runFaults(ctx, c, s, deadline, reads, stdout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := c.waitWhole(ctx, recoverTimeout); err != nil {
		return fmt.Errorf("at the end: %w", err)
	}
	end, err := c.settledFigures(ctx)
	if err != nil {
		return err
	}
	n := reads.Counts()
	fmt.Fprintf(stdout, "end    %s\n", end)
	fmt.Fprintf(stdout, "reads  %d /snapshot, %d /metrics, %d failed\n", n.Snapshot.Reads, n.Metrics.Reads, n.Failed())
	for _, f := range n.Failures {
		fmt.Fprintf(stdout, "  failed read: %s\n", f)
	}
	return judge(start, end, n, append(quietErrs, faultErrs...), stdout)
}

// sleepCtx waits for d to pass: the soak's warm-up and fault holds are
// spans of time under load, not waits for a condition.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
