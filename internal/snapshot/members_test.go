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

// TestSplitMembers cuts documents whose strings hold what ends a member
// outside a string: commas, braces, brackets, escaped quotes and
// backslashes.
func TestSplitMembers(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{give: `{}`},
		{give: `{"a":1}`, want: []string{`"a":1`}},
		{give: `{"a":"x,}]\"","b":[{"c":"\\"},{}],"d":{"e":[1,2]}}`, want: []string{`"a":"x,}]\""`, `"b":[{"c":"\\"},{}]`, `"d":{"e":[1,2]}`}},
		{give: `{"a":"\\\\","b":null}`, want: []string{`"a":"\\\\"`, `"b":null`}},
	}
	for _, tt := range tests {
		got, err := splitMembers([]byte(tt.give))
		if err != nil {
			t.Fatalf("splitMembers(%s): %v", tt.give, err)
		}
		var members []string
		for _, m := range got {
			members = append(members, string(m.JSON))
		}
		if diff := cmp.Diff(tt.want, members); diff != "" {
			t.Errorf("splitMembers(%s) (-want +got):\n%s", tt.give, diff)
		}
	}
	if _, err := splitMembers([]byte(`[1]`)); err == nil {
		t.Error("splitMembers of an array succeeded")
	}
}
