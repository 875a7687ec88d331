package history

import (
	"cmp"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/observerd/observerd/internal/snapshot"
)

// maxDetailBytes bounds a stretch's detail: a violation's message may be
// a kilobyte.
const maxDetailBytes = 200

// mark is one key in one state in one snapshot.
type mark struct {
	key, state string
	// tag tells apart stretches of one state: the invariant of a
	// violation, so that two invariants naming the key are two stretches.
	tag    string
	detail string
}

// marksOf lists the states of the keys of s, one mark per key, state and
// tag, the first found winning: the violations (whose messages say the
// most), then the blocks, the top keys and the keys near their limit.
//
// A violation's subject is taken for a key unless it names a node or a
// source of s: node_down's subject is a node, not a key.
func marksOf(s *snapshot.Snapshot) []mark {
	type id struct{ key, state, tag string }
	seen := map[id]bool{}
	var out []mark
	add := func(m mark) {
		if k := (id{m.key, m.state, m.tag}); !seen[k] {
			seen[k] = true
			m.detail = cut(m.detail, maxDetailBytes)
			out = append(out, m)
		}
	}
	notKeys := nonKeySubjects(s)
	for _, v := range s.Violations {
		switch {
		case v.Subject == "" || notKeys[v.Subject]:
		case v.Invariant == "over_limit":
			add(mark{key: v.Subject, state: snapshot.KeyOverLimit, detail: v.Message})
		default:
			add(mark{key: v.Subject, state: snapshot.KeyViolation, tag: v.Invariant, detail: v.Invariant + ": " + v.Message})
		}
	}
	counted := func(key string, count, limit int64) {
		if limit > 0 && count >= limit {
			add(mark{key: key, state: snapshot.KeyBlocked, detail: fmt.Sprintf("count %d of limit %d", count, limit)})
		}
		if limit > 0 && count > limit {
			add(mark{key: key, state: snapshot.KeyOverLimit, detail: fmt.Sprintf("count %d over limit %d", count, limit)})
		}
	}
	for _, b := range s.Blocks {
		// A key in Blocks is refused, whatever its figures say (a
		// limit of 0 refuses every check).
		add(mark{key: b.Key, state: snapshot.KeyBlocked, detail: fmt.Sprintf("count %d of limit %d", b.Count, b.Limit)})
		counted(b.Key, b.Count, b.Limit)
	}
	for _, k := range s.Counters.Top {
		counted(k.Key, k.Count, k.Limit)
	}
	for _, k := range s.Counters.NearLimit {
		// The blocks keep the highest counts, this list the keys nearest
		// their own limit: a key at a small limit may be blocked here
		// only (a limit of 0 refuses every check).
		if k.Count >= k.Limit {
			add(mark{key: k.Key, state: snapshot.KeyBlocked, detail: fmt.Sprintf("count %d of limit %d", k.Count, k.Limit)})
			counted(k.Key, k.Count, k.Limit)
			continue
		}
		// A key blocked is past near: its stretch says more.
		if seen[id{k.Key, snapshot.KeyBlocked, ""}] {
			continue
		}
		detail := fmt.Sprintf("count %d of limit %d", k.Count, k.Limit)
		if k.Limit > 0 {
			detail += fmt.Sprintf(" (%d%%)", k.Count*100/k.Limit)
		}
		add(mark{key: k.Key, state: snapshot.KeyNearLimit, detail: detail})
	}
	return out
}

// nonKeySubjects are the names in s that a violation's subject may be
// and that are not keys: its nodes' names and addresses, its sources.
func nonKeySubjects(s *snapshot.Snapshot) map[string]bool {
	names := map[string]bool{}
	for _, n := range s.Nodes {
		names[n.Name()], names[n.Address] = true, true
	}
	for name := range s.Sources {
		names[name] = true
	}
	return names
}

// cut shortens s to at most n bytes, on a rune boundary, marked with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// run is one stretch: consecutive recorded snapshots that showed a key in
// one state.
type run struct {
	state, tag string
	at, until  time.Time
	last       uint64 // the number of the run's last snapshot, see Store.recorded
	detail     string // as the last snapshot of the run had it
}

