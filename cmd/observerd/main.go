// Command observerd watches a Redis-backed rate limiter cluster and serves
// what it sees on /snapshot and /metrics. `observerd -h` lists its settings.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	goredis "github.com/redis/go-redis/v9"
)

// version and commit are set at build time with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	// go-redis logs dial failures through a process-wide logger straight
	// to stderr; observerd reports them as the Redis source's status
	// instead, once per change.
	goredis.SetLogger(quietRedisLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "observerd:", err)
		os.Exit(1)
	}
}

// quietRedisLogger drops go-redis's own log lines.
type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}
