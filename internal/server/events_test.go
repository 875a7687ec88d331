package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

func TestEventsFormatAndOrder(t *testing.T) {
	ls := startLive(t, liveOptions{})
	resp, events, _ := ls.openEvents(t, "/events", nil)
	headers := map[string]string{}
	for _, k := range []string{"Content-Type", "Cache-Control", "X-Accel-Buffering"} {
		headers[k] = resp.Header.Get(k)
	}
	if diff := cmp.Diff(map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}, headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	first, err := events.next()
	if err != nil || first.Retry != "2000" {
		t.Fatalf("first block %+v, %v; want the retry hint", first, err)
	}
	p := ls.store.Load()
	ev, err := events.nextEvent()
	if err != nil {
		t.Fatal(err)
	}
	if want := (sseBlock{ID: "1", Event: "snapshot", Data: string(p.JSON)}); !cmp.Equal(want, ev) {
		t.Errorf("first event (-want +got):\n%s", cmp.Diff(want, ev))
	}
	// Publish while the client reads: it sees strictly increasing ids,
	// up to the last published, and may skip some.
	var last uint64
	for range 5 {
		last = publish(ls.store)
	}
	var ids []uint64
	for len(ids) == 0 || ids[len(ids)-1] < last {
		ev, err := events.nextEvent()
		if err != nil {
			t.Fatalf("after ids %v: %v", ids, err)
		}
		id, err := strconv.ParseUint(ev.ID, 10, 64)
		if err != nil || ev.Event != "snapshot" || sequenceOf(t, []byte(ev.Data)) != id {
			t.Fatalf("event %+v: id is not its snapshot's sequence", ev)
		}
		ids = append(ids, id)
	}
	prev := uint64(1)
	for _, id := range ids {
		if id <= prev {
			t.Errorf("ids %v after 1: want strictly increasing", ids)
			break
		}
		prev = id
	}
}

// TestEventsSlowClientSkips: a client that reads nothing while many
// large snapshots are published, far more than the socket buffers hold,
// is then sent the newest, not every one.
func TestEventsSlowClientSkips(t *testing.T) {
	const publishes = 150
	ls := startLive(t, liveOptions{})
	_, events, _ := ls.openEvents(t, "/events", nil)
	if _, err := events.nextEvent(); err != nil {
		t.Fatal(err)
	}
	sec := &snapshot.RedisSection{}
	for i := range 3000 {
		sec.Blocks = append(sec.Blocks, snapshot.Block{Key: fmt.Sprintf("slow-client-key-%08d-%s", i, strings.Repeat("x", 24)), Count: 100, Limit: 10})
	}
	var last uint64
	for range publishes {
		now := time.Now()
		ls.store.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: sec})
		last = ls.store.Load().Snapshot.Sequence
	}
	t.Logf("%d publishes of %d bytes", publishes, len(ls.store.Load().JSON))
	n := 0
	for {
		ev, err := events.nextEvent()
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ev.ID == strconv.FormatUint(last, 10) {
			break
		}
	}
	if n >= publishes {
		t.Errorf("%d events for %d publishes: the slow client was sent every one", n, publishes)
	}
	t.Logf("%d events for %d publishes", n, publishes)
}

func TestEventsLastEventID(t *testing.T) {
	ls := startLive(t, liveOptions{})
	tests := []struct {
		name string
		give string
		want string // id of the first event
	}{
		{name: "none", give: "", want: "1"},
		{name: "older", give: "0", want: "1"},
		{name: "restarted: above the current", give: "99", want: "1"},
		{name: "not a number", give: "x", want: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, events, _ := ls.openEvents(t, "/events", map[string]string{"Last-Event-ID": tt.give})
			ev, err := events.nextEvent()
			if err != nil || ev.ID != tt.want {
				t.Errorf("first event id %q, %v; want %s", ev.ID, err, tt.want)
			}
		})
	}
	t.Run("current", func(t *testing.T) {
		_, events, _ := ls.openEvents(t, "/events", map[string]string{"Last-Event-ID": "1"})
		waitWaiting(t, ls.reg, "/events", 1)
		seq := publish(ls.store)
		ev, err := events.nextEvent()
		if err != nil || ev.ID != strconv.FormatUint(seq, 10) {
			t.Errorf("first event id %q, %v; want the next snapshot, %d", ev.ID, err, seq)
		}
	})
}

func TestEventsHeartbeat(t *testing.T) {
	ls := startLive(t, liveOptions{config: func(c *Config) { c.Heartbeat = 20 * time.Millisecond }})
	_, events, _ := ls.openEvents(t, "/events", nil)
	for {
		b, err := events.next()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(b.Comments, "keep-alive") {
			return
		}
	}
}

// TestEventsOutlastServerTimeouts: a stream lives past the server's
// WriteTimeout, and so does its heartbeat.
func TestEventsOutlastServerTimeouts(t *testing.T) {
	ls := startLive(t, liveOptions{
		config: func(c *Config) { c.Heartbeat = 100 * time.Millisecond },
		server: func(s *http.Server) { s.ReadTimeout, s.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond },
	})
	_, events, _ := ls.openEvents(t, "/events", nil)
	start := time.Now()
	beats := 0
	for time.Since(start) < time.Second {
		b, err := events.next()
		if err != nil {
			t.Fatalf("after %s and %d heartbeats: %v", time.Since(start), beats, err)
		}
		beats += len(b.Comments)
	}
	seq := publish(ls.store)
	ev, err := events.nextEvent()
	if err != nil || ev.ID != strconv.FormatUint(seq, 10) {
		t.Errorf("event after 1s: %+v, %v; want snapshot %d", ev, err, seq)
	}
}

func TestEventsSections(t *testing.T) {
	ls := startLive(t, liveOptions{})
	_, events, _ := ls.openEvents(t, "/events?sections=nodes,violations", nil)
	ev, err := events.nextEvent()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(ev.Data), &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(doc)), []string{"generated_at", "nodes", "schema_version", "sequence", "violations"}; !cmp.Equal(want, got) {
		t.Errorf("event fields %v, want %v", got, want)
	}
	if a := ls.fetch("/events?sections=bogus", nil); a.status != http.StatusBadRequest {
		t.Errorf("/events?sections=bogus: %d %s, want 400", a.status, a.body)
	}
}

func TestEventsCORSAndHEAD(t *testing.T) {
	ls := startLive(t, liveOptions{})
	resp, events, _ := ls.openEvents(t, "/events", map[string]string{"Origin": "https://dash.example"})
	if _, err := events.nextEvent(); err != nil {
		t.Fatal(err)
	}
	if got := []string{resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Vary")}; !cmp.Equal(got, []string{"https://dash.example", "Origin"}) {
		t.Errorf("Access-Control-Allow-Origin, Vary = %q", got)
	}
	other, _, _ := ls.openEvents(t, "/events", map[string]string{"Origin": "https://evil.example"})
	if got := other.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("another origin got Access-Control-Allow-Origin %q", got)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodHead, ls.URL+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	head, err := ls.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK || head.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD /events: %d %q", head.StatusCode, head.Header.Get("Content-Type"))
	}
}
