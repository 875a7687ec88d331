package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// point is the aggregates of one summary, what /history answers by
// default. Counters, redis and traffic are the published members as they
// are, minus the counters' lists: a figure added to the snapshot shows
// here without a change.
type point struct {
	GeneratedAt time.Time         `json:"generated_at"`
	Sequence    uint64            `json:"sequence"`
	Sources     map[string]string `json:"sources"` // each source's status
	Counters    json.RawMessage   `json:"counters"`
	BlocksTotal int               `json:"blocks_total"`
	Redis       json.RawMessage   `json:"redis"`
	Traffic     json.RawMessage   `json:"traffic"`
	Nodes       nodeCount         `json:"nodes"`
	// Violations counts the violations by severity.
	Violations map[string]int `json:"violations"`
}

// nodeCount is how many nodes a snapshot lists and how many answered.
type nodeCount struct {
	Known     int `json:"known"`
	Reachable int `json:"reachable"`
}

// severities are counted in every point, 0 when none holds.
var severities = []string{"critical", "warning", "info"}

// summarize returns the summary document of p (its members as published,
// limits without its overrides) and its point.
func summarize(p *snapshot.Published) (doc, pt []byte, err error) {
	members := p.Members
	if members == nil {
		if members, err = snapshot.SplitMembers(p.JSON); err != nil {
			return nil, nil, err
		}
	}
	s := p.Snapshot
	pnt := pointOf(s)
	buf := make([]byte, 0, len(p.JSON))
	buf = append(buf, '{')
	for i, m := range members {
		if i > 0 {
			buf = append(buf, ',')
		}
		value := m.JSON[len(m.Name)+3:] // past `"name":`
		switch m.Name {
		case "limits":
			// Every override, in every summary, would be most of the
			// history's bytes; they are the live snapshot's to show.
			limits := s.Limits
			limits.Overrides = []snapshot.Override{}
			if value, err = json.Marshal(limits); err != nil {
				return nil, nil, fmt.Errorf("encode the limits of summary %d: %w", s.Sequence, err)
			}
			buf = append(append(buf, `"limits":`...), value...)
			continue
		case "counters":
			if pnt.Counters, err = figures(value); err != nil {
				return nil, nil, fmt.Errorf("summarize snapshot %d: %w", s.Sequence, err)
			}
		case "redis":
			pnt.Redis = value
		case "traffic":
			pnt.Traffic = value
		}
		buf = append(buf, m.JSON...)
	}
	buf = append(buf, '}')
	if pt, err = json.Marshal(pnt); err != nil {
		return nil, nil, fmt.Errorf("encode the point of summary %d: %w", s.Sequence, err)
	}
	return buf, pt, nil
}

// pointOf is the point of s but for the members summarize copies from
// its document: the counters' figures, Redis and traffic.
func pointOf(s *snapshot.Snapshot) point {
	pnt := point{
		GeneratedAt: s.GeneratedAt, Sequence: s.Sequence, BlocksTotal: s.BlocksTotal,
		Sources:    make(map[string]string, len(s.Sources)),
		Violations: make(map[string]int, len(severities)),
		Nodes:      nodeCount{Known: len(s.Nodes)},
	}
	for name, st := range s.Sources {
		pnt.Sources[name] = st.Status
	}
	for _, n := range s.Nodes {
		if n.Reachable {
			pnt.Nodes.Reachable++
		}
	}
	for _, sev := range severities {
		pnt.Violations[sev] = 0
	}
	for _, v := range s.Violations {
		pnt.Violations[v.Severity]++
	}
	return pnt
}

// figures returns the counters member without its lists (top,
// near_limit, any other).
func figures(counters []byte) (json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(counters, &all); err != nil {
		return nil, fmt.Errorf("decode counters: %w", err)
	}
	for _, name := range slices.Collect(maps.Keys(all)) {
		// A list may be null when empty.
		if v := bytes.TrimSpace(all[name]); len(v) > 0 && v[0] == '[' || name == "top" || name == "near_limit" {
			delete(all, name)
		}
	}
	out, err := json.Marshal(all) // a map's members in name order
	if err != nil {
		return nil, fmt.Errorf("encode counters: %w", err)
	}
	return out, nil
}
