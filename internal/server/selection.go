package server

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/observerd/observerd/internal/snapshot"
)

// selection is a set of the snapshot's top-level members, bit i for
// member i of snapshot.MemberNames; 0 means the whole snapshot.
type selection uint64

// maxSelections bounds the selections kept per snapshot; a request for
// another one is answered for itself alone.
const maxSelections = 16

// selector answers selections of a published snapshot's members
// (?sections=), each joined from the members the store serialized and
// compressed once: dashboards asking for the same sections of one
// snapshot cost one answer. Only the newest snapshot's are kept.
type selector struct {
	names  []string
	always selection // what tells one snapshot from another
	all    selection

	mu      sync.Mutex // guards p and entries; held while one is built
	p       *snapshot.Published
	entries map[selection]*answer
	gz      snapshot.Gzipper
}

func newSelector() (*selector, error) {
	names, err := snapshot.MemberNames()
	if err != nil {
		return nil, err
	}
	if len(names) > 64 {
		return nil, fmt.Errorf("snapshot has %d members: a selection holds at most 64", len(names))
	}
	s := &selector{names: names, all: selection(1)<<len(names) - 1}
	for _, name := range []string{"schema_version", "sequence", "generated_at"} {
		i := slices.Index(names, name)
		if i < 0 {
			return nil, fmt.Errorf("snapshot has no member %q, which every selection carries", name)
		}
		s.always |= 1 << i
	}
	return s, nil
}

// parse turns comma-separated member names, from one or more values of
// the sections parameter, into a selection; a selection of every member
// is the whole snapshot, 0.
func (s *selector) parse(values []string) (selection, error) {
	sel := s.always
	named := false
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			i := slices.Index(s.names, name)
			if i < 0 {
				return 0, fmt.Errorf("unknown section %q", name)
			}
			sel |= 1 << i
			named = true
		}
	}
	if !named {
		return 0, fmt.Errorf("no section named")
	}
	if sel == s.all {
		return 0, nil
	}
	return sel, nil
}

// get returns the answer of sel over p; of 0, the whole snapshot.
func (s *selector) get(p *snapshot.Published, sel selection) *answer {
	if sel == 0 {
		return &answer{etag: p.ETag, json: p.JSON, gzip: p.Gzip}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil || p.Snapshot.Sequence > s.p.Snapshot.Sequence {
		s.p, s.entries = p, make(map[selection]*answer, maxSelections)
	}
	if s.p != p {
		// Sequences only grow: an older p is a request that loaded it
		// just before a publish.
		return selected(p, sel, &s.gz)
	}
	a := s.entries[sel]
	if a == nil {
		a = selected(p, sel, &s.gz)
		if len(s.entries) < maxSelections {
			s.entries[sel] = a
		}
	}
	return a
}

// selected joins the members of p in sel into a document. Its ETag is the
// snapshot's with the selection added, so that it never matches the whole
// document's nor another selection's.
func selected(p *snapshot.Published, sel selection, gz *snapshot.Gzipper) *answer {
	body := []byte{'{'}
	for i, m := range p.Members {
		if sel&(1<<i) == 0 {
			continue
		}
		if len(body) > 1 {
			body = append(body, ',')
		}
		body = append(body, m.JSON...)
	}
	body = append(body, '}')
	return &answer{
		etag: selectedETag(p.ETag, sel),
		json: body,
		gzip: gz.Gzip(body),
	}
}

// selectedETag is the ETag of selection sel of the document tagged etag.
func selectedETag(etag string, sel selection) string {
	return strings.TrimSuffix(etag, `"`) + "-s" + strconv.FormatUint(uint64(sel), 16) + `"`
}
