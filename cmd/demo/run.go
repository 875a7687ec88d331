package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// settings are the demo's knobs, from the environment.
type settings struct {
	seconds      time.Duration // 0: until Ctrl-C
	summaryEvery time.Duration
	binDir       string
}

func readSettings(environ []string) (settings, error) {
	s := settings{summaryEvery: 5 * time.Second}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "DEMO_SECONDS":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return s, fmt.Errorf("DEMO_SECONDS: %q is not a whole number of seconds", v)
			}
			s.seconds = time.Duration(n) * time.Second
		case "DEMO_SUMMARY_SECONDS":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return s, fmt.Errorf("DEMO_SUMMARY_SECONDS: %q is not a positive whole number", v)
			}
			s.summaryEvery = time.Duration(n) * time.Second
		case "DEMO_BIN":
			s.binDir = v
		}
	}
	if s.binDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return s, fmt.Errorf("find the demo's own directory: %w", err)
		}
		s.binDir = filepath.Dir(exe)
	}
	return s, nil
}

// run starts the cluster and observerd, reports until ctx ends or the
// demo's time is up, then stops everything it started.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stdout, "Usage: demo\n\nRuns redis-server, three rate limiter nodes, Prometheus, a load generator and\nobserverd on loopback ports. Environment: DEMO_SECONDS (stop after N seconds;\n0 or unset: at Ctrl-C), DEMO_SUMMARY_SECONDS (summary interval, default 5),\nDEMO_BIN (where observerd, ratelimiterd and loadgen are; default: beside demo).\n")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	set, err := readSettings(environ)
	if err != nil {
		return err
	}
	bins, err := procs.FindPrograms(set.binDir)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "observerd-demo-")
	if err != nil {
		return err
	}
	g := procs.NewGroup(dir)
	defer func() {
		fmt.Fprintln(stdout, "stopping everything the demo started ...")
		if err := g.StopAll(); err != nil {
			fmt.Fprintln(stdout, err)
		}
		fmt.Fprintf(stdout, "stopped; logs are in %s\n", dir)
	}()

	if set.seconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, set.seconds)
		defer cancel()
	}
	c, err := startCluster(ctx, g, bins, stdout)
	if err != nil {
		return err
	}
	b := banner{c: c, observerd: bins.Observerd}
	if wd, err := os.Getwd(); err == nil {
		b.observerd = relPath(bins.Observerd, wd)
	}
	b.prom, b.promErr = findPromLinks(ctx, c.prometheus)
	b.write(stdout)
	if err := watch(ctx, c.observerd, set.summaryEvery, g.Died(), stdout); err != nil {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fmt.Fprintf(stdout, "DEMO_SECONDS=%d passed\n", int(set.seconds.Seconds()))
	}
	return nil
}

// watch prints a summary line every interval and reports every process that
// arrives on died at once, until ctx ends or a death ends the demo.
func watch(ctx context.Context, observerd string, every time.Duration, died <-chan *procs.Child, w io.Writer) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	printSummary(ctx, observerd, w)
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-died:
			if err := reportExit(w, c); err != nil {
				return err
			}
		case <-tick.C:
			printSummary(ctx, observerd, w)
		}
	}
}
