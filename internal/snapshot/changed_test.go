package snapshot

import (
	"context"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/source"
)

func TestStoreNextWaitsForANewerSnapshot(t *testing.T) {
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

	got := make(chan *Published, 1)
	go func() { got <- s.Next(context.Background(), 1) }()
	select {
	case p := <-got:
		t.Fatalf("Next(1) returned sequence %d before sequence 2 was published", p.Snapshot.Sequence)
	case <-time.After(50 * time.Millisecond):
	}
	update()
	select {
	case p := <-got:
		if p.Snapshot.Sequence != 2 {
			t.Errorf("Next(1) = sequence %d, want 2", p.Snapshot.Sequence)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next(1) did not return after sequence 2 was published")
	}

	if p := s.Next(context.Background(), 0); p == nil || p.Snapshot.Sequence != 2 {
		t.Errorf("Next(0) = %v, want sequence 2 at once", p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p := s.Next(ctx, 2); p != nil {
		t.Errorf("Next(2) with an ended context = sequence %d, want nil", p.Snapshot.Sequence)
	}
}
