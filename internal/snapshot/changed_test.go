package snapshot

import (
	"testing"

	"github.com/observerd/observerd/internal/source"
)

// TestStoreChanged: the channel taken before a publish is closed by it,
// and the one taken after waits for the next.
func TestStoreChanged(t *testing.T) {
	c := &clock{now: t0}
	s := newTestStore(t, c)
	update := func() {
		s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redisSection()})
	}
	ch := s.Changed()
	update()
	select {
	case <-ch:
	default:
		t.Fatal("Changed() was not closed by a publish")
	}
	next := s.Changed()
	select {
	case <-next:
		t.Fatal("Changed() taken after sequence 1 was closed before sequence 2")
	default:
	}
	update()
	select {
	case <-next:
	default:
		t.Fatal("Changed() taken after sequence 1 was not closed by sequence 2")
	}
	if got := s.Load().Snapshot.Sequence; got != 2 {
		t.Errorf("sequence = %d, want 2", got)
	}
}
