package snapshot

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/source"
)

const (
	rawKey   = "bin\xff\xfe\xc0key" // a Redis key is bytes, not text
	cleanKey = `bin\xff\xfe\xc0key`
)

var huge = strings.Repeat("k", 1<<20)

// hostileSections are one poll of each source whose every name is not
// UTF-8 or is 1 MiB long.
func hostileSections() (*RedisSection, *NodesSection, *PrometheusSection) {
	redis := &RedisSection{
		Info:      RedisInfo{Connected: true, Version: "7.2\xff", Role: huge},
		Registry:  []RegistryEntry{{ID: "evil\xff", Address: "10.0.0.9:8000", TTL: time.Minute}, {ID: "wide", Address: huge, TTL: time.Minute}},
		Overrides: []Override{{Key: rawKey, Limit: 5}},
		Counters: Counters{Keys: 2, WalkedBy: "obs\xff", Walk: &Walk{PacedBy: "budget\xff", ShareMeasuredBy: huge}, NearLimitKeys: 2, NearLimit: []NearLimitKey{{Key: rawKey, Count: 30, Limit: 10}, {Key: huge, Count: 20, Limit: 10}},
			Top: []TopKey{{Key: rawKey, Count: 30, Limit: 10}, {Key: huge, Count: 20, Limit: 10}}},
		Blocks:      []Block{{Key: rawKey, Count: 30, Limit: 10}, {Key: huge, Count: 20, Limit: 10}},
		BlocksTotal: 2,
		OverLimit:   []Block{{Key: rawKey, Count: 30, Limit: 10}},
		WithoutTTL:  []string{huge},
		KeyCounts:   map[string]int64{rawKey: 30},
	}
	nodes := &NodesSection{Nodes: []NodeReport{{
		URL: "http://10.0.0.9:8000", Address: "10.0.0.9:8000", ID: "evil\xff", Reachable: true,
		Counters: []APICounter{{Key: rawKey, Count: 40, Limit: 10}},
		Errors:   map[string]string{"/api/limits": "unexpected body " + huge + "\xff"},
	}}}
	prom := &PrometheusSection{
		Instances:        map[string]InstanceStats{huge: {CheckLatencyP99: Known(time.Millisecond), AllowedPerSecond: 1, BlockedPerSecond: Null()}},
		AllowedPerSecond: 1, BlockedPerSecond: Null(),
		QueryErrors: map[string]string{"allowed_rate": "bad_data: \xff"},
	}
	return redis, nodes, prom
}

// TestStorePublishesCleanNames: a peer's names reach the snapshot escaped
// and cut, consistently across sources, while the hints keep them raw.
func TestStorePublishesCleanNames(t *testing.T) {
	redis, nodes, prom := hostileSections()
	var judged JudgeInput
	s := NewStore(StoreConfig{
		Enabled: source.All(), DefaultLimit: 10, DefaultWindow: time.Minute, MaxKeysOfInterest: 10, NodeForgetAfter: time.Minute,
		Now: func() time.Time { return t0 },
		Judge: func(in JudgeInput) ([]Violation, []UnknownInvariant) {
			judged = in
			var v []Violation
			for _, k := range in.Snapshot.Counters.Top {
				v = append(v, Violation{Invariant: "over_limit", Subject: k.Key, Severity: "warning", Message: "key " + k.Key + " over its limit"})
			}
			return v, nil
		},
	})
	s.Update(SourceState{Source: source.Redis, LastAttempt: t0, LastSuccess: t0, Section: redis})
	s.Update(SourceState{Source: source.Ratelimiter, LastAttempt: t0, LastSuccess: t0, Section: nodes})
	s.Update(SourceState{Source: source.Prometheus, LastAttempt: t0, LastSuccess: t0.Add(-time.Second), Err: errors.New("query: " + huge), Section: prom})
	p := s.Load()

	if len(p.JSON) > 16<<10 {
		t.Errorf("snapshot is %d bytes, want under 16 KiB", len(p.JSON))
	}
	var snap Snapshot
	if err := json.Unmarshal(p.JSON, &snap); err != nil {
		t.Fatal(err)
	}
	cutHuge := names.Clean(huge, names.DefaultMaxBytes)
	if got := []string{snap.Counters.Top[0].Key, snap.Counters.Top[1].Key}; !cmp.Equal(got, []string{cleanKey, cutHuge}) {
		t.Errorf("top keys %.300q, want %q and the cut key", got, cleanKey)
	}
	if got := snap.Counters.Top[0].APICount; got == nil || *got != 40 {
		t.Errorf("api_count of %s = %v, want the node's 40: the node's key and Redis's must match", cleanKey, got)
	}
	if got := []string{snap.Counters.NearLimit[0].Key, snap.Counters.NearLimit[1].Key}; !cmp.Equal(got, []string{cleanKey, cutHuge}) {
		t.Errorf("near-limit keys %.300q, want %q and the cut key", got, cleanKey)
	}
	if got := snap.Blocks[1].Key; got != cutHuge {
		t.Errorf("block key %.300q, want it cut", got)
	}
	if w := snap.Counters.Walk; w == nil || w.PacedBy != `budget\xff` || len(w.ShareMeasuredBy) > 300 {
		t.Errorf("walk %+v: want its names escaped and cut", w)
	}
	if snap.Limits.Overrides[0].Key != cleanKey || snap.Redis.Version != `7.2\xff` || snap.Counters.WalkedBy != `obs\xff` {
		t.Errorf("override %q, version %q, walked_by %q: want them escaped", snap.Limits.Overrides[0].Key, snap.Redis.Version, snap.Counters.WalkedBy)
	}
	var ids []string
	for _, n := range snap.Nodes {
		ids = append(ids, n.Name()[:min(len(n.Name()), 300)])
	}
	// The registry entry and the node's answer are one node, as are the
	// wide registry entry and Prometheus's instance of the same address.
	if want := []string{`evil\xff`, "wide"}; !cmp.Equal(ids, want) {
		t.Errorf("nodes %q, want %q", ids, want)
	}
	if n := snap.Nodes[1]; n.Address != cutHuge || !n.CheckLatencyP99.Valid {
		t.Errorf("wide node address %.300q, p99 %v: want the cut address, with Prometheus's p99", n.Address, n.CheckLatencyP99)
	}
	if v := snap.Violations; len(v) != 2 || v[0].Subject != cleanKey || v[1].Subject != cutHuge {
		t.Errorf("violations %.500v, want subjects %q and the cut key", v, cleanKey)
	}
	if e := snap.Sources[source.Prometheus].Error; len(e) > textFactor*names.DefaultMaxBytes || !strings.HasSuffix(e, " bytes]") {
		t.Errorf("prometheus error of %d bytes, want it cut to %d", len(e), textFactor*names.DefaultMaxBytes)
	}

	// The invariants compare clean names with clean names.
	if _, ok := judged.Redis.KeyCounts[judged.Nodes.Nodes[0].Counters[0].Key]; !ok {
		t.Errorf("judged key counts %v lack the node's key %q", judged.Redis.KeyCounts, judged.Nodes.Nodes[0].Counters[0].Key)
	}
	// The pollers look raw names up.
	h := s.Hints()
	if !cmp.Equal(h.KeysOfInterest, []string{rawKey}) || len(h.RegistryAddrs) != 2 || h.RegistryAddrs[1] != huge {
		t.Errorf("hints keys %q, %d addresses: want the raw names", h.KeysOfInterest, len(h.RegistryAddrs))
	}
	// The raw sections are left as they were.
	redis2, nodes2, prom2 := hostileSections()
	if !cmp.Equal(redis, redis2) || !cmp.Equal(nodes, nodes2) || !cmp.Equal(prom.QueryErrors, prom2.QueryErrors) {
		t.Error("the Store modified a section it was given")
	}
}

