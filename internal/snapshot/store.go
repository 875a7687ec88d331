package snapshot

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/observerd/observerd/internal/source"
	"go.uber.org/zap"
)

// JudgeInput is what the invariant checks see of one merged snapshot.
type JudgeInput struct {
	Now      time.Time
	Snapshot *Snapshot     // merged, without violations; read only
	Redis    *RedisSection // the last good Redis section, or nil
	Nodes    *NodesSection // the last good node API section, or nil
	// Prometheus is the last good Prometheus section, or nil.
	Prometheus *PrometheusSection
	Fresh      map[string]bool
	Enabled    []string
}

// StoreConfig configures a Store.
type StoreConfig struct {
	// Enabled lists the enabled sources.
	Enabled []string
	// StaleAfter is, per source, the age of the last success beyond which
	// its data counts as stale even if no poll has failed.
	StaleAfter map[string]time.Duration
	// DefaultLimit and DefaultWindow are used while no node has answered
	// /api/limits.
	DefaultLimit  int64
	DefaultWindow time.Duration
	// MaxKeysOfInterest bounds Hints.KeysOfInterest.
	MaxKeysOfInterest int
	// NodeForgetAfter is how long a node that is neither registered nor
	// polled stays in the list (as down) after it was last seen.
	NodeForgetAfter time.Duration
	// MaxNameBytes bounds every name a peer supplies as published (see
	// names.Clean), and four times that every error text and violation
	// message. Zero means names.DefaultMaxBytes.
	MaxNameBytes int
	// Judge evaluates the invariants, called from the Store's one writer
	// path, never concurrently; nil judges nothing.
	Judge func(JudgeInput) ([]Violation, []UnknownInvariant)
	// OnPublish, when set, is handed each snapshot as it is published,
	// in order, from the one writer path, so that a follower misses none
	// published in quick succession; it must not block.
	OnPublish func(*Published)
	Logger    *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Published is one published snapshot with everything derived from it
// once, at publish time, so that readers only read.
type Published struct {
	Snapshot *Snapshot
	JSON     []byte   // the snapshot serialized
	Gzip     []byte   // JSON, gzip-compressed
	Members  []Member // JSON's top-level members, in document order
	ETag     string   // quoted, strong
	Hints    Hints
}

// Store merges the sections of every source into snapshots and publishes
// them. Update is the single writer path; Load never blocks.
type Store struct {
	cfg    StoreConfig
	bootID string
	clean  cleaner

	mu     sync.Mutex // serializes Update: guards states, sections, nodes and seq
	states map[string]SourceState
	// sections holds each source's last good section with every peer
	// string cleaned: what snapshots and invariants are built from. The
	// raw sections in states give the hints, whose names pollers look up.
	sections map[string]Section
	nodes    nodeMemory
	seq      uint64
	gz       Gzipper

	cur atomic.Pointer[Published]
	// changed is closed, and replaced, each time a snapshot is published.
	changed atomic.Pointer[chan struct{}]
}

// NewStore returns an empty Store: Load returns nil until the first Update.
func NewStore(cfg StoreConfig) *Store {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Logger = cmp.Or(cfg.Logger, zap.NewNop())
	s := &Store{
		cfg:      cfg,
		bootID:   strconv.FormatInt(cfg.Now().UnixNano(), 36),
		clean:    newCleaner(cfg.MaxNameBytes),
		states:   make(map[string]SourceState, len(cfg.Enabled)),
		sections: make(map[string]Section, len(cfg.Enabled)),
		nodes:    nodeMemory{},
	}
	s.changed.Store(new(make(chan struct{})))
	return s
}

// Load returns the current snapshot, or nil before the first one.
func (s *Store) Load() *Published { return s.cur.Load() }

// Hints returns what pollers need from the last snapshot; before the
// first one, the configured defaults.
func (s *Store) Hints() Hints {
	if p := s.cur.Load(); p != nil {
		return p.Hints
	}
	return Hints{DefaultLimit: s.cfg.DefaultLimit, DefaultWindow: s.cfg.DefaultWindow}
}

// Update records a source's state after a poll, then merges, judges,
// serializes and publishes a new snapshot.
func (s *Store) Update(st SourceState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[st.Source] = st
	// The one place peer strings enter what is published: each section is
	// cleaned once, when it arrives.
	s.sections[st.Source] = s.clean.section(st.Section)
	p, err := s.build(s.cfg.Now().UTC())
	if err != nil {
		// Serialization of our own types cannot fail short of a bug;
		// keep serving the previous snapshot rather than a broken one.
		s.cfg.Logger.Error("publish snapshot", zap.Error(err))
		return
	}
	s.cur.Store(p)
	if s.cfg.OnPublish != nil {
		s.cfg.OnPublish(p)
	}
	close(*s.changed.Swap(new(make(chan struct{}))))
}

// Changed returns a channel that is closed when a snapshot newer than the
// one Load returns now is published. Take the channel before calling
// Load: a snapshot published in between is then either the one Load
// returns or one that closes the channel.
func (s *Store) Changed() <-chan struct{} { return *s.changed.Load() }

// build merges the current states into a new Published. Called with mu held.
func (s *Store) build(now time.Time) (*Published, error) {
	s.seq++
	snap := &Snapshot{
		SchemaVersion: SchemaVersion,
		Sequence:      s.seq,
		GeneratedAt:   now,
		Sources:       make(map[string]SourceStatus, len(s.cfg.Enabled)),
		Nodes:         []Node{},
		Blocks:        []Block{},
		Violations:    []Violation{},
		Unknown:       []UnknownInvariant{},
		Limits: Limits{
			DefaultLimit:  s.cfg.DefaultLimit,
			DefaultWindow: Milliseconds(s.cfg.DefaultWindow),
			DefaultsFrom:  "config",
			Overrides:     []Override{},
		},
		Counters: Counters{Top: []TopKey{}, NearLimit: []NearLimitKey{}},
		Traffic:  Traffic{AllowedPerSecond: Null(), BlockedPerSecond: Null()},
	}
	fresh := make(map[string]bool, len(s.cfg.Enabled))
	for _, name := range s.cfg.Enabled {
		status := s.status(s.states[name], s.sections[name], now)
		snap.Sources[name] = status
		fresh[name] = status.Status == StatusOK
	}

	redis, _ := s.sections[source.Redis].(*RedisSection)
	nodes, _ := s.sections[source.Ratelimiter].(*NodesSection)
	prom, _ := s.sections[source.Prometheus].(*PrometheusSection)

	mergeLimits(snap, nodes, redis)
	mergeRedis(snap, redis, s.states[source.Redis].Err == nil)
	if prom != nil {
		snap.Traffic = Traffic{AllowedPerSecond: prom.AllowedPerSecond, BlockedPerSecond: prom.BlockedPerSecond}
	}
	snap.Nodes = s.nodes.merge(mergeInput{now: now, redis: redis, nodes: nodes, prom: prom, forgetAfter: s.cfg.NodeForgetAfter})
	addAPICounts(snap.Counters.Top, nodes)

	s.judge(JudgeInput{Now: now, Snapshot: snap, Redis: redis, Nodes: nodes, Prometheus: prom, Fresh: fresh, Enabled: slices.Clone(s.cfg.Enabled)})
	// Hints come from the raw sections: the Redis poller counts the keys
	// of interest by their real names, the node poller dials the real
	// addresses.
	rawRedis, _ := s.states[source.Redis].Section.(*RedisSection)
	rawNodes, _ := s.states[source.Ratelimiter].Section.(*NodesSection)
	return s.publish(snap, hintsFrom(snap, rawRedis, rawNodes, s.cfg.MaxKeysOfInterest))
}

// judge sets the violations and unknown invariants of in.Snapshot, clean
// copies of the verdict.
func (s *Store) judge(in JudgeInput) {
	if s.cfg.Judge == nil {
		return
	}
	v, u := s.cfg.Judge(in)
	if v != nil {
		in.Snapshot.Violations = cleanEach(v, s.clean.violation)
	}
	if u != nil {
		in.Snapshot.Unknown = cleanEach(u, s.clean.unknown)
	}
}

// publish serializes snap once, whole, compressed and cut into its
// members. Called with mu held.
func (s *Store) publish(snap *Snapshot, hints Hints) (*Published, error) {
	body, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot %d: %w", snap.Sequence, err)
	}
	members, err := splitMembers(body)
	if err != nil {
		return nil, fmt.Errorf("publish snapshot %d: %w", snap.Sequence, err)
	}
	return &Published{
		Snapshot: snap,
		JSON:     body,
		Gzip:     s.gz.Gzip(body),
		Members:  members,
		// The boot ID keeps a client's cached ETag from matching a
		// different snapshot with the same number after a restart.
		ETag:  `"` + s.bootID + "-" + strconv.FormatUint(snap.Sequence, 10) + `"`,
		Hints: hints,
	}, nil
}

