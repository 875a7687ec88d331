package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
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
// members joined by commas and wrapped in braces are doc again.
func splitMembers(doc []byte) ([]Member, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("split the snapshot document: %w", err)
	}
	var members []Member
	start := int64(1) // past the opening brace
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("split the snapshot document: %w", err)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("split the snapshot document at %q: %w", key, err)
		}
		end := dec.InputOffset()
		members = append(members, Member{Name: key.(string), JSON: doc[start:end]})
		start = end + 1 // past the comma
	}
	return members, nil
}

// Gzip compresses a document as observerd serves it: for speed rather
// than size, since each snapshot is compressed at publish. It writes to
// memory, which cannot fail.
func Gzip(doc []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // fails only on a bad level
	_, _ = zw.Write(doc)
	_ = zw.Close()
	return buf.Bytes()
}
