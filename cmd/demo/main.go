// Command demo runs a live rate limiter cluster and observerd watching it,
// all on loopback ports: redis-server, three reference nodes, Prometheus
// scraping them, a load generator and observerd. It prints the URLs to
// open and a summary line every few seconds, and stops everything it
// started on Ctrl-C or after DEMO_SECONDS seconds. `make demo` runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
