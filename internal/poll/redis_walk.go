package poll

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/ratio"
	"github.com/observerd/observerd/internal/snapshot"
)

// maxWalkPasses bounds the walks of one poll: a walk that counted a key by
// an override that changed meanwhile walks again (docs/design.md), and
// overrides that keep changing get this many passes, the last published.
const maxWalkPasses = 3

// walkShareOfDeadline is the share of the poll interval, or of the time
// left before the poll's deadline when that is shorter, that a budgeted
// walk may fill: the rest is for the reads after it (the sample, the keys
// of interest, the shared result) and for a walk that runs late. A walk
// that could go faster is spread over all of it: a check of the rate
// limiter meets a few small steps of it rather than a burst at the
// budget's share.
const walkShareOfDeadline = 0.75

// minSpreadKeys is the least keys Redis holds for a walk to be spread: a
// walk of fewer takes a few round trips, which spreading would only delay.
const minSpreadKeys = 10_000

// walkTimes are when a budgeted walk that begins at began should be over,
// and until when it is spread (zero: not spread), for a Redis holding
// expected keys.
func (p *RedisPoller) walkTimes(ctx context.Context, began time.Time, expected int64) (finishBy, spread time.Time) {
	within := p.cfg.Interval
	if deadline, ok := ctx.Deadline(); ok && (within <= 0 || deadline.Sub(began) < within) {
		within = deadline.Sub(began)
	}
	if within <= 0 {
		return time.Time{}, time.Time{}
	}
	finishBy = began.Add(time.Duration(walkShareOfDeadline * float64(within)))
	if p.cfg.Interval > 0 && expected >= minSpreadKeys {
		spread = finishBy
	}
	return finishBy, spread
}

