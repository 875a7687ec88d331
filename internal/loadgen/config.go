// Package loadgen sends rate limit checks to rate limiter nodes: a steady
// rate with optional bursts, a share of hot keys, and optionally a fresh
// random key per request, round robin across the nodes, with bounded
// concurrency. It drives the demo and the end-to-end tests.
package loadgen

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// Defaults applied to zero fields of Config.
const (
	DefaultConcurrency = 16
	DefaultTimeout     = 5 * time.Second
	DefaultKeys        = 10
)

// Config says what traffic to send. The run ends when Duration has passed,
// Count requests were sent, or the context ends, whichever comes first; with
// neither Duration nor Count it runs until the context ends.
type Config struct {
	// Targets are node base URLs (http://host:port), used round robin.
	Targets []string
	// Rate is the steady rate in requests per second; 0 sends bursts only.
	Rate float64
	// Duration bounds the run; 0 means no time bound.
	Duration time.Duration
	// Count bounds the number of requests sent; 0 means no bound.
	Count int64
	// BurstEvery and BurstSize add BurstSize extra requests every
	// BurstEvery; either zero means no bursts.
	BurstEvery time.Duration
	BurstSize  int
	// HotShare is the fraction of requests (0 to 1) sent to one of HotKeys
	// hot keys.
	HotShare float64
	HotKeys  int
	// Keys is the size of the pool regular requests draw from (default
	// DefaultKeys); FreshKeys sends each regular request to a new random
	// key instead, as short-lived clients do.
	Keys      int
	FreshKeys bool
	// Limit and WindowMS are sent with every request when not nil;
	// otherwise the node's defaults apply. WindowMS must be positive.
	Limit    *int64
	WindowMS *int64
	// KeyPrefix starts every key.
	KeyPrefix string
	// Concurrency bounds the requests in flight (default
	// DefaultConcurrency). When every slot is busy the generator waits, so
	// the rate drops rather than the memory growing.
	Concurrency int
	// Timeout bounds one request (default DefaultTimeout).
	Timeout time.Duration
	// Seed makes the key choice reproducible; 0 picks a random seed.
	Seed uint64
}

// withDefaults fills the zero fields that have defaults and normalizes the
// target URLs.
func (c Config) withDefaults() Config {
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.Keys = cmp.Or(c.Keys, DefaultKeys)
	targets := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		targets[i] = strings.TrimRight(strings.TrimSpace(t), "/")
	}
	c.Targets = targets
	return c
}

// Validate reports the first bad field of c (after defaults).
func (c Config) Validate() error {
	if len(c.Targets) == 0 {
		return errors.New("loadgen: no targets")
	}
	for _, t := range c.Targets {
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("loadgen: target %q is not an http(s) base URL", t)
		}
	}
	switch {
	case c.Rate < 0:
		return fmt.Errorf("loadgen: rate %v is negative", c.Rate)
	case c.Duration < 0:
		return fmt.Errorf("loadgen: duration %s is negative", c.Duration)
	case c.Count < 0:
		return fmt.Errorf("loadgen: count %d is negative", c.Count)
	case c.BurstEvery < 0 || c.BurstSize < 0:
		return errors.New("loadgen: burst interval and size must not be negative")
	case c.Rate == 0 && (c.BurstEvery == 0 || c.BurstSize == 0):
		return errors.New("loadgen: nothing to send: rate is 0 and there are no bursts")
	case c.HotShare < 0 || c.HotShare > 1:
		return fmt.Errorf("loadgen: hot share %v is outside [0, 1]", c.HotShare)
	case c.HotShare > 0 && c.HotKeys <= 0:
		return errors.New("loadgen: a hot share needs at least one hot key")
	case c.HotKeys < 0 || c.Keys < 0:
		return errors.New("loadgen: key counts must not be negative")
	case c.Concurrency < 0:
		return fmt.Errorf("loadgen: concurrency %d is negative", c.Concurrency)
	case c.Timeout < 0:
		return fmt.Errorf("loadgen: timeout %s is negative", c.Timeout)
	case c.WindowMS != nil && (*c.WindowMS <= 0 || *c.WindowMS > maxWindowMS):
		return fmt.Errorf("loadgen: window %d ms is not between 1 and %d (leave it out for the node's default)", *c.WindowMS, maxWindowMS)
	}
	return nil
}

// maxWindowMS is the longest window, in milliseconds, a time.Duration holds.
const maxWindowMS = math.MaxInt64 / int64(time.Millisecond)
