// Package history keeps, in bounded memory, a summary of every snapshot
// observerd publishes, for OBSERVERD_HISTORY (an hour by default): what
// /snapshot?at=, /history, the status page's step back and a key's
// explanation read of the past.
//
// A summary is the published document minus limits.overrides (the list of
// every override, which changes rarely and is the one part that grows with
// the keyspace), gzip-compressed, beside a small uncompressed point of its
// aggregates. Summaries older than the horizon are dropped, and the oldest
// go first as well once the kept bytes pass a budget (MaxBytes). Beside
// them a key index remembers, per key, the stretches of time it was
// blocked, over or near its limit or named in a violation, bounded in keys
// and stretches.
//
// History is per process: a restarted observerd starts empty, and the
// aggregates of longer ranges are Prometheus's to keep.
package history

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/observerd/observerd/internal/snapshot"
)

// Bounds of what a Store keeps, where Config leaves them zero.
const (
	// DefaultMaxBytes bounds the summaries and points kept. The default
	// hour at a 2 s interval is 1800 summaries: of a 100k-key keyspace
	// with full lists they count about 4.6 KB each (tools/bench, part
	// f: 12.7 MB of heap with the key index full), a third of this.
	DefaultMaxBytes = 24 << 20
	// DefaultMaxKeys and DefaultMaxRuns bound the key index: keys
	// remembered and stretches over all of them; past either, the keys
	// marked longest ago are forgotten. A stretch costs about
	// 100 bytes plus its detail (at most maxDetailBytes) and its key's
	// share: at most about 8 MiB with the 24 MiB of summaries, under
	// 32 MiB in all.
	DefaultMaxKeys = 10_000
	DefaultMaxRuns = 20_000
	// maxRunsPerKey bounds one key's stretches: a key that flaps keeps
	// its latest.
	maxRunsPerKey = 32
	// queueLen is how many published snapshots wait for Run at most; a
	// publish past it is counted in Kept.Dropped, not waited for.
	queueLen = 64
	// entryOverhead is what one kept summary costs beyond its bytes: the
	// entry, its slices' headers and allocation rounding.
	entryOverhead = 160
)

// ErrOff is returned by the lookups of a Store that keeps nothing.
var ErrOff = errors.New("history is off (OBSERVERD_HISTORY=0)")

// NotKeptError is a time the history holds no summary for: before the
// oldest kept, or any time while none is kept yet.
type NotKeptError struct {
	At           time.Time
	Since, Until time.Time // the kept range; zero when empty
	Horizon      time.Duration
}

func (e *NotKeptError) Error() string {
	if e.Since.IsZero() {
		return fmt.Sprintf("no summary kept yet: history keeps the last %s of this process's snapshots", e.Horizon)
	}
	return fmt.Sprintf("%s is before the kept history, which runs from %s to %s (the last %s of this process's snapshots)",
		e.At.UTC().Format(time.RFC3339), e.Since.UTC().Format(time.RFC3339), e.Until.UTC().Format(time.RFC3339), e.Horizon)
}

// Config configures a Store.
type Config struct {
	// Horizon is OBSERVERD_HISTORY: how long a summary is kept; zero
	// (or less) keeps nothing.
	Horizon time.Duration
	// MaxBytes bounds the summaries' bytes; 0: DefaultMaxBytes.
	MaxBytes int
	// MaxKeys and MaxRuns bound the key index; 0: the defaults.
	MaxKeys int
	MaxRuns int
	Logger  *zap.Logger
}

// Summary is one kept snapshot. Its slices are shared and never changed:
// do not modify them.
type Summary struct {
	At       time.Time // the snapshot's generated_at
	Sequence uint64
	// ETag is quoted and strong: the published snapshot's with "-h", so
	// that it never matches the live document, which has the overrides.
	ETag string
	// Point is the JSON object of the aggregates (docs/metrics.md,
	// "Fields of /history").
	Point []byte
	// Gzip is the summary document, gzip-compressed.
	Gzip []byte
}

// JSON is the summary document: the snapshot schema, limits.overrides
// empty.
func (s Summary) JSON() ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(s.Gzip))
	if err != nil {
		return nil, fmt.Errorf("read summary %d: %w", s.Sequence, err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read summary %d: %w", s.Sequence, err)
	}
	return doc, nil
}

// Snapshot decodes the summary document.
func (s Summary) Snapshot() (*snapshot.Snapshot, error) {
	doc, err := s.JSON()
	if err != nil {
		return nil, err
	}
	var snap snapshot.Snapshot
	if err := json.Unmarshal(doc, &snap); err != nil {
		return nil, fmt.Errorf("decode summary %d: %w", s.Sequence, err)
	}
	return &snap, nil
}