// TestCleanerCoversEveryString fills every string of every section with a
// name that is neither UTF-8 nor short, so that a string field added to a
// section without being cleaned is noticed.
func TestCleanerCoversEveryString(t *testing.T) {
	bad := strings.Repeat("\xfe", 2000)
	c := newCleaner(0)
	for _, sec := range []Section{&RedisSection{}, &NodesSection{}, &PrometheusSection{}} {
		fill(reflect.ValueOf(sec).Elem(), bad)
		clean := c.section(sec)
		walkStrings(reflect.ValueOf(clean), "", func(path, s string) {
			bound := c.name
			if strings.Contains(path, "Errors") {
				bound = c.text
			}
			if !utf8.ValidString(s) || len(s) > bound {
				t.Errorf("%T%s: %d bytes, valid UTF-8 %v; want at most %d valid bytes", sec, path, len(s), utf8.ValidString(s), bound)
			}
		})
	}
}

// fill sets every string, slice, map and pointer reachable from v: strings
// to s, slices and maps to one element, pointers to a new value.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), s)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), s)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s)
	case reflect.Map:
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, s)
		fill(e, s)
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	}
}

// walkStrings calls f with every string reachable from v and its path.
func walkStrings(v reflect.Value, path string, f func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		f(path, v.String())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkStrings(v.Field(i), path+"."+v.Type().Field(i).Name, f)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkStrings(v.Index(i), path+"[]", f)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, f)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			walkStrings(it.Key(), path+"{key}", f)
			walkStrings(it.Value(), path+"{}", f)
		}
	}
}

// TestCleanKeepsNilApart: a nil list (the endpoint failed) stays nil, an
// empty one (it answered nothing) stays empty.
func TestCleanKeepsNilApart(t *testing.T) {
	c := newCleaner(0)
	got := c.nodes(&NodesSection{Nodes: []NodeReport{{Counters: nil, Blocked: []APICounter{}}}})
	if r := got.Nodes[0]; r.Counters != nil || r.Blocked == nil || len(r.Blocked) != 0 {
		t.Errorf("counters %#v, blocked %#v: want nil and empty", r.Counters, r.Blocked)
	}
}

// TestCleanKeysCollide: two raw keys that read the same once clean keep the
// value of the smaller raw key, whatever the map order.
func TestCleanKeysCollide(t *testing.T) {
	c := newCleaner(0)
	for range 20 {
		got := cleanKeys(map[string]int64{"a\xff": 1, `a\xff`: 2}, c.str, func(v int64) int64 { return v })
		if want := map[string]int64{`a\xff`: 2}; !cmp.Equal(got, want) {
			t.Fatalf("cleanKeys = %v, want %v", got, want)
		}
	}
}