// walkKeyspace walks the keyspace on this observer and builds the section
// from it, with the server's clock when the published walk began. expected
// is how many keys Redis holds, for the walk's pace.
func (p *RedisPoller) walkKeyspace(ctx context.Context, hints snapshot.Hints, expected int64) (*snapshot.RedisSection, time.Time, error) {
	known, err := p.knownOverrides(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	for pass := 1; ; pass++ {
		began := time.Now()
		finishBy, spread := p.walkTimes(ctx, began, expected)
		lim := newRedisLimits(hints, known)
		t := newRedisTally(tallyConfig{topN: p.cfg.TopN, listCap: p.cfg.ListCap, near: p.cfg.NearLimit}, p.topMisses)
		res, err := p.cfg.WalkClient.Walk(ctx, redisclient.Pass{
			KeyPrefix:        p.cfg.KeyPrefix,
			NodePrefix:       p.cfg.NodePrefix,
			Window:           lim.window,
			Visit:            func(cn redisclient.Counter) { t.visit(cn, lim.limit(cn.Key), lim.window(cn.Key)) },
			MaxKeysPerSecond: p.cfg.MaxKeysPerSecond,
			Budget:           p.cfg.WalkBudget,
			FinishBy:         finishBy,
			SpreadUntil:      spread,
			ExpectedKeys:     expected,
		})
		if err != nil {
			return nil, time.Time{}, err
		}
		known = res.Overrides.Overrides
		final := newRedisLimits(hints, known)
		misjudged := lim.misjudged(final, res.Counted)
		if misjudged > 0 && pass < maxWalkPasses {
			p.cfg.Logger.Debug("overrides changed since the last walk, walking again",
				zap.Int("keys", misjudged), zap.Int("pass", pass))
			continue
		}
		p.known, p.overridesKnown = known, true
		p.logBadData(res)
		p.cfg.Logger.Debug("keyspace walked",
			zap.Int64("counters", res.Stats.Counters), zap.Int64("duplicates", res.Stats.Duplicates),
			zap.Int64("vanished", res.Stats.Vanished), zap.Int64("scan_calls", res.Stats.ScanCalls),
			zap.Int("passes", pass), zap.Time("server_time", res.Stats.Now))
		sec := p.walkSection(t, final, res, began)
		if err := p.sample(ctx, sec, t.atLimit.sorted()); err != nil {
			return nil, time.Time{}, err
		}
		return sec, res.Stats.Now, nil
	}
}

// knownOverrides are the overrides the next walk counts keys by. Before
// this observer's first walk or shared read it has none: it takes those of
// the walk shared in Redis, a GET, where there is one, else reads them
// with a SCAN of their own; either way the walk does not count their keys
// by the default window and walk again.
func (p *RedisPoller) knownOverrides(ctx context.Context) ([]redisclient.Override, error) {
	if p.overridesKnown {
		return p.known, nil
	}
	if p.cfg.Coordinate {
		if sh, _, err := p.getShare(ctx); err == nil && sh != nil {
			return mapSlice(sh.Section.Overrides, clientOverride), nil
		}
	}
	ov, err := p.cfg.WalkClient.ReadOverrides(ctx, p.cfg.KeyPrefix, p.overrideScanCount())
	return ov.Overrides, err
}

// overrideScanCount is the SCAN COUNT of the overrides read before the
// first walk: ten of a paced walk's steps, or five of an unpaced walk's
// pages, since it returns few keys.
func (p *RedisPoller) overrideScanCount() int64 {
	if p.cfg.MaxKeysPerSecond > 0 || redisclient.Budgeted(p.cfg.WalkBudget) {
		return 10 * redisclient.PacedStep
	}
	return 5 * redisclient.DefaultScanCount
}

// maxSampled bounds the keys read again after a walk: the top keys and up
// to this many keys at their limit.
const maxSampled = 1000

// sample reads the top keys and the keys at their limit once more: their
// sequence values (hot_key, over_throttling), one GET a key, and for the
// top keys their entries scored in the future (clock_skew), two commands
// more. At most maxSampled keys: a fixed cost, whatever the keyspace.
func (p *RedisPoller) sample(ctx context.Context, sec *snapshot.RedisSection, atLimit []snapshot.Block) error {
	figures := make(map[string]snapshot.Block, len(sec.Counters.Top)+len(atLimit))
	var keys []string
	add := func(b snapshot.Block) {
		if _, ok := figures[b.Key]; !ok && len(keys) < maxSampled {
			figures[b.Key] = b
			keys = append(keys, b.Key)
		}
	}
	for _, k := range sec.Counters.Top {
		add(snapshot.Block{Key: k.Key, Count: k.Count, Limit: k.Limit})
	}
	top := len(keys)
	for _, b := range atLimit {
		add(b)
	}
	samples, at, err := p.cfg.WalkClient.SampleKeys(ctx, p.cfg.KeyPrefix, keys, top, p.cfg.FutureAfter)
	if err != nil {
		return err
	}
	sec.SampledAt, sec.FutureAfter = at, p.cfg.FutureAfter
	sec.Sampled = make([]snapshot.KeySample, len(samples))
	for i, s := range samples {
		f := figures[s.Key]
		sec.Sampled[i] = snapshot.KeySample{Key: s.Key, Seq: s.Seq, Count: f.Count, Limit: f.Limit, Future: s.Future, Ahead: s.Ahead}
	}
	return nil
}

// walkSection is the section of a walk by this observer.
func (p *RedisPoller) walkSection(t *redisTally, lim redisLimits, res *redisclient.WalkResult, began time.Time) *snapshot.RedisSection {
	sec := &snapshot.RedisSection{
		Registry:      mapSlice(res.Registry, registryEntry),
		Overrides:     mapSlice(res.Overrides.Overrides, override),
		DefaultLimit:  lim.defLimit,
		DefaultWindow: lim.defWindow,
	}
	t.fill(sec)
	c := &sec.Counters
	c.Top, p.topMisses = chooseTop(p.cfg.TopN, p.topMisses, c.Top, t.found)
	c.OrphanSequenceKeys, c.WrongTypeKeys = res.Stats.OrphanSequenceKeys, res.Stats.WrongTypeKeys
	c.WalkedBy, c.WalkedAt = p.cfg.InstanceID, new(began.UTC())
	c.Walk = p.walkFigures(res.Stats)
	sec.WalkLatency = res.Stats.BatchLatency
	return sec
}

// walkFigures says how a walk went, for Counters.Walk.
func (p *RedisPoller) walkFigures(st redisclient.WalkStats) *snapshot.Walk {
	w := &snapshot.Walk{
		Duration: snapshot.Known(st.Duration), KeysPerSecond: snapshot.Null(), RedisShare: snapshot.Null(),
		ShareMeasuredBy: snapshot.ShareByRoundTrips, Budget: snapshot.Null(), PacedBy: st.PacedBy,
	}
	if st.ServerTimeKnown {
		w.ShareMeasuredBy = snapshot.ShareByCommandstats
	}
	if secs := st.Duration.Seconds(); secs > 0 {
		w.KeysPerSecond = snapshot.Float(float64(st.ScannedKeys) / secs)
		w.RedisShare = snapshot.Float(min(1, st.Spent().Seconds()/secs))
	}
	switch st.PacedBy {
	case redisclient.PacedByBudget, redisclient.PacedByInterval:
		w.Budget = snapshot.Float(p.cfg.WalkBudget)
	case redisclient.PacedByNothing:
		w.Budget = 1
	}
	return w
}

// redisTally sums the walk as it goes; its lists are bounded, so memory
// does not grow with the keyspace.
type redisTally struct {
	c          snapshot.Counters
	top        *topList[snapshot.TopKey]
	blocks     *topList[snapshot.Block]
	overLimit  *topList[snapshot.Block]
	zeroActive *topList[snapshot.Block]
	withoutTTL *topList[string]
	longTTL    *topList[snapshot.KeyTTL]
	// near is the near-limit share; nearLimit the keys at or above it.
	near      ratio.Ratio
	nearLimit *topList[snapshot.NearLimitKey]
	// atLimit are the keys at or over their limit, up to maxSampled: the
	// keys a check may block, whose check rates the sample reads.
	atLimit *topList[snapshot.Block]
	// incumbents are the keys of the last published top; found holds the
	// figures of those the walk found, however they rank (see chooseTop).
	incumbents map[string]int
	found      map[string]snapshot.TopKey
}

// tallyConfig bounds a tally's lists and says which keys are near their
// limit.
type tallyConfig struct {
	topN, listCap int
	near          ratio.Ratio
}

func newRedisTally(cfg tallyConfig, incumbents map[string]int) *redisTally {
	hotter := func(a, b snapshot.Block) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
	}
	listCap := cfg.listCap
	return &redisTally{
		top:        newTopList(cfg.topN, hotterKey),
		blocks:     newTopList(listCap, hotter),
		atLimit:    newTopList(maxSampled, hotter),
		overLimit:  newTopList(listCap, hotter),
		zeroActive: newTopList(listCap, hotter),
		withoutTTL: newTopList(listCap, strings.Compare),
		longTTL: newTopList(listCap, func(a, b snapshot.KeyTTL) int {
			return cmp.Or(cmp.Compare(b.TTL-b.Window, a.TTL-a.Window), strings.Compare(a.Key, b.Key))
		}),
		near:       cfg.near,
		nearLimit:  newTopList(listCap, nearer),
		incumbents: incumbents,
		found:      make(map[string]snapshot.TopKey, len(incumbents)),
	}
}

