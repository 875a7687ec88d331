package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// row is one line of the results table: a figure of observerd measured in
// this run beside its baseline measured in the same run.
type row struct {
	part     string // a to e
	what     string
	size     string // keys or document size
	value    string // observerd's figure
	baseline string // the baseline's figure
	ratio    string
	notes    string
}

// table collects the rows of the run in order.
type table struct {
	rows   []row
	failed int
}

// add appends r and reports it on stderr, so that a long run shows its
// progress.
func (t *table) add(r row) {
	t.rows = append(t.rows, r)
	if r.value == "not measured" {
		return
	}
	line := fmt.Sprintf("bench: %s %s %s: %s", r.part, r.what, r.size, r.value)
	if r.baseline != "" {
		line += ", baseline " + r.baseline
	}
	fmt.Fprintln(os.Stderr, line)
}

// fail records a measurement that could not be made, with why, so that the
// rest of the run goes on and the table says what is missing.
func (t *table) fail(part, what, size string, err error) {
	t.failed++
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	t.add(row{part: part, what: what, size: size, value: "not measured", notes: msg})
	fmt.Fprintf(os.Stderr, "bench: %s %s %s: %v\n", part, what, size, err)
}

// header describes the machine and the programs of the run.
type header struct {
	started  time.Time
	elapsed  time.Duration
	cpu      string
	redis    string
	exporter string
	wrk      string
	mode     string
	budget   string // whether observerd has a walk budget
}

// cpuModel is the first "model name" of /proc/cpuinfo and the core count.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	model := "unknown"
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores", model, runtime.NumCPU())
}

// write renders the header and the table as Markdown.
func (t *table) write(w io.Writer, h header) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# observerd benchmarks\n\n")
	fmt.Fprintf(&b, "- date: %s\n", h.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- CPU: %s\n", h.cpu)
	fmt.Fprintf(&b, "- Go: %s; Redis: %s; redis_exporter: %s; wrk: %s\n", runtime.Version(), h.redis, h.exporter, h.wrk)
	if h.budget != "" {
		fmt.Fprintf(&b, "- observerd: %s\n", h.budget)
	}
	fmt.Fprintf(&b, "- run: %s, %s in all\n\n", h.mode, h.elapsed.Round(time.Second))
	cols := []string{"", "measure", "keys / size", "observerd", "baseline", "ratio", "notes"}
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n")
	b.WriteString(strings.Repeat("| --- ", len(cols)) + "|\n")
	for _, r := range t.rows {
		cells := []string{r.part, r.what, r.size, r.value, r.baseline, r.ratio, r.notes}
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", "\\|")
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString(legend)
	_, err := io.WriteString(w, b.String())
	return err
}

// legend explains each part of the table and its baselines.
const legend = `
a: one full Redis poll, unpaced (observerd's poller in process, no walk
budget: PING, INFO, registry, overrides, deduplicated walk with SCAN on one
connection beside four pipelines of ZCOUNT and PTTL in flight), against the
fastest of plain go-redis loops, each SCAN MATCH ratelimit:* COUNT 1000 and
pipelines of ZCOUNT key now-60000 +inf and PTTL key, without dedup: the
whole scan first and then batches of 500 one at a time, or the scan on one
connection beside 2 or 4 batches of 500 or 1000 in flight. The poll, every
loop and a first poll (a client and poller built anew) run in turn, round
after round, so that a drift of the machine falls on all alike; each row
is the median of its runs, and the fastest loop is the one of the lowest
median. Also Redis's own time of the poll and of that loop (INFO
commandstats usec), and one end-to-end /metrics scrape of redis_exporter
-check-keys 'ratelimit:*'. Ratios: poll/loop, exporter/poll.
b: Redis server time (INFO commandstats usec) per poll interval with real
observerd processes, unpaced, ratio against one observer. Then /check
latency under steady open-loop load (latency from each request's scheduled
send time) against one ratelimiterd node: runs without observers (A) and
beside five sidecars at default settings (B, started anew each run and
polled once before the load) alternate A B A B A B; each B median p99 is
set against the A runs' median and range, and a row is "within noise"
when its p99 lies within the A runs' range or at most 1.1x their median.
The other setups run once each after them and are judged the same way.
A full run's latency runs are 20 s each (4000 requests at 200/s), shorter
than the single 30 s runs before the alternation, to keep make bench short.
During the B runs the bench measures the walk's share of Redis's time:
the usec of SCAN, ZCOUNT and PTTL from just after one walk is published
to just after the next, over the walk's own duration_ms, beside the
budget and observerd's own redis_share.
c: /snapshot requests per second under wrk -t1 -c16, observerd's handler
beside a bare handler writing the same bytes, ratio observerd/bare.
d: /metrics render time (in-process GET of the handler, median) and series,
ratio against the smallest keyspace: flat means about 1.
e: VmRSS and VmHWM of a real observerd after a few polls (unpaced, every
second), ratio against idle.
f: the heap the default hour of history (OBSERVERD_HISTORY=1h at a 2 s
interval: 1800 summaries) holds, in process, after GC, for snapshots of a
100k-key keyspace with every list full and new keys and figures in each,
ratio against the bound docs/design.md states.
`

// fmtDur prints a duration with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3g s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3g ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3g µs", float64(d)/float64(time.Microsecond))
	}
}

// fmtRatio prints a/b, or "-" when b is zero.
func fmtRatio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// fmtKeys prints a key count as 10k, 1M.
func fmtKeys(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	default:
		return itoa(n)
	}
}

// fmtBytes prints a size in bytes as B, KB or MB.
func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
