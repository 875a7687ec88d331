package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/observerd/observerd/internal/procs"
)

// observerOpts is how a group of observerd processes is configured. Zero
// fields are left to observerd's defaults.
type observerOpts struct {
	count        int
	interval     time.Duration // OBSERVERD_REDIS_POLL_INTERVAL
	timeout      time.Duration // OBSERVERD_REDIS_POLL_TIMEOUT
	coordination string        // OBSERVERD_REDIS_WALK_COORDINATION: lease or off
	// unpaced sets OBSERVERD_REDIS_WALK_BUDGET=1 where the daemon has a
	// walk budget; one without is unpaced anyway.
	unpaced bool
}

// daemon is the bin/observerd the bench starts against its Redis.
type daemon struct {
	bin, redisURL string
	// budget: it knows OBSERVERD_REDIS_WALK_BUDGET. It refuses variables
	// it does not know, so the bench sets the budget only when it does.
	budget bool
	// groups counts the groups of observers started, whose instance ids
	// carry it: the shared walk of a group outlives it in Redis, and the
	// next group's readers may publish it until its walker has shared
	// anew, so a walked_by must name an observer of one group only.
	groups *atomic.Int64
}

// budgetVar is the variable of the walk budget, a share of Redis's time.
const budgetVar = "OBSERVERD_REDIS_WALK_BUDGET"

// newDaemon finds out from observerd -h whether bin/observerd has a walk
// budget.
func newDaemon(ctx context.Context, bin, redisURL string) (daemon, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "observerd"), "-h").CombinedOutput()
	if err != nil {
		return daemon{}, fmt.Errorf("observerd -h: %w: %s", err, out)
	}
	d := daemon{bin: bin, redisURL: redisURL, groups: new(atomic.Int64)}
	// A line of the settings' table begins with the variable's name;
	// other help texts may name it too.
	for line := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == budgetVar {
			d.budget = true
		}
	}
	return d, nil
}

// unpacedNote says how an unpaced observer was made one.
func (d daemon) unpacedNote() string {
	if d.budget {
		return budgetVar + "=1"
	}
	return "this observerd has no walk budget: its walk is unpaced by default"
}

// observer is one running bin/observerd.
type observer struct {
	proc *procs.Child
	url  string
	id   string // OBSERVERD_INSTANCE_ID
}

// env is the environment of observer id.
func (o observerOpts) env(d daemon, id string, port int) []string {
	env := []string{
		"OBSERVERD_SOURCES=redis",
		"OBSERVERD_REDIS_URL=" + d.redisURL,
		fmt.Sprintf("OBSERVERD_LISTEN_ADDR=127.0.0.1:%d", port),
		"OBSERVERD_INSTANCE_ID=" + id,
		"OBSERVERD_LOG_LEVEL=warn",
	}
	if o.interval > 0 {
		env = append(env, "OBSERVERD_REDIS_POLL_INTERVAL="+o.interval.String())
	}
	if o.timeout > 0 {
		env = append(env, "OBSERVERD_REDIS_POLL_TIMEOUT="+o.timeout.String())
	}
	if o.coordination != "" {
		env = append(env, "OBSERVERD_REDIS_WALK_COORDINATION="+o.coordination)
	}
	if o.unpaced && d.budget {
		env = append(env, budgetVar+"=1")
	}
	return env
}

// startObservers starts o.count observerd processes and waits until each
// is ready (its first Redis poll succeeded).
func startObservers(ctx context.Context, p *procs.Group, d daemon, o observerOpts) ([]*observer, error) {
	var obs []*observer
	group := d.groups.Add(1)
	for n := 1; n <= o.count; n++ {
		port, err := procs.FreePort()
		if err != nil {
			return obs, err
		}
		id := fmt.Sprintf("obs-%d-%d", group, n)
		c, err := p.Start("observerd-"+itoa(n), filepath.Join(d.bin, "observerd"), nil, o.env(d, id, port))
		if err != nil {
			return obs, err
		}
		obs = append(obs, &observer{proc: c, url: fmt.Sprintf("http://127.0.0.1:%d", port), id: id})
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, ob := range obs {
		err := procs.WaitFor(ctx, 2*time.Minute, ob.proc.Name()+" ready", func() error {
			if err := ob.proc.Alive(); err != nil {
				return err
			}
			return httpOK(ctx, client, ob.url+"/readyz")
		})
		if err != nil {
			return obs, err
		}
	}
	return obs, nil
}

// stopObservers stops every observer at once.
func stopObservers(obs []*observer) {
	done := make(chan struct{}, len(obs))
	for _, ob := range obs {
		go func() { ob.proc.Stop(); done <- struct{}{} }()
	}
	for range obs {
		<-done
	}
}

// polls is the number of Redis polls the observer has finished, from its
// own poll duration histogram.
func (ob *observer) polls(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ob.url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	const series = `observerd_poll_duration_seconds_count{source="redis"}`
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s/metrics has no %s", ob.url, series)
}

// waitPolls waits until the observer has finished at least n polls.
func (ob *observer) waitPolls(ctx context.Context, n int, timeout time.Duration) error {
	return procs.WaitFor(ctx, timeout, fmt.Sprintf("%d polls of %s", n, ob.proc.Name()), func() error {
		if err := ob.proc.Alive(); err != nil {
			return err
		}
		got, err := ob.polls(ctx)
		if err == nil && got < n {
			err = fmt.Errorf("%d polls so far", got)
		}
		return err
	})
}

// memory is a process's resident set now and at its peak, in bytes.
type memory struct{ rss, hwm int64 }

// readMemory reads VmRSS and VmHWM from /proc/PID/status.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("%s: %w", k, err)
		}
		if k == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	if m.rss == 0 || m.hwm == 0 {
		return m, fmt.Errorf("no VmRSS or VmHWM in /proc/%d/status", pid)
	}
	return m, nil
}
