package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// mix is the traffic of one bin/loadgen process, as its flags say it.
type mix struct {
	name   string // of the child, and the stem of its key prefix
	prefix string // of every key it checks
	rate   float64
	keys   int
	// hotShare of the checks, bursts included, go to hotKeys hot keys.
	hotShare float64
	hotKeys  int
	// burstSize extra checks every burstEvery.
	burstEvery time.Duration
	burstSize  int
	// fresh sends every check that is not a hot key's to a new key.
	fresh bool
	// windowMS is sent with every check when above 0.
	windowMS int64
}

// steadyLoad runs on every node for the whole soak: steady checks over 50
// keys, some hot enough to be blocked.
var steadyLoad = mix{name: "loadgen", prefix: "soak-", rate: 30, keys: 50, hotShare: 0.3, hotKeys: 3}

func (m mix) args(targets []string) []string {
	a := []string{"-targets", strings.Join(targets, ","), "-rate", formatRate(m.rate), "-key-prefix", m.prefix}
	if m.keys > 0 {
		a = append(a, "-keys", strconv.Itoa(m.keys))
	}
	if m.hotShare > 0 {
		a = append(a, "-hot-share", strconv.FormatFloat(m.hotShare, 'g', -1, 64), "-hot-keys", strconv.Itoa(m.hotKeys))
	}
	if m.burstSize > 0 {
		a = append(a, "-burst-every", m.burstEvery.String(), "-burst-size", strconv.Itoa(m.burstSize))
	}
	if m.fresh {
		a = append(a, "-fresh-keys")
	}
	if m.windowMS > 0 {
		a = append(a, "-window-ms", strconv.FormatInt(m.windowMS, 10))
	}
	return a
}

// formatRate writes a rate with at most three decimals.
func formatRate(r float64) string {
	return strconv.FormatFloat(float64(int64(r*1000+0.5))/1000, 'g', -1, 64)
}

// perSecond is the mix's checks per second on average, bursts included.
func (m mix) perSecond() float64 {
	r := m.rate
	if m.burstSize > 0 && m.burstEvery > 0 {
		r += float64(m.burstSize) / m.burstEvery.Seconds()
	}
	return r
}

// hottest is the checks per second of the mix's busiest key on average: a
// hot key's, or a regular key's when it has no hot keys.
func (m mix) hottest() float64 {
	var hot, regular float64
	if m.hotShare > 0 && m.hotKeys > 0 {
		hot = m.perSecond() * m.hotShare / float64(m.hotKeys)
	}
	if !m.fresh && m.keys > 0 {
		regular = m.perSecond() * (1 - m.hotShare) / float64(m.keys)
	}
	return max(hot, regular)
}

// totals are the figures bin/loadgen prints as it ends.
type totals struct {
	sent, allowed, blocked, failed int64
}

func (t totals) add(o totals) totals {
	return totals{sent: t.sent + o.sent, allowed: t.allowed + o.allowed, blocked: t.blocked + o.blocked, failed: t.failed + o.failed}
}

// decided are the checks a node answered, allowed or blocked.
func (t totals) decided() int64 { return t.allowed + t.blocked }

var totalsLine = regexp.MustCompile(`(?m)^loadgen: sent=(\d+) allowed=(\d+) blocked=(\d+) failed=(\d+)$`)

// parseTotals reads the last totals line of a load generator's log.
func parseTotals(log string) (totals, error) {
	all := totalsLine.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return totals{}, errors.New("no totals line")
	}
	m := all[len(all)-1]
	var n [4]int64
	for i := range n {
		v, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil {
			return totals{}, fmt.Errorf("totals line %q: %w", m[0], err)
		}
		n[i] = v
	}
	return totals{sent: n[0], allowed: n[1], blocked: n[2], failed: n[3]}, nil
}

// readTotals reads the totals from the log at path.
func readTotals(path string) (totals, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return totals{}, err
	}
	t, err := parseTotals(string(b))
	if err != nil {
		return totals{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