// keyIndex is the stretches of every key, kept as snapshots are
// recorded, bounded in keys and stretches. Its keys are in a list by the
// last snapshot that marked them, so that the one marked longest ago, the
// first forgotten, is found at once.
type keyIndex struct {
	keys       map[string]*keyRuns
	head, tail *keyRuns // marked longest ago, most recently
	runs       int
	maxKeys    int
	maxRuns    int
}

// keyRuns is one key's stretches, oldest first, in the list of keys.
type keyRuns struct {
	key        string
	runs       []run
	prev, next *keyRuns
}

func newKeyIndex(maxKeys, maxRuns int) keyIndex {
	return keyIndex{keys: map[string]*keyRuns{}, maxKeys: maxKeys, maxRuns: maxRuns}
}

// observe records the marks of snapshot number n, generated at at: a mark
// whose key had a stretch in the same state up to snapshot n-1 extends
// it; any other starts one. A snapshot without the key ends its stretch.
// since is the oldest summary kept: stretches of a marked key that ended
// before it are dropped.
func (x *keyIndex) observe(n uint64, at, since time.Time, marks []mark) {
	for _, m := range marks {
		k := x.keys[m.key]
		if k == nil {
			k = &keyRuns{key: m.key}
			x.keys[m.key] = k
		} else {
			x.unlink(k)
		}
		x.link(k)
		before := len(k.runs)
		k.runs = slices.DeleteFunc(k.runs, func(r run) bool { return r.until.Before(since) })
		x.runs -= before - len(k.runs)
		i := slices.IndexFunc(k.runs, func(r run) bool { return r.last+1 >= n && r.state == m.state && r.tag == m.tag })
		if i >= 0 {
			r := &k.runs[i]
			r.until, r.last, r.detail = at, n, m.detail
			continue
		}
		k.runs = append(k.runs, run{state: m.state, tag: m.tag, at: at, until: at, last: n, detail: m.detail})
		x.runs++
		if len(k.runs) > maxRunsPerKey {
			k.runs = slices.Delete(k.runs, 0, 1)
			x.runs--
		}
	}
	x.prune(since)
}

// prune forgets the keys marked last before since, the oldest summary
// kept, and then, past the bounds, the keys marked longest ago.
func (x *keyIndex) prune(since time.Time) {
	for k := x.head; k != nil && (lastEnd(k.runs).Before(since) || len(x.keys) > x.maxKeys || x.runs > x.maxRuns); k = x.head {
		x.unlink(k)
		delete(x.keys, k.key)
		x.runs -= len(k.runs)
	}
}

func (x *keyIndex) link(k *keyRuns) {
	k.prev, k.next = x.tail, nil
	if x.tail != nil {
		x.tail.next = k
	} else {
		x.head = k
	}
	x.tail = k
}

func (x *keyIndex) unlink(k *keyRuns) {
	if k.prev != nil {
		k.prev.next = k.next
	} else {
		x.head = k.next
	}
	if k.next != nil {
		k.next.prev = k.prev
	} else {
		x.tail = k.prev
	}
	k.prev, k.next = nil, nil
}

func lastEnd(runs []run) time.Time {
	var end time.Time
	for _, r := range runs {
		if r.until.After(end) {
			end = r.until
		}
	}
	return end
}

// events returns key's stretches that ended at or after since, newest
// first.
func (x *keyIndex) events(key string, since time.Time) []snapshot.KeyEvent {
	k := x.keys[key]
	if k == nil {
		return []snapshot.KeyEvent{}
	}
	out := make([]snapshot.KeyEvent, 0, len(k.runs))
	for _, r := range k.runs {
		if !r.until.Before(since) {
			out = append(out, snapshot.KeyEvent{At: r.at, Until: r.until, State: r.state, Detail: r.detail})
		}
	}
	slices.SortStableFunc(out, func(a, b snapshot.KeyEvent) int {
		return cmp.Or(b.Until.Compare(a.Until), b.At.Compare(a.At))
	})
	return out
}
