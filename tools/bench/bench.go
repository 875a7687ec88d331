package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/procs"
	"github.com/observerd/observerd/internal/snapshot"
)

// bench is the state of one run.
type bench struct {
	s      settings
	p      *procs.Group
	t      *table
	h      header
	r      *benchRedis
	d      daemon
	exp    *redisExporter
	expErr error
	seeded int // counters written so far: keys 0..seeded-1

	idleMem   *memory       // part e baseline
	smallDraw *renderResult // part d baseline
}

// run measures every part and prints the table. A measurement that fails
// becomes a row saying so; only Redis failing to start or to take the
// seeded keys stops the run.
func (b *bench) run(ctx context.Context) error {
	if b.s.only == "f" {
		b.historyMemory()
		return b.report()
	}
	if err := checkBinaries(b.s.bin); err != nil {
		return err
	}
	r, err := startRedis(ctx, b.p)
	if err != nil {
		return err
	}
	defer r.close()
	b.r, b.h.redis = r, r.version
	if b.d, err = newDaemon(ctx, b.s.bin, r.url); err != nil {
		return err
	}
	b.h.budget = "no walk budget (unpaced by default)"
	if b.d.budget {
		b.h.budget = "walk budget " + budgetVar
	}
	b.exp, b.expErr = startExporter(ctx, b.p, r)
	if b.exp != nil {
		b.h.exporter = b.exp.version
	}
	b.h.wrk = wrkVersion(ctx)
	b.memoryIdle(ctx)
	b.historyMemory()
	b.snapshotThroughput(ctx)
	if err := seedExtras(ctx, r); err != nil {
		return fmt.Errorf("seed overrides and registry: %w", err)
	}
	for _, size := range b.stages() {
		if err := b.stage(ctx, size); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return b.report()
}

// stages are every keyspace size the run visits, ascending: the keyspace
// only grows.
func (b *bench) stages() []int {
	sizes := append([]int{b.s.renderSmall}, b.s.keys...)
	slices.Sort(sizes)
	return slices.Compact(sizes)
}

// stage grows the keyspace to size and runs what is measured there.
func (b *bench) stage(ctx context.Context, size int) error {
	start := time.Now()
	if err := seedCounters(ctx, b.r, b.seeded, size); err != nil {
		return fmt.Errorf("seed %d counters: %w", size, err)
	}
	fmt.Fprintf(os.Stderr, "bench: %s counters seeded in %s\n", fmtKeys(size), fmtDur(time.Since(start)))
	b.seeded = size
	var sec *snapshot.RedisSection
	var steps []func()
	if slices.Contains(b.s.keys, size) {
		steps = append(steps, func() { sec = b.redisPoll(ctx, size, size < b.s.largest() || len(b.s.keys) == 1) })
	}
	if size == b.s.renderSmall || size == b.s.mid() {
		steps = append(steps, func() { b.metricsRender(ctx, size, sec) })
	}
	if size == b.s.mid() {
		steps = append(steps, func() { b.redisCost(ctx, size) }, func() { b.checkLatency(ctx, size) })
	}
	if size == b.s.largest() && size != b.s.mid() {
		steps = append(steps, func() { b.memoryAt(ctx, size) })
	}
	for _, step := range steps {
		if ctx.Err() != nil {
			break
		}
		step()
	}
	return ctx.Err()
}

// report sorts the rows by part and prints the table, and writes it to
// -out when set.
func (b *bench) report() error {
	slices.SortStableFunc(b.t.rows, func(x, y row) int { return strings.Compare(x.part, y.part) })
	b.h.elapsed = time.Since(b.h.started)
	fmt.Println()
	if err := b.t.write(os.Stdout, b.h); err != nil {
		return err
	}
	if b.s.out == "" {
		return nil
	}
	f, err := os.Create(b.s.out)
	if err != nil {
		return err
	}
	if err := b.t.write(f, b.h); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench: table written to", b.s.out)
	return nil
}

// wrkVersion is wrk's version, or why there is none.
func wrkVersion(ctx context.Context) string {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return "not installed"
	}
	return commandVersion(ctx, path, "-v")
}
