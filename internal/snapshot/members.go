package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"sync"
)

// Member is one top-level member of the snapshot document, as published:
// a reader serves any selection of members (/snapshot?sections=) by
// joining them, without encoding the snapshot again.
type Member struct {
	Name string
	// JSON is the member as the whole document has it, `"name":value`.
	JSON []byte
}

// MemberNames returns the names of the document's top-level members, in
// document order, as every published snapshot has them: every field of
// Snapshot is written, none is omitted when empty.
func MemberNames() ([]string, error) {
	body, err := json.Marshal(&Snapshot{})
	if err != nil {
		return nil, fmt.Errorf("encode an empty snapshot: %w", err)
	}
	members, err := splitMembers(body)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Name
	}
	return names, nil
}

// splitMembers cuts doc, a JSON object as encoding/json writes it (no
// space between tokens), into its members, each a slice of doc: the
// members joined by commas and wrapped in braces are doc again. It reads
// doc once, byte by byte, as a publish pays it on every snapshot: a comma
// outside any string, object or array of the top level ends a member.
func splitMembers(doc []byte) ([]Member, error) {
	if len(doc) < 2 || doc[0] != '{' || doc[len(doc)-1] != '}' {
		return nil, fmt.Errorf("split the snapshot document: not a JSON object")
	}
	var members []Member
	depth, inString, escaped, start := 0, false, false, 1
	for i := 1; i < len(doc); i++ {
		switch c := doc[i]; {
		case escaped:
			escaped = false
		case inString:
			escaped, inString = c == '\\', c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case (c == '}' || c == ']') && depth > 0:
			depth--
		case (c == ',' || c == '}') && depth == 0 && i > start:
			// A name is one of Snapshot's json tags: no escapes in it.
			name, _, ok := bytes.Cut(doc[start+1:i], []byte(`":`))
			if !ok {
				return nil, fmt.Errorf("split the snapshot document: no member name at byte %d", start)
			}
			members = append(members, Member{Name: string(name), JSON: doc[start:i]})
			start = i + 1
		}
	}
	return members, nil
}

// Gzipper compresses documents as observerd serves them: for speed rather
// than size, since each snapshot is compressed at publish. It keeps its
// compressor, whose state (about a megabyte) a new one would allocate for
// every document. The zero value is ready; it is safe for concurrent use.
type Gzipper struct {
	mu sync.Mutex // guards zw, one document at a time
	zw *gzip.Writer
}

// Gzip compresses doc into memory, which cannot fail.
func (g *Gzipper) Gzip(doc []byte) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	var buf bytes.Buffer
	if g.zw == nil {
		g.zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed) // fails only on a bad level
	} else {
		g.zw.Reset(&buf)
	}
	_, _ = g.zw.Write(doc)
	_ = g.zw.Close()
	return buf.Bytes()
}

// SplitMembers cuts a snapshot document as the Store writes it (or a
// document joined from such members) into its top-level members, each a
// slice of doc, as Published.Members holds them: for documents kept
// elsewhere, such as the history's summaries, served by the same
// selections.
func SplitMembers(doc []byte) ([]Member, error) { return splitMembers(doc) }
