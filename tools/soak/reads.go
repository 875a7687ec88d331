package main

import (
	"context"
	"time"

	"github.com/observerd/observerd/internal/readloop"
)

const (
	// readEvery spaces the reader's rounds, one /snapshot and one
	// /metrics each: about ten of each per second, a busy dashboard.
	readEvery = 100 * time.Millisecond
	// readTimeout is how long one read may take before it counts as
	// failed.
	readTimeout = 5 * time.Second
)

// startReads starts the soak's reader on base: it fetches /snapshot and
// /metrics in turn until stopped or until ctx ends, counting every read
// and every failure.
func startReads(ctx context.Context, base string) (*readloop.Loop, error) {
	return readloop.Start(ctx, readloop.Config{URL: base, Every: readEvery, Timeout: readTimeout})
}