// Kept describes what a Store holds.
type Kept struct {
	Horizon      time.Duration
	Since, Until time.Time // the oldest and newest summary; zero when none
	Summaries    int
	Bytes        int // of the summaries and points, against MaxBytes
	MaxBytes     int
	Keys, Runs   int    // of the key index
	Dropped      uint64 // snapshots published while Run's queue was full
}

// Store keeps the summaries. Record (or Offer and Run) is its one writer;
// the lookups may run concurrently with it. A nil *Store keeps nothing.
type Store struct {
	cfg     Config
	queue   chan *snapshot.Published
	dropped atomic.Uint64

	rec sync.Mutex // serializes Record: guards gz and buf
	gz  *gzip.Writer
	buf bytes.Buffer

	mu       sync.RWMutex // guards everything below
	entries  []Summary    // oldest first, At never decreasing
	bytes    int
	lastSeq  uint64
	recorded uint64 // snapshots recorded: numbers them for the key index's runs
	keys     keyIndex
}

// New returns an empty Store of cfg.
func New(cfg Config) *Store {
	cfg.MaxBytes = cmp.Or(cfg.MaxBytes, DefaultMaxBytes)
	cfg.MaxKeys = cmp.Or(cfg.MaxKeys, DefaultMaxKeys)
	cfg.MaxRuns = cmp.Or(cfg.MaxRuns, DefaultMaxRuns)
	cfg.Logger = cmp.Or(cfg.Logger, zap.NewNop())
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression) // fails only on a bad level
	return &Store{
		cfg:   cfg,
		queue: make(chan *snapshot.Published, queueLen),
		gz:    zw,
		keys:  newKeyIndex(cfg.MaxKeys, cfg.MaxRuns),
	}
}

// Enabled reports whether s keeps summaries.
func (s *Store) Enabled() bool { return s != nil && s.cfg.Horizon > 0 }

// Offer queues p for Run without ever blocking: it is called from the
// snapshot store's publish path, so that a snapshot published in quick
// succession after another is recorded too. Past queueLen waiting, p is
// counted as dropped.
func (s *Store) Offer(p *snapshot.Published) {
	if !s.Enabled() || p == nil {
		return
	}
	select {
	case s.queue <- p:
	default:
		s.dropped.Add(1)
	}
}

// Run records every offered snapshot until ctx ends; it returns nil then,
// at once when history is off.
func (s *Store) Run(ctx context.Context) error {
	if !s.Enabled() {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-s.queue:
			if err := s.Record(p); err != nil {
				// Our own document failing to encode is a bug; the
				// history misses one snapshot and goes on.
				s.cfg.Logger.Error("record snapshot in history", zap.Uint64("sequence", p.Snapshot.Sequence), zap.Error(err))
			}
		}
	}
}

// Record keeps a summary of p, and drops those past the horizon or the
// byte budget. A snapshot not newer than the last recorded is ignored.
func (s *Store) Record(p *snapshot.Published) error {
	if !s.Enabled() || p == nil {
		return nil
	}
	s.rec.Lock()
	defer s.rec.Unlock()
	s.mu.RLock()
	old := s.recorded > 0 && p.Snapshot.Sequence <= s.lastSeq
	s.mu.RUnlock()
	if old {
		return nil
	}
	doc, point, err := summarize(p)
	if err != nil {
		return err
	}
	sum := Summary{
		At:       p.Snapshot.GeneratedAt,
		Sequence: p.Snapshot.Sequence,
		ETag:     trimQuote(p.ETag) + `-h"`,
		Point:    point,
		Gzip:     s.compress(doc),
	}
	marks := marksOf(p.Snapshot)

	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.entries); n > 0 && sum.At.Before(s.entries[n-1].At) {
		// The wall clock stepped back: keep the order lookups search.
		sum.At = s.entries[n-1].At
	}
	s.entries = append(s.entries, sum)
	s.bytes += size(sum)
	s.lastSeq = sum.Sequence
	s.recorded++
	s.evict(sum.At)
	s.keys.observe(s.recorded, sum.At, s.entries[0].At, marks)
	return nil
}

// evict drops the oldest summaries past the horizon, as of now, and past
// the byte budget; the newest is always kept. Called with mu held.
func (s *Store) evict(now time.Time) {
	horizon := now.Add(-s.cfg.Horizon)
	n := 0
	for bytes := s.bytes; n < len(s.entries)-1; n++ {
		if !s.entries[n].At.Before(horizon) && bytes <= s.cfg.MaxBytes {
			break
		}
		bytes -= size(s.entries[n])
	}
	for _, e := range s.entries[:n] {
		s.bytes -= size(e)
	}
	// Delete moves the rest down, so that the array does not grow with
	// every summary ever recorded.
	s.entries = slices.Delete(s.entries, 0, n)
}

func size(s Summary) int { return len(s.Point) + len(s.Gzip) + len(s.ETag) + entryOverhead }

