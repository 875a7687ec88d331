package poll

import (
	"cmp"
	"slices"
	"strings"

	"github.com/observerd/observerd/internal/snapshot"
)

// The published top keys are sticky, because each key in it is a series
// of observerd_counter_requests and observerd_counter_limit: under a load
// at the limit, many keys tie at count == limit, and each walk finds a
// different few of them a member or a few below it (a member left the
// window, the next request has not come yet), so a top ranked anew at
// every walk would name new keys every walk and Prometheus would keep
// every series it ever saw. A key of the published top (an incumbent)
// therefore
//
//   - ranks as if its count were a quarter higher (1/stickyShare, at
//     least one more), so that it stays ahead of newcomers it ties with
//     or nearly does, and of the same count ties are the incumbent's;
//   - stays published until it has ranked outside the top stickyWalks
//     walks in a row, as long as the walk still finds it;
//
// and newcomers take the slots left, hottest first. The list is never
// longer than TopN: the incumbents are at most TopN. The published counts
// are the real ones, so a published key may count less than one left out.
// The price of the hysteresis is that a newcomer hotter than the whole top
// is published only once an incumbent has been out for stickyWalks walks.
const (
	stickyWalks = 3
	stickyShare = 4
)

// stableTop is the walker's memory of the top it published: per key, how
// many walks in a row it has ranked outside the top. An observer that
// reads the shared walk remembers the walker's top, so that it keeps it
// when it takes the walk over. RedisPoller.mu guards it.
type stableTop struct {
	n      int
	misses map[string]int
}

func newStableTop(n int) stableTop {
	return stableTop{n: n, misses: map[string]int{}}
}

// incumbents returns the keys of the last published top, for the tally
// to note the figures of each.
func (s *stableTop) incumbents() map[string]bool {
	out := make(map[string]bool, len(s.misses))
	for k := range s.misses {
		out[k] = true
	}
	return out
}

// remember takes top, another observer's, as the last published one.
func (s *stableTop) remember(top []snapshot.TopKey) {
	s.misses = make(map[string]int, len(top))
	for _, k := range top {
		s.misses[k.Key] = 0
	}
}

// next returns the top to publish after a walk, hottest first, and
// remembers it. ranked is the walk's own top n, by count then name; found
// holds every incumbent the walk found, with its figures.
func (s *stableTop) next(ranked []snapshot.TopKey, found map[string]snapshot.TopKey) []snapshot.TopKey {
	top, misses := chooseTop(s.n, s.misses, ranked, found)
	s.misses = misses
	return top
}

// candidate is a key that may be published.
type candidate struct {
	key       snapshot.TopKey
	incumbent bool
}

// rank is the count a candidate ranks by.
func (c candidate) rank() int64 {
	if !c.incumbent {
		return c.key.Count
	}
	return c.key.Count + max(1, c.key.Count/stickyShare)
}

// chooseTop is the stable top of n keys after a walk (see stickyWalks),
// and the misses of each key in it. Every newcomer that could rank in the
// top n is in ranked: n keys rank ahead of any other, incumbents or not.
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
		return cmp.Or(cmp.Compare(b.rank(), a.rank()), compareBool(b.incumbent, a.incumbent), strings.Compare(a.key.Key, b.key.Key))
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

// hotterKey orders top keys hottest first, then by name.
func hotterKey(a, b snapshot.TopKey) int {
	return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}
