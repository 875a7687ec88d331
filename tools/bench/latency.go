package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// maxInFlight bounds the open-loop client's requests in flight; a request
// that finds no slot is counted as failed rather than delayed, so that the
// schedule stays open-loop.
const maxInFlight = 512

// startNode starts one bin/ratelimiterd on a free loopback port against
// redisURL and waits until it answers /health. It returns the node's base
// URL and its process.
func startNode(ctx context.Context, p *procs.Group, bin, redisURL string) (string, *procs.Child, error) {
	path := filepath.Join(bin, "ratelimiterd")
	if _, err := exec.LookPath(path); err != nil {
		return "", nil, fmt.Errorf("%s: run make build first: %w", path, err)
	}
	port, err := procs.FreePort()
	if err != nil {
		return "", nil, err
	}
	c, err := p.Start("ratelimiterd", path, nil, []string{
		"RATELIMITER_REDIS_URL=" + redisURL,
		"RATELIMITER_NODE_ID=bench-node",
		"RATELIMITER_NODE_HOST=127.0.0.1",
		"RATELIMITER_LISTEN_HOST=127.0.0.1",
		"RATELIMITER_NODE_PORT=" + itoa(port),
	})
	if err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 2 * time.Second}
	err = procs.WaitFor(ctx, 30*time.Second, "ratelimiterd on "+url, func() error {
		if err := c.Alive(); err != nil {
			return err
		}
		return httpOK(ctx, client, url+"/health")
	})
	return url, c, err
}

// loadResult is what one open-loop run measured.
type loadResult struct {
	latencies []time.Duration
	sent      int
	failed    int
	lastErr   string
}

// openLoop sends POST /check at a steady rate for dur, each request at its
// scheduled time whether or not the previous ones have answered, and
// measures each latency from its scheduled time to the end of its answer,
// so that a stall shows in the figures instead of delaying the schedule.
// Keys are drawn from checkKeys keys of the load's own: the node gives a
// key it checks the TTL of its window, which would make seeded counters
// expire before the larger keyspaces are measured.
func openLoop(ctx context.Context, url string, rate float64, dur time.Duration) loadResult {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: maxInFlight, MaxConnsPerHost: maxInFlight},
	}
	defer client.CloseIdleConnections()
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	sem := make(chan struct{}, maxInFlight)
	gap := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * gap)
		if at.Sub(start) >= dur || !pace(ctx, at) {
			break
		}
		res.sent++
		select {
		case sem <- struct{}{}:
		default:
			mu.Lock()
			res.failed, res.lastErr = res.failed+1, "too many requests in flight"
			mu.Unlock()
			continue
		}
		key := checkKey(rand.IntN(checkKeys))
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := check(ctx, client, url, key)
			took := time.Since(at)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.failed, res.lastErr = res.failed+1, err.Error()
				return
			}
			res.latencies = append(res.latencies, took)
		}()
	}
	wg.Wait()
	return res
}

// pace blocks until at, and reports false when ctx ended first.
func pace(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// check sends one /check and reads its answer; 200 and 429 are decisions.
func check(ctx context.Context, client *http.Client, url, key string) error {
	body := []byte(`{"key":"` + key + `"}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/check", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("/check answered %s", resp.Status)
	}
	return nil
}

// checkKeys is how many distinct keys the load checks.
const checkKeys = 1000

// checkKey is the key (without prefix) of the load's key i.
func checkKey(i int) string { return fmt.Sprintf("check-%04d", i) }

// dropCheckKeys deletes the load's keys and their :seq keys, so that the
// next keyspace holds the seeded counters only.
func dropCheckKeys(ctx context.Context, r *benchRedis) error {
	pipe := r.rc.Pipeline()
	for i := range checkKeys {
		pipe.Del(ctx, keyPrefix+checkKey(i), keyPrefix+checkKey(i)+":seq")
	}
	_, err := pipe.Exec(ctx)
	return err
}
