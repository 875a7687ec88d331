package snapshot

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPublishedMembers: the members of a published snapshot, joined,
// are its document byte for byte, named as MemberNames names them and as
// the document's own keys are, in its order.
func TestPublishedMembers(t *testing.T) {
	p := goldenStore(t).Load()
	parts := make([][]byte, len(p.Members))
	var got []string
	for i, m := range p.Members {
		parts[i] = m.JSON
		got = append(got, m.Name)
	}
	joined := append(append([]byte("{"), bytes.Join(parts, []byte(","))...), '}')
	if !bytes.Equal(joined, p.JSON) {
		t.Errorf("members joined:\n%s\nthe document:\n%s", joined, p.JSON)
	}
	dec := json.NewDecoder(bytes.NewReader(p.JSON))
	_, _ = dec.Token() // {
	var keys []string
	for dec.More() {
		key, _ := dec.Token()
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key.(string))
	}
	if diff := cmp.Diff(keys, got); diff != "" {
		t.Errorf("member names (-document +members):\n%s", diff)
	}
	names, err := MemberNames()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("member names (-MemberNames +published):\n%s", diff)
	}
	zr, err := gzip.NewReader(bytes.NewReader(p.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, p.JSON) {
		t.Errorf("Gzip unzipped differs from JSON: %v", err)
	}
}
