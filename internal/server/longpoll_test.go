package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLongPollAnswersOnPublish(t *testing.T) {
	ls := startLive(t, liveOptions{})
	got := ls.fetchAsync("/snapshot?after=1&wait=30s", nil)
	waitWaiting(t, ls.reg, "/snapshot", 1)
	published := time.Now()
	seq := publish(ls.store)
	a := <-got
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("long-poll: %d %v %s", a.status, a.err, a.body)
	}
	if s := sequenceOf(t, a.body); s != seq {
		t.Errorf("long-poll answered sequence %d, want the new %d", s, seq)
	}
	if !bytes.Equal(a.body, ls.store.Load().JSON) || a.header.Get("ETag") != ls.store.Load().ETag {
		t.Error("long-poll answer is not the published snapshot with its ETag")
	}
	if took := time.Since(published); took > 5*time.Second {
		t.Errorf("long-poll answered %s after the publish", took)
	}
	waitWaiting(t, ls.reg, "/snapshot", 0)
}

// TestLongPollWaits covers the answers that do not wait for a publish,
// or wait for their deadline.
func TestLongPollWaits(t *testing.T) {
	ls := startLive(t, liveOptions{config: func(c *Config) { c.MaxWait = 400 * time.Millisecond }})
	tests := []struct {
		name    string
		give    string
		want    uint64        // sequence answered
		atLeast time.Duration // the answer takes at least this
	}{
		{name: "newer at once", give: "?after=0&wait=30s", want: 1},
		{name: "restarted: above the current", give: "?after=99&wait=30s", want: 1},
		{name: "deadline", give: "?after=1&wait=150ms", want: 1, atLeast: 150 * time.Millisecond},
		{name: "seconds", give: "?after=1&wait=0.2", want: 1, atLeast: 200 * time.Millisecond},
		{name: "no wait", give: "?after=1&wait=0", want: 1},
		{name: "capped at MaxWait", give: "?after=1&wait=1h", want: 1, atLeast: 400 * time.Millisecond},
		{name: "default wait, capped", give: "?after=1", want: 1, atLeast: 400 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ls.fetch("/snapshot"+tt.give, nil)
			if a.err != nil || a.status != http.StatusOK {
				t.Fatalf("%d %v %s", a.status, a.err, a.body)
			}
			if s := sequenceOf(t, a.body); s != tt.want {
				t.Errorf("sequence %d, want %d", s, tt.want)
			}
			if a.took < tt.atLeast || a.took > tt.atLeast+5*time.Second {
				t.Errorf("answered in %s, want %s or a little more", a.took, tt.atLeast)
			}
		})
	}
}

func TestLongPollBadParameters(t *testing.T) {
	h := newTestHandler(t, publishedStore(t))
	tests := []struct {
		give string
		want string // the parameter named
	}{
		{give: "after=x", want: "after"},
		{give: "after=-1", want: "after"},
		{give: "after=", want: "after"},
		{give: "after=1&wait=soon", want: "wait"},
		{give: "after=1&wait=-1s", want: "wait"},
		{give: "after=1&wait=NaN", want: "wait"},
		{give: "wait=10s", want: "wait"},
		{give: "sections=nodes,bogus", want: "sections"},
		{give: "sections=", want: "sections"},
		{give: "after=1&%zz", want: "query"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			rec := serve(h, http.MethodGet, "/snapshot?"+tt.give, nil)
			var body struct {
				Error     string   `json:"error"`
				Parameter string   `json:"parameter"`
				Valid     []string `json:"valid"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("decode %q: %v", rec.Body, err)
			}
			if rec.Code != http.StatusBadRequest || body.Parameter != tt.want || !strings.HasPrefix(body.Error, tt.want+": ") {
				t.Errorf("%d %+v, want 400 naming %s", rec.Code, body, tt.want)
			}
			if tt.want == "sections" && len(body.Valid) == 0 {
				t.Errorf("a bad sections lists no valid ones: %+v", body)
			}
		})
	}
}

// TestLongPollBound: past MaxWaiting, long-polls and streams get 503 at
// once; waiting ones do not count against MaxRequests.
func TestLongPollBound(t *testing.T) {
	ls := startLive(t, liveOptions{config: func(c *Config) { c.MaxWaiting, c.MaxRequests = 2, 1 }})
	first := ls.fetchAsync("/snapshot?after=1&wait=30s", nil)
	_, events, _ := ls.openEvents(t, "/events", nil)
	if _, err := events.nextEvent(); err != nil {
		t.Fatal(err)
	}
	waitWaiting(t, ls.reg, "/snapshot", 1)
	waitWaiting(t, ls.reg, "/events", 1)
	for _, path := range []string{"/snapshot?after=1&wait=30s", "/events"} {
		a := ls.fetch(path, nil)
		if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" || !strings.Contains(string(a.body), "OBSERVERD_WEB_MAX_WAITING") {
			t.Errorf("%s past the bound: %d Retry-After %q %q, want 503 naming OBSERVERD_WEB_MAX_WAITING", path, a.status, a.header.Get("Retry-After"), a.body)
		}
	}
	// The one busy slot is free: the waiting clients hold none.
	for _, path := range []string{"/snapshot", "/snapshot?sections=nodes", "/snapshot?after=0"} {
		if a := ls.fetch(path, nil); a.status != http.StatusOK {
			t.Errorf("%s while clients wait: %d %s", path, a.status, a.body)
		}
	}
	publish(ls.store)
	if a := <-first; a.status != http.StatusOK {
		t.Errorf("the waiting long-poll: %d %s", a.status, a.body)
	}
}

func TestLongPollBeforeFirstSnapshot(t *testing.T) {
	ls := startLive(t, liveOptions{empty: true})
	if a := ls.fetch("/snapshot?after=0&wait=100ms", nil); a.status != http.StatusServiceUnavailable {
		t.Errorf("long-poll with no snapshot at its deadline: %d %s, want 503", a.status, a.body)
	}
	got := ls.fetchAsync("/snapshot?after=0&wait=30s", nil)
	waitWaiting(t, ls.reg, "/snapshot", 1)
	publish(ls.store)
	if a := <-got; a.status != http.StatusOK || sequenceOf(t, a.body) != 1 {
		t.Errorf("long-poll when the first snapshot is published: %d %s", a.status, a.body)
	}
}

// TestLongPollClientGone: the wait ends with the request's context.
func TestLongPollClientGone(t *testing.T) {
	ls := startLive(t, liveOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ls.URL+"/snapshot?after=1&wait=30s", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := ls.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitWaiting(t, ls.reg, "/snapshot", 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled request: %v, want context.Canceled", err)
	}
	waitWaiting(t, ls.reg, "/snapshot", 0)
}

// TestLongPollOutlastsServerTimeouts: a wait longer than the server's
// ReadTimeout and WriteTimeout is answered whole.
func TestLongPollOutlastsServerTimeouts(t *testing.T) {
	ls := startLive(t, liveOptions{server: func(s *http.Server) {
		s.ReadTimeout, s.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	}})
	a := ls.fetch("/snapshot?after=1&wait=1s", nil)
	if a.err != nil || a.status != http.StatusOK || !bytes.Equal(a.body, ls.store.Load().JSON) {
		t.Fatalf("long-poll of 1s past 300ms server timeouts: %d %v %q", a.status, a.err, a.body)
	}
	if a.took < time.Second {
		t.Errorf("answered in %s, before its wait", a.took)
	}
}
