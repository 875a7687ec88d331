// Command bench measures observerd beside a baseline for every figure, all
// in one run, and writes one table: the Redis poll against a minimal loop
// and redis_exporter, Redis's cost of being observed and the rate
// limiter's latency while it is, /snapshot throughput against a bare
// handler, /metrics render time and the daemon's memory. It starts its own
// redis-server, ratelimiterd, observerd processes and redis_exporter on
// loopback ports and stops all of them on every exit. `make bench` runs it
// after `make build`; `go run ./bench -quick` in tools/ is a small run for
// development.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// settings are the sizes and durations of one run.
type settings struct {
	out, bin     string
	quick        bool
	keys         []int         // keyspace sizes of part a, ascending
	renderSmall  int           // smaller keyspace of part d
	pollRuns     int           // timed polls per size
	statsWindow  time.Duration // part b: commandstats measurement window
	statsEvery   time.Duration // part b: poll interval of the observers
	loadDuration time.Duration // part b: one latency run, over 10 s: two walks of the default sidecars
	loadRate     float64       // part b: /check requests per second
	wrkDuration  time.Duration // part c: one wrk run
	wrkRounds    int           // part c: ABBA rounds
	renderRuns   int           // part d: timed renders
	only         string        // "f": part f alone, in process
}

func parseFlags(args []string, stderr io.Writer) (settings, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "also write the table to this Markdown file (bench/RESULTS.md)")
	bin := fs.String("bin", "../bin", "directory holding observerd and ratelimiterd (make build)")
	quick := fs.Bool("quick", false, "small sizes and short runs, for development")
	only := fs.String("only", "", "f: measure part f (the history's memory, in process, a few seconds) alone, without Redis or the binaries")
	keys := fs.String("keys", "", "comma-separated keyspace sizes of the Redis poll (default 10000,100000,1000000; -quick 1000,5000,20000); "+
		"the Redis cost, latency and 100k-key figures use the second largest, memory also the largest")
	if err := fs.Parse(args); err != nil {
		return settings{}, err
	}
	s := fullSettings()
	if *quick {
		s = quickSettings()
	}
	s.out, s.quick, s.only = *out, *quick, *only
	if s.only != "" && s.only != "f" {
		return s, fmt.Errorf("-only: %q is not a part that runs alone (f)", s.only)
	}
	// Children run in the temp dir: the binaries need an absolute path.
	var err error
	if s.bin, err = filepath.Abs(*bin); err != nil {
		return s, err
	}
	if *keys != "" {
		if s.keys, err = parseKeys(*keys); err != nil {
			return s, err
		}
	}
	s.renderSmall = min(s.renderSmall, s.keys[0])
	return s, nil
}

func fullSettings() settings {
	return settings{
		keys: []int{10_000, 100_000, 1_000_000}, renderSmall: 1000, pollRuns: 5,
		statsWindow: 10 * time.Second, statsEvery: time.Second,
		loadDuration: 20 * time.Second, loadRate: 200,
		wrkDuration: 5 * time.Second, wrkRounds: 1, renderRuns: 50,
	}
}

func quickSettings() settings {
	return settings{
		keys: []int{1000, 5000, 20_000}, renderSmall: 1000, pollRuns: 3,
		statsWindow: 3 * time.Second, statsEvery: time.Second,
		loadDuration: 11 * time.Second, loadRate: 200,
		wrkDuration: time.Second, wrkRounds: 1, renderRuns: 50,
	}
}

// parseKeys reads "10000,100000" into ascending distinct sizes.
func parseKeys(v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-keys: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// mid is the keyspace of parts b, d and e: the second largest size.
func (s settings) mid() int { return s.keys[max(0, len(s.keys)-2)] }

// largest is the largest keyspace.
func (s settings) largest() int { return s.keys[len(s.keys)-1] }

func main() { os.Exit(run(os.Args[1:])) }

// run is the bench; it returns the exit code after every child is stopped
// and the temp dir removed.
func run(args []string) int {
	s, err := parseFlags(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "observerd-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	p := procs.NewGroup(dir)
	defer p.StopAll()
	b := &bench{s: s, p: p, t: &table{}, h: header{started: time.Now(), cpu: cpuModel(), mode: mode(s)}}
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if b.t.failed > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d measurements failed, see the table\n", b.t.failed)
		return 1
	}
	return 0
}

// mode describes the run's sizes for the header.
func mode(s settings) string {
	name := "full"
	if s.quick {
		name = "quick"
	}
	sizes := make([]string, len(s.keys))
	for i, k := range s.keys {
		sizes[i] = fmtKeys(k)
	}
	return fmt.Sprintf("%s (keyspaces %s)", name, strings.Join(sizes, ", "))
}

// checkBinaries fails early when make build has not run.
func checkBinaries(bin string) error {
	for _, name := range []string{"observerd", "ratelimiterd"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return fmt.Errorf("%s not built: run make build first (%w)", filepath.Join(bin, name), err)
		}
	}
	return nil
}
