package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/observerd/observerd/internal/snapshot"
)

// maxSelections bounds the selections encoded and kept per published
// snapshot; a request for another one is encoded for itself alone.
const maxSelections = 16

// answer is one body /snapshot and /events serve, with its header values:
// the whole published snapshot, or a selection of its sections.
type answer struct {
	p        *snapshot.Published
	etag     []string
	json     []byte
	gzip     []byte
	plainLen []string // Content-Length of json
	gzipLen  []string // Content-Length of gzip
}

func newAnswer(p *snapshot.Published, etag string, body, gz []byte) *answer {
	return &answer{
		p:        p,
		etag:     []string{etag},
		json:     body,
		gzip:     gz,
		plainLen: []string{strconv.Itoa(len(body))},
		gzipLen:  []string{strconv.Itoa(len(gz))},
	}
}

// selections encodes selections of published snapshots, each once: many
// dashboards asking for the same sections of the same snapshot cost one
// encoding. Only the newest snapshot's are kept, at most maxSelections.
type selections struct {
	fields *snapshotFields
	gz     sync.Pool // *gzip.Writer: a new one allocates its whole state

	mu      sync.Mutex // guards p and entries
	p       *snapshot.Published
	entries map[selection]*selected
}

// selected is one cache entry; once makes concurrent first requests wait
// for a single encoding.
type selected struct {
	once sync.Once
	a    *answer
	err  error
}

func newSelections(fields *snapshotFields) *selections {
	return &selections{fields: fields}
}

// get returns the answer of sel over p.
func (s *selections) get(p *snapshot.Published, sel selection) (*answer, error) {
	e := s.entry(p, sel)
	if e == nil {
		return s.build(p, sel)
	}
	e.once.Do(func() { e.a, e.err = s.build(p, sel) })
	return e.a, e.err
}

// entry returns the cache entry of sel over p, or nil when it is not to
// be cached: p is older than the snapshot cached, or the cache is full.
func (s *selections) entry(p *snapshot.Published, sel selection) *selected {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != p {
		// Sequences only grow within one store: an older p is a request
		// that loaded it just before a publish.
		if s.p != nil && p.Snapshot.Sequence < s.p.Snapshot.Sequence {
			return nil
		}
		s.p, s.entries = p, make(map[selection]*selected, maxSelections)
	}
	e := s.entries[sel]
	if e == nil {
		if len(s.entries) >= maxSelections {
			return nil
		}
		e = &selected{}
		s.entries[sel] = e
	}
	return e
}

// build encodes sel over p, plain and gzip. Its ETag is the snapshot's
// with the selection added, so that it never matches the whole
// document's nor another selection's.
func (s *selections) build(p *snapshot.Published, sel selection) (*answer, error) {
	body, err := s.fields.encode(p.Snapshot, sel)
	if err != nil {
		return nil, err
	}
	gz, err := s.compress(body)
	if err != nil {
		return nil, fmt.Errorf("compress sections of snapshot %d: %w", p.Snapshot.Sequence, err)
	}
	return newAnswer(p, selectionETag(p.ETag, sel), body, gz), nil
}

// selectionETag is the ETag of sel over the snapshot tagged etag: the
// same tag, still quoted, with the selection added.
func selectionETag(etag string, sel selection) string {
	return strings.TrimSuffix(etag, `"`) + "-s" + strconv.FormatUint(uint64(sel), 16) + `"`
}

func (s *selections) compress(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := s.gz.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	} else {
		zw.Reset(&buf)
	}
	defer s.gz.Put(zw)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
