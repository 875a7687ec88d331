package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	rlclient "github.com/observerd/observerd/internal/clients/ratelimiter"
)

const (
	// maxAnswerBytes bounds the body of one answer, which is read in full
	// so that the connection can be reused; a larger body fails the check.
	maxAnswerBytes = 64 << 10
	// minTick is the finest steady-rate tick; faster rates send several
	// requests per tick.
	minTick = 2 * time.Millisecond
)

// Totals counts what a run sent and what the nodes answered: Allowed (200),
// Blocked (429) and Failed (anything else, including transport errors,
// timeouts and answers that are not a decision).
type Totals struct {
	Sent, Allowed, Blocked, Failed int64
	// PerTarget holds the same counts per target base URL.
	PerTarget map[string]TargetTotals
	// LastError describes the last failed request; empty when none failed.
	LastError string
}

// TargetTotals are the counts of one target.
type TargetTotals struct {
	Sent, Allowed, Blocked, Failed int64
}

// runner is the state of one Run.
type runner struct {
	cfg    Config
	nodes  []*rlclient.Client // one per target, same index
	window time.Duration      // of every check; 0: the node's default
	keys   *keyGen
	sem    chan struct{}
	wg     sync.WaitGroup
	next   int   // round robin position, dispatcher only
	sent   int64 // dispatcher only

	mu      sync.Mutex     // guards per and lastErr
	per     []TargetTotals // one per target, same index
	lastErr string
}

// Run sends the configured traffic and returns the totals once every
// request it started has ended. It returns an error only for a bad Config;
// the end of ctx is one of the run's ordinary bounds.
func Run(ctx context.Context, cfg Config) (Totals, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Totals{}, err
	}
	r := &runner{
		cfg:  cfg,
		keys: newKeyGen(cfg),
		per:  make([]TargetTotals, len(cfg.Targets)),
		sem:  make(chan struct{}, cfg.Concurrency),
	}
	if cfg.WindowMS != nil {
		r.window = time.Duration(*cfg.WindowMS) * time.Millisecond
	}
	hc := newClient(cfg)
	defer hc.CloseIdleConnections()
	nodes, err := newNodeClients(cfg.Targets, hc)
	if err != nil {
		return Totals{}, err
	}
	r.nodes = nodes

	// The end of ctx or of the duration stops sending; requests already in
	// flight finish (each bounded by cfg.Timeout), so that the totals count
	// every check a node decided, as tests compare them with Redis.
	genCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		genCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	r.generate(genCtx, context.WithoutCancel(ctx))
	r.wg.Wait()
	return r.totals(), nil
}

// newClient builds the shared client: pooled connections for every slot,
// and timeouts on each phase of a request.
func newClient(cfg Config) *http.Client {
	return &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
			MaxIdleConns:        cfg.Concurrency * len(cfg.Targets),
			MaxIdleConnsPerHost: cfg.Concurrency,
			// A request that finds no idle connection dials one even while
			// another is about to be returned; bounding the connections
			// keeps them at one per slot.
			MaxConnsPerHost:       cfg.Concurrency,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: cfg.Timeout,
			TLSHandshakeTimeout:   cfg.Timeout,
		},
	}
}

// newNodeClients builds one node client per target, all sending through
// hc so that they share its connection pool. hc bounds each request with
// Config.Timeout, so the node clients add no timeout of their own.
func newNodeClients(targets []string, hc *http.Client) ([]*rlclient.Client, error) {
	nodes := make([]*rlclient.Client, len(targets))
	for i, t := range targets {
		c, err := rlclient.New(t, rlclient.Options{HTTPClient: hc, MaxBodyBytes: maxAnswerBytes, Timeout: -1})
		if err != nil {
			return nil, fmt.Errorf("loadgen: target %q: %w", t, err)
		}
		nodes[i] = c
	}
	return nodes, nil
}

// generate dispatches the steady and burst traffic until genCtx ends or
// the count is reached. Requests run under reqCtx.
func (r *runner) generate(genCtx, reqCtx context.Context) {
	start := time.Now()
	var steady <-chan time.Time
	var steadySent int64
	if r.cfg.Rate > 0 {
		tick := max(time.Duration(float64(time.Second)/r.cfg.Rate), minTick)
		t := time.NewTicker(tick)
		defer t.Stop()
		steady = t.C
	}
	var bursts <-chan time.Time
	if r.cfg.BurstEvery > 0 && r.cfg.BurstSize > 0 {
		t := time.NewTicker(r.cfg.BurstEvery)
		defer t.Stop()
		bursts = t.C
	}
	// sendDue catches the steady schedule up: request n is due at n/rate
	// seconds, the first one at once. A backlog beyond one second (the
	// nodes are slower than the rate) is dropped, not sent as a flood.
	sendDue := func() bool {
		want := int64(time.Since(start).Seconds()*r.cfg.Rate) + 1
		if backlog := want - steadySent; float64(backlog) > r.cfg.Rate+1 {
			steadySent = want - 1
		}
		for ; steadySent < want; steadySent++ {
			if !r.dispatch(genCtx, reqCtx) {
				return false
			}
		}
		return true
	}
	if r.cfg.Rate > 0 && !sendDue() {
		return
	}
	for {
		select {
		case <-genCtx.Done():
			return
		case <-steady:
			if !sendDue() {
				return
			}
		case <-bursts:
			for range r.cfg.BurstSize {
				if !r.dispatch(genCtx, reqCtx) {
					return
				}
			}
		}
	}
}

// dispatch starts one request once a concurrency slot is free. It returns
// false when the run is over.
func (r *runner) dispatch(genCtx, reqCtx context.Context) bool {
	if r.cfg.Count > 0 && r.sent >= r.cfg.Count {
		return false
	}
	select {
	case r.sem <- struct{}{}:
	case <-genCtx.Done():
		return false
	}
	if genCtx.Err() != nil {
		<-r.sem
		return false
	}
	i := r.next % len(r.cfg.Targets)
	r.next++
	r.sent++
	key := r.keys.next()
	r.wg.Go(func() {
		defer func() { <-r.sem }()
		res, err := r.nodes[i].Check(reqCtx, rlclient.CheckRequest{Key: key, Limit: r.cfg.Limit, Window: r.window})
		r.record(i, res.Allowed, err)
	})
	return r.cfg.Count == 0 || r.sent < r.cfg.Count
}

// record counts one check of target i: allowed (200) or blocked (429),
// unless err says why it failed (an error status, a transport error, a
// timeout or an answer that is not a decision).
func (r *runner) record(i int, allowed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &r.per[i]
	c.Sent++
	switch {
	case err != nil:
		c.Failed++
		r.lastErr = err.Error()
	case allowed:
		c.Allowed++
	default:
		c.Blocked++
	}
}

// totals sums the counts; called after every request has ended.
func (r *runner) totals() Totals {
	t := Totals{PerTarget: make(map[string]TargetTotals, len(r.per)), LastError: r.lastErr}
	var sum TargetTotals
	for i, c := range r.per {
		// Two targets may be the same URL; their counts add up.
		t.PerTarget[r.cfg.Targets[i]] = t.PerTarget[r.cfg.Targets[i]].add(c)
		sum = sum.add(c)
	}
	t.Sent, t.Allowed, t.Blocked, t.Failed = sum.Sent, sum.Allowed, sum.Blocked, sum.Failed
	return t
}

func (a TargetTotals) add(b TargetTotals) TargetTotals {
	return TargetTotals{Sent: a.Sent + b.Sent, Allowed: a.Allowed + b.Allowed, Blocked: a.Blocked + b.Blocked, Failed: a.Failed + b.Failed}
}
