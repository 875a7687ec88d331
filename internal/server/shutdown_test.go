package server

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/testenv"
)

// TestServeShutdownEndsWaitingClients: with a long-poll and an /events
// stream open, Serve returns as soon as it is cancelled, not at the end
// of its shutdown timeout. The long-poll is answered with the current
// snapshot; the stream ends.
func TestServeShutdownEndsWaitingClients(t *testing.T) {
	const shutdownTimeout = 10 * time.Second
	ls := startLive(t, liveOptions{shutdownTimeout: shutdownTimeout})
	poll := ls.fetchAsync("/snapshot?after=1&wait=60s", nil)
	_, events, _ := ls.openEvents(t, "/events", nil)
	if _, err := events.nextEvent(); err != nil {
		t.Fatal(err)
	}
	waitWaiting(t, ls.reg, "/snapshot", 1)
	waitWaiting(t, ls.reg, "/events", 1)

	took, err := ls.stop()
	if err != nil {
		t.Errorf("Serve with waiting clients: %v", err)
	}
	if took > 2*time.Second {
		t.Errorf("Serve took %s to return with waiting clients, want well under its %s timeout", took, shutdownTimeout)
	}
	if a := <-poll; a.err != nil || a.status != http.StatusOK || sequenceOf(t, a.body) != 1 {
		t.Errorf("the long-poll at shutdown: %d %v %s, want 200 with the current snapshot", a.status, a.err, a.body)
	}
	for {
		if _, err := events.next(); err != nil {
			break // the stream ended
		}
	}
}

// TestLiveOverHTTP2: over TLS with HTTP/2, where the server's
// WriteTimeout is a timer per stream, a long-poll and a stream outlast
// it, and shutdown still ends them at once.
func TestLiveOverHTTP2(t *testing.T) {
	const user, password = "sre", "Wr0ngHorseBattery"
	ca := testenv.NewCA(t)
	ls := startLive(t, liveOptions{
		webConfig: webConfig(t, ca, user, password),
		ca:        ca,
		config:    func(c *Config) { c.Heartbeat = 100 * time.Millisecond },
		server:    func(s *http.Server) { s.WriteTimeout = 300 * time.Millisecond },
	})
	auth := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
	resp, events, _ := ls.openEvents(t, "/events", auth)
	if resp.ProtoMajor != 2 {
		t.Fatalf("/events over %s, want HTTP/2", resp.Proto)
	}
	if _, err := events.nextEvent(); err != nil {
		t.Fatal(err)
	}
	a := ls.fetch("/snapshot?after=1&wait=1s", auth)
	if a.err != nil || a.status != http.StatusOK || a.proto != "HTTP/2.0" || a.took < time.Second {
		t.Fatalf("long-poll of 1s past a 300ms WriteTimeout: %s %d %v in %s", a.proto, a.status, a.err, a.took)
	}
	seq := publish(ls.store)
	ev, err := events.nextEvent()
	if err != nil || ev.ID != strconv.FormatUint(seq, 10) {
		t.Fatalf("event after 1s: %+v, %v; want snapshot %d", ev, err, seq)
	}
	poll := ls.fetchAsync("/snapshot?after="+strconv.FormatUint(seq, 10)+"&wait=60s", auth)
	waitWaiting(t, ls.reg, "/snapshot", 1)
	if took, err := ls.stop(); err != nil || took > 2*time.Second {
		t.Errorf("Serve returned after %s: %v", took, err)
	}
	if a := <-poll; a.status != http.StatusOK {
		t.Errorf("the long-poll at shutdown: %d %v", a.status, a.err)
	}
}