// status turns a runner's state and its clean section into the source's
// published status.
func (s *Store) status(st SourceState, sec Section, now time.Time) SourceStatus {
	out := SourceStatus{
		Status:              StatusPending,
		Duration:            Known(st.Duration),
		ConsecutiveFailures: st.ConsecutiveFailures,
		FailuresTotal:       st.FailuresTotal,
	}
	if !st.LastAttempt.IsZero() {
		out.LastAttempt = new(st.LastAttempt.UTC())
	}
	if !st.LastSuccess.IsZero() {
		out.LastSuccess = new(st.LastSuccess.UTC())
		out.Age = Known(now.Sub(st.LastSuccess))
	}
	if st.Err != nil {
		// A peer's error may quote anything it answered.
		out.Error = s.clean.msg(st.Err.Error())
	}
	var walked Counters // a Redis section's, who walked and when
	switch sec := sec.(type) {
	case *NodesSection:
		out.Errors = endpointErrors(sec)
	case *PrometheusSection:
		if len(sec.QueryErrors) > 0 {
			out.Errors = maps.Clone(sec.QueryErrors)
		}
	case *RedisSection:
		walked = sec.Counters
	}
	bound := s.cfg.StaleAfter[st.Source]
	switch {
	case st.LastAttempt.IsZero(): // pending
	case st.Err != nil && st.Section == nil:
		out.Status = StatusError
	case st.Err != nil:
		out.Status = StatusStale
	case bound > 0 && now.Sub(st.LastSuccess) > bound:
		out.Status = StatusStale
		out.Error = fmt.Sprintf("last success %s ago, more than %s", now.Sub(st.LastSuccess).Round(time.Millisecond), bound)
	case bound > 0 && walked.WalkedAt != nil && now.Sub(*walked.WalkedAt) > bound:
		// Among sidecars sharing one walk, a fresh read of an old walk is
		// old data.
		out.Status = StatusStale
		out.Error = fmt.Sprintf("counters walked by %s %s ago, more than %s: the walking observer is stalled or gone", walked.WalkedBy, now.Sub(*walked.WalkedAt).Round(time.Millisecond), bound)
	default:
		out.Status = StatusOK
	}
	return out
}