func (t *redisTally) visit(cn redisclient.Counter, limit int64, window time.Duration) {
	t.c.Keys++
	t.c.RequestsInWindow += cn.Count
	b := snapshot.Block{Key: cn.Key, Count: cn.Count, Limit: limit}
	if cn.Count >= limit {
		t.c.BlockedKeys++
		t.blocks.add(b)
		t.atLimit.add(b)
	}
	// A zero limit with traffic is its own anomaly (ghost_allowing), not
	// an over-limit key.
	if limit > 0 && cn.Count > limit {
		t.c.OverLimitKeys++
		t.overLimit.add(b)
	}
	if limit == 0 && cn.Count > 0 {
		t.zeroActive.add(b)
	}
	// Exact, in integers: count*den >= num*limit. A key at or over its
	// limit is near it too, and one whose limit is 0 always is.
	if t.near.Reached(cn.Count, limit) {
		t.c.NearLimitKeys++
		t.nearLimit.add(snapshot.NearLimitKey{Key: cn.Key, Count: cn.Count, Limit: limit})
	}
	if cn.TTL == redisclient.NoTTL {
		t.c.KeysWithoutTTL++
		t.withoutTTL.add(cn.Key)
	}
	if window > 0 && cn.TTL > snapshot.TTLCeiling(window) {
		t.c.KeysTTLBeyondWindow++
		t.longTTL.add(snapshot.KeyTTL{Key: cn.Key, TTL: cn.TTL, Window: window})
	}
	k := snapshot.TopKey{Key: cn.Key, Count: cn.Count, Limit: limit, Remaining: max(0, limit-cn.Count), TTL: snapshot.Milliseconds(cn.TTL)}
	if _, ok := t.incumbents[cn.Key]; ok {
		t.found[cn.Key] = k
	}
	t.top.add(k)
}

