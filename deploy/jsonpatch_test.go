package deploy

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// applyJSONPatch applies RFC 6902 operations (add, remove, replace, move,
// test) to doc, a tree of map[string]any and []any, and returns the new
// tree. It is the fallback renderer's stand-in for kustomize's patches.
func applyJSONPatch(doc any, ops []jsonPatchOp) (any, error) {
	for _, op := range ops {
		var err error
		if doc, err = applyOp(doc, op); err != nil {
			return nil, fmt.Errorf("%s %s: %w", op.Op, op.Path, err)
		}
	}
	return doc, nil
}

func applyOp(doc any, op jsonPatchOp) (any, error) {
	switch op.Op {
	case "add":
		return update(doc, pointer(op.Path), addLeaf(op.Value))
	case "remove":
		return update(doc, pointer(op.Path), removeLeaf)
	case "replace":
		return update(doc, pointer(op.Path), replaceLeaf(op.Value))
	case "test":
		got, err := lookup(doc, pointer(op.Path))
		if err != nil {
			return nil, err
		}
		if !reflect.DeepEqual(got, op.Value) {
			return nil, fmt.Errorf("found %v, want %v", got, op.Value)
		}
		return doc, nil
	case "move":
		v, err := lookup(doc, pointer(op.From))
		if err != nil {
			return nil, err
		}
		if doc, err = update(doc, pointer(op.From), removeLeaf); err != nil {
			return nil, err
		}
		return update(doc, pointer(op.Path), addLeaf(v))
	}
	return nil, fmt.Errorf("unsupported operation %q", op.Op)
}

// pointer splits a JSON pointer into its unescaped tokens.
func pointer(p string) []string {
	tokens := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, tok := range tokens {
		tokens[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
	}
	return tokens
}

// leafFunc changes key of parent, the node that holds the pointer's last
// token, and returns the new parent.
type leafFunc func(parent any, key string) (any, error)

// update walks tokens down from node and returns node with leaf applied at
// the end.
func update(node any, tokens []string, leaf leafFunc) (any, error) {
	if len(tokens) == 1 {
		return leaf(node, tokens[0])
	}
	child, err := child(node, tokens[0])
	if err != nil {
		return nil, err
	}
	if child, err = update(child, tokens[1:], leaf); err != nil {
		return nil, err
	}
	return replaceLeaf(child)(node, tokens[0])
}

func lookup(node any, tokens []string) (any, error) {
	for _, tok := range tokens {
		var err error
		if node, err = child(node, tok); err != nil {
			return nil, err
		}
	}
	return node, nil
}

func child(node any, key string) (any, error) {
	switch n := node.(type) {
	case map[string]any:
		v, ok := n[key]
		if !ok {
			return nil, fmt.Errorf("no key %q", key)
		}
		return v, nil
	case []any:
		i, err := index(n, key, false)
		if err != nil {
			return nil, err
		}
		return n[i], nil
	}
	return nil, fmt.Errorf("%q: not a map or a list", key)
}

// index parses key as an index of list; with insert, len(list) and "-"
// (the end) are allowed too.
func index(list []any, key string, insert bool) (int, error) {
	end := len(list)
	if !insert {
		end--
	}
	if key == "-" && insert {
		return len(list), nil
	}
	i, err := strconv.Atoi(key)
	if err != nil || i < 0 || i > end {
		return 0, fmt.Errorf("index %q out of range of a list of %d", key, len(list))
	}
	return i, nil
}

func addLeaf(v any) leafFunc {
	return func(parent any, key string) (any, error) {
		switch p := parent.(type) {
		case map[string]any:
			p[key] = v
			return p, nil
		case []any:
			i, err := index(p, key, true)
			if err != nil {
				return nil, err
			}
			return append(p[:i], append([]any{v}, p[i:]...)...), nil
		}
		return nil, fmt.Errorf("add %q: not a map or a list", key)
	}
}

func replaceLeaf(v any) leafFunc {
	return func(parent any, key string) (any, error) {
		if _, err := child(parent, key); err != nil {
			return nil, err
		}
		switch p := parent.(type) {
		case map[string]any:
			p[key] = v
		case []any:
			i, _ := index(p, key, false)
			p[i] = v
		}
		return parent, nil
	}
}

func removeLeaf(parent any, key string) (any, error) {
	if _, err := child(parent, key); err != nil {
		return nil, err
	}
	switch p := parent.(type) {
	case map[string]any:
		delete(p, key)
	case []any:
		i, _ := index(p, key, false)
		return append(p[:i:i], p[i+1:]...), nil
	}
	return parent, nil
}

func TestApplyJSONPatch(t *testing.T) {
	doc := func() any {
		return map[string]any{"a": []any{"x", "y"}, "b": map[string]any{"c": 1}}
	}
	tests := []struct {
		name string
		give []jsonPatchOp
		want any
	}{
		{
			name: "add at the end and replace",
			give: []jsonPatchOp{{Op: "add", Path: "/a/-", Value: "z"}, {Op: "replace", Path: "/b/c", Value: 2}},
			want: map[string]any{"a": []any{"x", "y", "z"}, "b": map[string]any{"c": 2}},
		},
		{
			name: "move to another list and remove",
			give: []jsonPatchOp{{Op: "add", Path: "/d", Value: []any{}}, {Op: "move", From: "/a/0", Path: "/d/-"}, {Op: "remove", Path: "/b/c"}},
			want: map[string]any{"a": []any{"y"}, "b": map[string]any{}, "d": []any{"x"}},
		},
		{
			name: "test passes",
			give: []jsonPatchOp{{Op: "test", Path: "/a/1", Value: "y"}, {Op: "add", Path: "/a/0", Value: "w"}},
			want: map[string]any{"a": []any{"w", "x", "y"}, "b": map[string]any{"c": 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := applyJSONPatch(doc(), tt.give)
			if err != nil {
				t.Fatalf("applyJSONPatch: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, give := range [][]jsonPatchOp{
		{{Op: "test", Path: "/a/0", Value: "y"}},
		{{Op: "remove", Path: "/a/2"}},
		{{Op: "replace", Path: "/b/nope", Value: 1}},
		{{Op: "copy", From: "/a", Path: "/e"}},
	} {
		if _, err := applyJSONPatch(doc(), give); err == nil {
			t.Errorf("applyJSONPatch(%+v) succeeded, want an error", give)
		}
	}
}
