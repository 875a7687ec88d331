// Package readloop reads an observerd the way a busy dashboard does: it
// fetches /snapshot and /metrics in turn until stopped, checks every answer
// and counts the reads and the failures of each path. The fault tests and
// the soak run one beside the faults they inject.
package readloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/observerd/observerd/internal/snapshot"
)

// The paths a loop reads, in this order every round.
const (
	PathSnapshot = "/snapshot"
	PathMetrics  = "/metrics"
)

// MaxFailures bounds the failed reads a loop keeps the description of:
// the first ones tell what broke, the count tells how often.
const MaxFailures = 10

// maxBody bounds the body of one answer, far above any snapshot or
// exposition observerd serves: a bigger one is a failed read, not memory
// the loop keeps growing.
const maxBody = 64 << 20

// maxHeaderBytes bounds the headers of one answer, as observerd's own
// clients do.
const maxHeaderBytes = 64 << 10

// ErrConfig is wrapped by the errors Start returns for a bad Config.
var ErrConfig = errors.New("readloop: bad config")

// Config is what a loop reads and how often.
type Config struct {
	// URL is observerd's base URL, such as http://127.0.0.1:8080.
	URL string
	// Every spaces the rounds, one read of each path each.
	Every time.Duration
	// Timeout bounds one read; a slower one is a failed read.
	Timeout time.Duration
	// Check, when set, is called on every snapshot that decodes. A
	// snapshot it returns an error for is a failed /snapshot read.
	Check func(*snapshot.Snapshot) error
}

// Validate reports a Config Start cannot run.
func (c Config) Validate() error {
	switch {
	case c.URL == "":
		return fmt.Errorf("%w: no URL", ErrConfig)
	case c.Every <= 0:
		return fmt.Errorf("%w: every %s must be positive", ErrConfig, c.Every)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: timeout %s must be positive", ErrConfig, c.Timeout)
	}
	return nil
}

// PathCounts is what a loop saw of one path.
type PathCounts struct {
	// Reads counts the reads that got an answer or failed; a read cut
	// short by Stop is not one.
	Reads int
	// Failed counts the reads that did not answer 200, whose body did
	// not parse or whose snapshot Check rejected.
	Failed int
}

// Counts is what a loop saw so far.
type Counts struct {
	Snapshot, Metrics PathCounts
	// Failures describes the first MaxFailures failed reads, oldest
	// first, each with its time and path.
	Failures []string
}

// Reads counts the reads of every path.
func (c Counts) Reads() int { return c.Snapshot.Reads + c.Metrics.Reads }

// Failed counts the failed reads of every path.
func (c Counts) Failed() int { return c.Snapshot.Failed + c.Metrics.Failed }

// Loop is a running reader. Stop it once done with it.
type Loop struct {
	cfg    Config
	client *http.Client
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop's goroutine ends

	mu sync.Mutex // guards n: the loop writes it, Counts reads it
	n  Counts
}

// Start validates cfg and starts reading. The loop runs until Stop or
// until ctx ends.
func Start(ctx context.Context, cfg Config) (*Loop, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	// A transport of its own: Stop closes the loop's idle connections,
	// not those of everyone sharing the default one.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = maxHeaderBytes
	l := &Loop{
		cfg:    cfg,
		client: &http.Client{Transport: t, Timeout: cfg.Timeout},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go l.run(ctx)
	return l, nil
}

// Stop ends the loop, waits for it, closes its connections and returns
// its counts. Calling it again returns the same counts.
func (l *Loop) Stop() Counts {
	l.cancel()
	<-l.done
	l.client.CloseIdleConnections()
	return l.Counts()
}

// Counts is a copy of the counts so far.
func (l *Loop) Counts() Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.n
	n.Failures = slices.Clone(l.n.Failures)
	return n
}

func (l *Loop) run(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(l.cfg.Every)
	defer tick.Stop()
	for {
		for _, path := range []string{PathSnapshot, PathMetrics} {
			body, err := l.fetch(ctx, path)
			if ctx.Err() != nil {
				// Given up by Stop, not failed by observerd.
				return
			}
			if err == nil {
				err = l.check(path, body)
			}
			l.record(path, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check parses the body of path: a text exposition, or a snapshot that it
// hands to Check.
func (l *Loop) check(path string, body []byte) error {
	if path == PathMetrics {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := parser.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		return nil
	}
	var s snapshot.Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if l.cfg.Check == nil {
		return nil
	}
	return l.cfg.Check(&s)
}

// record counts one read of path, failed when err is not nil.
func (l *Loop) record(path string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &l.n.Metrics
	if path == PathSnapshot {
		p = &l.n.Snapshot
	}
	p.Reads++
	if err == nil {
		return
	}
	p.Failed++
	if len(l.n.Failures) < MaxFailures {
		l.n.Failures = append(l.n.Failures, fmt.Sprintf("%s %s: %v", time.Now().Format("15:04:05.000"), path, err))
	}
}

// fetch gets path and returns the body of a 200 answer.
func (l *Loop) fetch(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.cfg.URL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("body over %d bytes", maxBody)
	}
	return body, nil
}
