// Package poll runs the per-source pollers: a ticker with the first poll at
// once, a deadline per poll, backoff with jitter after failures, and the
// status of each source. It also holds one poller per source, each turning
// its client's answers into a snapshot section.
package poll

import (
	"context"

	"github.com/observerd/observerd/internal/snapshot"
)

// Poller polls one source once.
type Poller interface {
	// Name is the source name (source.Redis, ...).
	Name() string
	// Poll asks the source once, within ctx's deadline. A nil error means
	// the section is good data; an error means the source failed and the
	// section is ignored.
	Poll(ctx context.Context) (snapshot.Section, error)
}
