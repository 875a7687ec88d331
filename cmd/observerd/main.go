// Command observerd watches a Redis-backed rate limiter cluster and serves
// what it sees on /snapshot and /metrics. `observerd -h` lists its settings.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/common/version"
	goredis "github.com/redis/go-redis/v9"
)

func main() {
	// The Makefile and the Dockerfile set the build's version, revision,
	// branch and date in github.com/prometheus/common/version, the
	// exporters' convention; a plain go build leaves the version empty.
	if version.Version == "" {
		version.Version = "dev"
	}
	// go-redis logs dial failures through a process-wide logger straight
	// to stderr; observerd reports them as the Redis source's status
	// instead, once per change.
	goredis.SetLogger(quietRedisLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		// `observerd check` exits 2 on a critical violation (exitError).
		code, say := exitStatus(err)
		if say {
			fmt.Fprintln(os.Stderr, "observerd:", err)
		}
		os.Exit(code)
	}
}

// quietRedisLogger drops go-redis's own log lines.
type quietRedisLogger struct{}

func (quietRedisLogger) Printf(context.Context, string, ...any) {}
