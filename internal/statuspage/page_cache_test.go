package statuspage

import (
	"sync"
	"testing"
	"time"
)

// TestPageReusedWithinASecond: a crowd on / costs one render per snapshot
// and second; a new snapshot is shown at once.
func TestPageReusedWithinASecond(t *testing.T) {
	f := newFixture(t)
	p := newTestPage(f, Options{})
	f.publishAll()
	// Rendered at .6 s, then asked at 1.2 s: a new render would show
	// another second.
	f.clock.Add(600 * time.Millisecond)
	first := body(t, p)
	f.clock.Add(600 * time.Millisecond)
	if got := body(t, p); got != first {
		t.Error("the page of the same snapshot was rendered again within a second")
	}
	f.clock.Add(500 * time.Millisecond)
	second := body(t, p)
	if second == first {
		t.Error("the page was reused after a second: its ages would be stale")
	}
	f.publish()
	if got := body(t, p); got == second {
		t.Error("a new snapshot was not shown at once")
	}
}

func TestPageCrowd(t *testing.T) {
	f := newFixture(t)
	p := newTestPage(f, Options{})
	f.publishAll()
	want := body(t, p)
	var wg sync.WaitGroup
	got := make([]string, 32)
	for i := range got {
		wg.Go(func() { got[i] = body(t, p) })
	}
	wg.Wait()
	for i, b := range got {
		if b != want {
			t.Errorf("request %d got another page than the one rendered for this snapshot and second", i)
		}
	}
}
