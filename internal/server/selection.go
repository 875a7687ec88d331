package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/observerd/observerd/internal/snapshot"
)

// selection is a set of the snapshot's top-level fields, bit i for
// field i of snapshotFields; 0 means the whole snapshot.
type selection uint64

// snapshotFields are the top-level JSON members of snapshot.Snapshot, in
// document order, read from the type itself so that a new field becomes
// selectable without a change here.
type snapshotFields struct {
	fields []reflect.StructField // as declared, json tags included
	index  []int                 // each one's index in snapshot.Snapshot
	names  []string              // each one's JSON name
	always selection
	all    selection
}

// newSnapshotFields reads the fields of snapshot.Snapshot. It fails on
// what a selection cannot copy: an embedded struct, or more fields than a
// selection holds.
func newSnapshotFields() (*snapshotFields, error) {
	t := reflect.TypeFor[snapshot.Snapshot]()
	f := &snapshotFields{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if sf.Anonymous {
			return nil, fmt.Errorf("snapshot field %s is embedded: sections cannot select it", sf.Name)
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" && sf.Tag.Get("json") == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.fields = append(f.fields, sf)
		f.index = append(f.index, i)
		f.names = append(f.names, name)
	}
	if len(f.names) > 64 {
		return nil, fmt.Errorf("snapshot has %d fields: a selection holds at most 64", len(f.names))
	}
	f.all = selection(1)<<len(f.names) - 1
	// Every selection carries what a client needs to tell one snapshot
	// from another.
	for _, name := range []string{"schema_version", "sequence", "generated_at"} {
		i := slices.Index(f.names, name)
		if i < 0 {
			return nil, fmt.Errorf("snapshot has no field %q, which every selection carries", name)
		}
		f.always |= 1 << i
	}
	return f, nil
}

// parse turns comma-separated field names, from one or more values of
// the sections parameter, into a selection; a selection of every field is
// the whole snapshot, 0.
func (f *snapshotFields) parse(values []string) (selection, error) {
	sel := f.always
	named := false
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			i := slices.Index(f.names, name)
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
	if sel == f.all {
		return 0, nil
	}
	return sel, nil
}

// encode serializes the fields of snap in sel as encoding/json writes
// them in the whole document: a struct type of just those fields, tags
// included, marshalled like snapshot.Snapshot.
func (f *snapshotFields) encode(snap *snapshot.Snapshot, sel selection) ([]byte, error) {
	var fields []reflect.StructField
	var from []int
	for i, sf := range f.fields {
		if sel&(1<<i) != 0 {
			fields = append(fields, sf)
			from = append(from, f.index[i])
		}
	}
	out := reflect.New(reflect.StructOf(fields)).Elem()
	src := reflect.ValueOf(snap).Elem()
	for j, i := range from {
		out.Field(j).Set(src.Field(i))
	}
	b, err := json.Marshal(out.Addr().Interface())
	if err != nil {
		return nil, fmt.Errorf("encode sections of snapshot %d: %w", snap.Sequence, err)
	}
	return b, nil
}
