package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// liveSnapshots is how many new snapshots each live client must see; the
// sidecar publishes after every poll of each source, several a second.
const liveSnapshots = 5

// TestLiveDashboards follows a real cluster as a browser dashboard would:
// one client long-polls /snapshot?after=, another streams /events, each
// from an allowed origin. Both see new snapshots in increasing order, and
// observerd stops at once with a stream still open.
func TestLiveDashboards(t *testing.T) {
	const origin = "https://dash.example"
	c := startCluster(t, clusterOptions{nodes: 2})
	d := startDaemon(t, c.observerdEnv("OBSERVERD_CORS_ORIGINS="+origin)...)
	d.waitReady(t, 30*time.Second)

	t.Run("long-poll", func(t *testing.T) {
		var seqs []uint64
		deadline := time.Now().Add(30 * time.Second)
		for len(seqs) <= liveSnapshots && time.Now().Before(deadline) {
			after := uint64(0)
			if len(seqs) > 0 {
				after = seqs[len(seqs)-1]
			}
			doc, header := longPoll(t, d.URL, after, "nodes,violations", origin)
			if doc.Sequence <= after {
				t.Fatalf("after=%d answered sequence %d, want a newer one (seen %v)", after, doc.Sequence, seqs)
			}
			if !slices.Equal(doc.keys, []string{"generated_at", "nodes", "schema_version", "sequence", "violations"}) {
				t.Errorf("sections=nodes,violations answered fields %v", doc.keys)
			}
			if got := header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %s", got, origin)
			}
			seqs = append(seqs, doc.Sequence)
		}
		if len(seqs) <= liveSnapshots {
			t.Fatalf("saw %d snapshots in 30s (%v), want %d new ones", len(seqs), seqs, liveSnapshots)
		}
		t.Logf("long-poll saw sequences %v", seqs)
	})

	t.Run("events", func(t *testing.T) {
		ids := readEvents(t, d.URL, origin, liveSnapshots+1)
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("event ids %v: want strictly increasing", ids)
			}
		}
		t.Logf("/events sent ids %v", ids)
	})

	t.Run("client of an older observerd", func(t *testing.T) {
		// A dashboard that saw sequences of an observerd since restarted
		// asks after one far ahead of the current: answered at once.
		start := time.Now()
		if code := longPollStatus(d.URL, d.snapshot(t).Sequence+1000); code != http.StatusOK {
			t.Errorf("long-poll after a sequence ahead of the current: %d", code)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("long-poll after a sequence ahead of the current took %s", took)
		}
	})

	t.Run("stop with a stream open", func(t *testing.T) {
		stream := openStream(t, d.URL)
		start := time.Now()
		if err := d.stop(); err != nil {
			t.Errorf("observerd stop with a stream open: %v", err)
		}
		// Without ending the stream, the shutdown would wait its 3 s.
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("observerd took %s to stop with a stream open", took)
		}
		if _, err := io.Copy(io.Discard, stream); err != nil {
			t.Errorf("the stream did not end cleanly: %v", err)
		}
	})
}

// liveDoc is what a live client reads of a snapshot.
type liveDoc struct {
	Sequence uint64 `json:"sequence"`
	keys     []string
}

// longPoll GETs /snapshot?after=&sections= from origin, waiting up to 10 s.
func longPoll(t *testing.T, base string, after uint64, sections, origin string) (liveDoc, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	url := fmt.Sprintf("%s/snapshot?after=%d&wait=10s&sections=%s", base, after, sections)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, body)
	}
	var doc liveDoc
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	for k := range fields {
		doc.keys = append(doc.keys, k)
	}
	slices.Sort(doc.keys)
	return doc, resp.Header
}

// longPollStatus long-polls /snapshot after seq and returns the status,
// or 0 when the request failed.
func longPollStatus(base string, seq uint64) int {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/snapshot?after="+strconv.FormatUint(seq, 10)+"&wait=10s", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// readEvents reads n snapshot events from /events and returns their ids.
func readEvents(t *testing.T, base, origin string, n int) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("/events: %d, Content-Type %q, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Access-Control-Allow-Origin"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	var ids []uint64
	var id uint64
	for len(ids) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			if id, err = strconv.ParseUint(strings.TrimPrefix(line, "id: "), 10, 64); err != nil {
				t.Fatalf("event id line %q", line)
			}
		case strings.HasPrefix(line, "data: "):
			var doc liveDoc
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &doc); err != nil || doc.Sequence != id {
				t.Fatalf("event %d carries sequence %d (%v)", id, doc.Sequence, err)
			}
			ids = append(ids, id)
		}
	}
	if len(ids) < n {
		t.Fatalf("%d events before the stream ended (%v): %v", len(ids), sc.Err(), ids)
	}
	return ids
}

// openStream opens /events and reads its first event; the body is
// closed when the test ends.
func openStream(t *testing.T, base string) io.Reader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before its first event: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			return r
		}
	}
}