// compress gzips doc into a slice of its own. Called with rec held.
func (s *Store) compress(doc []byte) []byte {
	s.buf.Reset()
	s.gz.Reset(&s.buf)
	_, _ = s.gz.Write(doc) // writes to memory
	_ = s.gz.Close()
	return bytes.Clone(s.buf.Bytes())
}

// Kept says what s holds now.
func (s *Store) Kept() Kept {
	if s == nil {
		return Kept{}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	k := Kept{
		Horizon: s.cfg.Horizon, Summaries: len(s.entries), Bytes: s.bytes, MaxBytes: s.cfg.MaxBytes,
		Keys: len(s.keys.keys), Runs: s.keys.runs, Dropped: s.dropped.Load(),
	}
	if n := len(s.entries); n > 0 {
		k.Since, k.Until = s.entries[0].At, s.entries[n-1].At
	}
	return k
}

// At returns the summary in force at t: the last one generated at or
// before t. It fails with ErrOff, or a *NotKeptError when t is before the
// oldest kept summary or none is kept.
func (s *Store) At(t time.Time) (Summary, error) {
	if !s.Enabled() {
		return Summary{}, ErrOff
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// The first summary after t; the one before it is in force.
	i, _ := slices.BinarySearchFunc(s.entries, t, func(e Summary, t time.Time) int {
		if e.At.After(t) {
			return 1
		}
		return -1
	})
	if i == 0 {
		return Summary{}, s.notKept(t)
	}
	return s.entries[i-1], nil
}

// notKept is the error of a lookup at t. Called with mu held.
func (s *Store) notKept(t time.Time) *NotKeptError {
	e := &NotKeptError{At: t, Horizon: s.cfg.Horizon}
	if n := len(s.entries); n > 0 {
		e.Since, e.Until = s.entries[0].At, s.entries[n-1].At
	}
	return e
}

// Between returns at most max summaries generated from since to until,
// both included, oldest first: with step 0 every one, else the first of
// each step of time counted from the Unix epoch, so that the same summaries
// answer the same step however the range is cut. When more than max
// would answer, the step is raised until at most max do; step is the one
// used. It fails with ErrOff, or a *NotKeptError when nothing is kept.
func (s *Store) Between(since, until time.Time, step time.Duration, max int) (out []Summary, used time.Duration, err error) {
	if !s.Enabled() {
		return nil, 0, ErrOff
	}
	max = cmp.Or(max, 1)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.entries) == 0 {
		return nil, 0, s.notKept(since)
	}
	lo, _ := slices.BinarySearchFunc(s.entries, since, func(e Summary, t time.Time) int { return e.At.Compare(t) })
	hi, _ := slices.BinarySearchFunc(s.entries, until, func(e Summary, t time.Time) int {
		if e.At.After(t) {
			return 1
		}
		return -1
	})
	in := s.entries[lo:max2(lo, hi)]
	if len(in) == 0 {
		return nil, step, nil
	}
	if step <= 0 && len(in) <= max {
		return slices.Clone(in), 0, nil
	}
	// [since, until] spans at most ceil(span/step)+1 steps: a step above
	// span/(max-1) makes that max at most.
	// A raised step is rounded up to a whole second (a millisecond when
	// shorter), as a person would ask for it.
	// Only the kept part of the range counts: a range from the epoch is
	// the whole history.
	span := in[len(in)-1].At.Sub(in[0].At)
	least := span + 1
	if max > 1 {
		least = span/time.Duration(max-1) + 1
	}
	if step < least {
		unit := cmp.Or(min(least.Truncate(time.Second), time.Second), time.Millisecond)
		step = (least + unit - 1).Truncate(unit)
	}
	last := int64(-1 << 63)
	for _, e := range in {
		if b := floorDiv(e.At.UnixNano(), int64(step)); b != last {
			out, last = append(out, e), b
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out, step, nil
}

func max2[T cmp.Ordered](a T, b ...T) T {
	for _, v := range b {
		a = max(a, v)
	}
	return a
}

// floorDiv is a/b rounded down, for times before the epoch too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// KeyEvents returns the stretches of time in which the kept history saw
// key (as published: cleaned) blocked, over or near its limit, or the
// subject of a violation, newest first (by their end, then their start),
// and since, the time of the oldest kept summary (zero when none): before
// it the history cannot tell.
func (s *Store) KeyEvents(key string) (events []snapshot.KeyEvent, since time.Time) {
	if !s.Enabled() {
		return nil, time.Time{}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.entries) > 0 {
		since = s.entries[0].At
	}
	return s.keys.events(key, since), since
}

func trimQuote(etag string) string {
	if len(etag) > 0 && etag[len(etag)-1] == '"' {
		return etag[:len(etag)-1]
	}
	return `"` + etag
}