func (t *redisTally) fill(sec *snapshot.RedisSection) {
	sec.Counters = t.c
	sec.Counters.Top = t.top.sorted()
	sec.Counters.NearLimit = t.nearLimit.sorted()
	sec.Counters.NearLimitRatio = t.near.Float()
	sec.Blocks = t.blocks.sorted()
	sec.BlocksTotal = int(t.c.BlockedKeys)
	sec.OverLimit = t.overLimit.sorted()
	sec.ZeroLimitActive = t.zeroActive.sorted()
	sec.WithoutTTL = t.withoutTTL.sorted()
	sec.TTLBeyondWindow = t.longTTL.sorted()
}

// topList keeps the n first items in cmp order seen so far, in memory
// bounded by 2n+1: past that it sorts them and drops the rest.
type topList[T any] struct {
	n     int
	cmp   func(a, b T) int
	items []T
}

func newTopList[T any](n int, cmp func(a, b T) int) *topList[T] {
	return &topList[T]{n: n, cmp: cmp}
}

func (l *topList[T]) add(x T) {
	if l.items = append(l.items, x); len(l.items) > 2*l.n {
		l.trim()
	}
}

func (l *topList[T]) trim() {
	slices.SortFunc(l.items, l.cmp)
	l.items = l.items[:min(len(l.items), l.n)]
}

// sorted returns a copy of the items in cmp order, never nil.
func (l *topList[T]) sorted() []T {
	l.trim()
	return append([]T{}, l.items...)
}

// The published top keys are sticky (docs/design.md, "One walk per
// cluster"): under a load at the limit many keys tie at count == limit and
// each walk finds a different few of them a little below it, so a top
// ranked anew at every walk would name new keys, each a series Prometheus
// keeps. A key of the published top (an incumbent) ranks a stickyShare-th
// higher (at least one more), wins ties, and stays while the walk finds it
// until it has ranked outside the top stickyWalks walks in a row;
// newcomers take the slots left. The published counts are the real ones.
const (
	stickyWalks = 3
	stickyShare = 4
)

// candidate is a key that may be published.
type candidate struct {
	key       snapshot.TopKey
	incumbent bool
}

// rank orders candidates, highest first: the count, with an incumbent's
// bonus, doubled and plus one for an incumbent, which wins a tie.
func (c candidate) rank() int64 {
	if !c.incumbent {
		return 2 * c.key.Count
	}
	return 2*(c.key.Count+max(1, c.key.Count/stickyShare)) + 1
}

// chooseTop is the stable top of n keys after a walk, hottest first, and
// the misses of each key in it. ranked is the walk's own top n, by count
// then name: every newcomer that could rank in the top n is in it. found
// holds every incumbent (a key of misses) the walk found, with its figures.
func chooseTop(n int, misses map[string]int, ranked []snapshot.TopKey, found map[string]snapshot.TopKey) ([]snapshot.TopKey, map[string]int) {
	cands := make([]candidate, 0, len(found)+len(ranked))
	for _, k := range found {
		cands = append(cands, candidate{key: k, incumbent: true})
	}
	for _, k := range ranked {
		if _, ok := found[k.Key]; !ok {
			cands = append(cands, candidate{key: k})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.rank(), a.rank()), strings.Compare(a.key.Key, b.key.Key))
	})
	top := make([]snapshot.TopKey, 0, n)
	next := make(map[string]int, n)
	for i, c := range cands {
		m := 0
		if i >= n {
			m = misses[c.key.Key] + 1
		}
		if c.incumbent && m < stickyWalks {
			top = append(top, c.key)
			next[c.key.Key] = m
		}
	}
	for _, c := range cands {
		if !c.incumbent && len(top) < n {
			top = append(top, c.key)
			next[c.key.Key] = 0
		}
	}
	slices.SortFunc(top, hotterKey)
	return top, next
}

// nearer orders near-limit keys nearest their limit first: the higher
// count/limit (a limit of 0 above any other), then the higher count, then
// by name.
func nearer(a, b snapshot.NearLimitKey) int {
	return cmp.Or(ratio.CompareShares(a.Count, a.Limit, b.Count, b.Limit),
		cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
}

// hotterKey orders top keys hottest first, then by name.
func hotterKey(a, b snapshot.TopKey) int {
	return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
}
