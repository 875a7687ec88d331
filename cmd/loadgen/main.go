// Command loadgen sends rate limit checks to rate limiter nodes: a steady
// rate, optional bursts, hot keys and fresh random keys, round robin across
// the targets. It ends after -duration or -count requests or on a signal,
// and prints one line of totals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/observerd/observerd/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// run parses the flags, sends the traffic and prints the totals: one line
// per target on stderr, then the final line on stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	totals, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	for _, target := range cfg.Targets {
		tt, ok := totals.PerTarget[strings.TrimRight(target, "/")]
		if !ok {
			continue
		}
		fmt.Fprintf(stderr, "loadgen: target=%s sent=%d allowed=%d blocked=%d failed=%d\n",
			target, tt.Sent, tt.Allowed, tt.Blocked, tt.Failed)
	}
	if totals.LastError != "" {
		fmt.Fprintf(stderr, "loadgen: last error: %s\n", totals.LastError)
	}
	_, err = fmt.Fprintf(stdout, "loadgen: sent=%d allowed=%d blocked=%d failed=%d\n",
		totals.Sent, totals.Allowed, totals.Blocked, totals.Failed)
	return err
}

// parseFlags turns the command line into a loadgen.Config.
func parseFlags(args []string, stderr io.Writer) (loadgen.Config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      loadgen.Config
		targets  string
		limit    int64
		windowMS int64
	)
	fs.StringVar(&targets, "targets", "http://localhost:8000", "comma-separated node base URLs, used round robin")
	fs.Float64Var(&cfg.Rate, "rate", 10, "steady requests per second (0: bursts only)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: no time bound)")
	fs.Int64Var(&cfg.Count, "count", 0, "stop after this many requests (0: no count bound)")
	fs.DurationVar(&cfg.BurstEvery, "burst-every", 0, "send a burst this often (0: no bursts)")
	fs.IntVar(&cfg.BurstSize, "burst-size", 0, "extra requests per burst")
	fs.Float64Var(&cfg.HotShare, "hot-share", 0, "fraction of requests (0 to 1) sent to the hot keys")
	fs.IntVar(&cfg.HotKeys, "hot-keys", 3, "number of hot keys")
	fs.IntVar(&cfg.Keys, "keys", loadgen.DefaultKeys, "number of regular keys")
	fs.BoolVar(&cfg.FreshKeys, "fresh-keys", false, "send each regular request to a new random key")
	fs.Int64Var(&limit, "limit", -1, "limit sent with each request (negative: leave it to the node)")
	fs.Int64Var(&windowMS, "window-ms", -1, "window in ms sent with each request (negative: leave it to the node)")
	fs.StringVar(&cfg.KeyPrefix, "key-prefix", "loadgen-", "prefix of every key")
	fs.IntVar(&cfg.Concurrency, "concurrency", loadgen.DefaultConcurrency, "requests in flight at most")
	fs.DurationVar(&cfg.Timeout, "timeout", loadgen.DefaultTimeout, "timeout of one request")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the key choice (0: random)")
	if err := fs.Parse(args); err != nil {
		return loadgen.Config{}, err
	}
	if fs.NArg() > 0 {
		return loadgen.Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Targets = append(cfg.Targets, t)
		}
	}
	if limit >= 0 {
		cfg.Limit = &limit
	}
	if windowMS >= 0 {
		cfg.WindowMS = &windowMS
	}
	return cfg, nil
}
