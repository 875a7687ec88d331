package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/observerd/observerd/internal/health"
	"github.com/observerd/observerd/internal/human"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// verdictListed is how many critical violations the verdict line names.
const verdictListed = 5

// verdict is what a check concludes: its exit code and its last line.
type verdict struct {
	code int
	line string
}

// verdictOf is what the check concludes from its snapshot: unknown when
// every enabled source failed, critical when a critical violation holds,
// else OK with the other violations counted and the invariants that could
// not be judged named.
func verdictOf(s *snapshot.Snapshot, enabled []string) verdict {
	if allFailed(s, enabled) {
		return verdict{code: exitUnknown, line: "UNKNOWN: every source failed"}
	}
	var critical []string
	bySeverity := make(map[string]int)
	for _, v := range s.Violations {
		bySeverity[v.Severity]++
		if v.Severity == health.SeverityCritical {
			critical = append(critical, v.Invariant+" "+human.Printable(v.Subject))
		}
	}
	if len(critical) > 0 {
		return verdict{code: exitCritical, line: fmt.Sprintf("CRITICAL: %s (%s)", human.Plural(len(critical), "critical violation"), listed(critical))}
	}
	var counts []string
	if n := bySeverity[health.SeverityWarning]; n > 0 {
		counts = append(counts, human.Plural(n, "warning"))
	}
	if n := bySeverity[health.SeverityInfo]; n > 0 {
		counts = append(counts, fmt.Sprintf("%d info", n))
	}
	notes := strings.Join(counts, ", ")
	if len(s.Unknown) > 0 {
		names := make([]string, len(s.Unknown))
		for i, u := range s.Unknown {
			names[i] = u.Invariant
		}
		notes = strings.TrimPrefix(notes+"; unknown: "+strings.Join(names, ", "), "; ")
	}
	line := "OK: no critical violation"
	if notes != "" {
		line += " (" + notes + ")"
	}
	return verdict{code: exitOK, line: line}
}

// allFailed reports whether no enabled source answered.
func allFailed(s *snapshot.Snapshot, enabled []string) bool {
	for _, name := range enabled {
		if s.Sources[name].Status == snapshot.StatusOK {
			return false
		}
	}
	return true
}

// listed joins the first verdictListed items and counts the rest.
func listed(items []string) string {
	if len(items) <= verdictListed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:verdictListed], ", "), len(items)-verdictListed)
}

// writeSummary writes the human summary of s, ending with v's line.
func writeSummary(w io.Writer, s *snapshot.Snapshot, enabled []string, v verdict) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "observerd check at %s\n", s.GeneratedAt.Format(time.RFC3339))
	writeSources(tw, s, enabled)
	on := func(src string) bool { return slices.Contains(enabled, src) }
	if on(source.Ratelimiter) || on(source.Redis) {
		writeNodes(tw, s.Nodes, on(source.Ratelimiter))
	}
	if redis := s.Sources[source.Redis]; on(source.Redis) && redis.LastSuccess != nil {
		writeRedis(tw, s)
	}
	if t := s.Traffic; on(source.Prometheus) && t.AllowedPerSecond.Valid() && t.BlockedPerSecond.Valid() {
		fmt.Fprintf(tw, "traffic: %.2f allowed/s, %.2f blocked/s\n", float64(t.AllowedPerSecond), float64(t.BlockedPerSecond))
	}
	writeViolations(tw, s.Violations, s.GeneratedAt)
	for _, u := range s.Unknown {
		fmt.Fprintf(tw, "unknown: %s (%s)\n", u.Invariant, human.Printable(u.Reason))
	}
	fmt.Fprintln(tw, v.line)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("format the summary: %w", err)
	}
	// An empty last cell leaves the padding of the one before it.
	lines := strings.Split(buf.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	if _, err := io.WriteString(w, strings.Join(lines, "\n")); err != nil {
		return fmt.Errorf("write the summary: %w", err)
	}
	return nil
}

func writeSources(w io.Writer, s *snapshot.Snapshot, enabled []string) {
	fmt.Fprintln(w, "sources:")
	fmt.Fprintln(w, "  SOURCE\tSTATUS\tDURATION\tERROR")
	for _, name := range slices.Sorted(slices.Values(enabled)) {
		st := s.Sources[name]
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", name, st.Status, duration(st.Duration), human.Printable(st.Error))
	}
}

// writeNodes lists every node known; up and down only when the node API
// was polled.
func writeNodes(w io.Writer, nodes []snapshot.Node, polled bool) {
	up := 0
	for _, n := range nodes {
		if n.Reachable {
			up++
		}
	}
	switch {
	case len(nodes) == 0:
		fmt.Fprintln(w, "nodes: none known")
		return
	case polled:
		fmt.Fprintf(w, "nodes: %d up, %d down\n", up, len(nodes)-up)
	default:
		fmt.Fprintf(w, "nodes: %d registered, node API not polled\n", len(nodes))
	}
	fmt.Fprintln(w, "  NODE\tADDRESS\tSTATE\tREGISTERED")
	for _, n := range nodes {
		state := "-"
		if polled {
			state = "down"
			if n.Reachable {
				state = "up"
			}
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", human.Printable(n.Name()), human.Printable(n.Address), state, human.YesNo(n.Registered))
	}
}

// writeRedis writes what Redis said of itself, the limits and the
// counters.
func writeRedis(w io.Writer, s *snapshot.Snapshot) {
	r := s.Redis
	if r.Connected {
		fmt.Fprintf(w, "redis: %s %s, ping %s, %d keys, %d clients\n", human.Printable(r.Version), human.Printable(r.Role), duration(r.Ping), r.DBKeys, r.ConnectedClients)
	}
	l := s.Limits
	fmt.Fprintf(w, "limits: default %d per %s (from %s), %s\n", l.DefaultLimit, time.Duration(l.DefaultWindow), l.DefaultsFrom, human.Plural(len(l.Overrides), "override"))
	c := s.Counters
	fmt.Fprintf(w, "counters: %d keys, %d requests in window, %d blocked, %d over limit, %d without TTL, %d orphan :seq keys, %d of the wrong type, %d with TTL beyond window\n",
		c.Keys, c.RequestsInWindow, c.BlockedKeys, c.OverLimitKeys, c.KeysWithoutTTL, c.OrphanSequenceKeys, c.WrongTypeKeys, c.KeysTTLBeyondWindow)
	if c.Walk != nil {
		fmt.Fprintf(w, "walk: %s\n", human.Walk(*c.Walk))
	}
	writeNearLimit(w, c)
}

// nearListed is how many of the keys nearest their limit the summary
// names.
const nearListed = 5

// writeNearLimit writes how many keys are near their own limit and the
// nearest few, nearest first as the snapshot lists them.
func writeNearLimit(w io.Writer, c snapshot.Counters) {
	share := human.Ratio(c.NearLimitRatio)
	if c.NearLimitKeys == 0 {
		fmt.Fprintf(w, "near limit: no key at or above %s of its own limit\n", share)
		return
	}
	their := "their"
	if c.NearLimitKeys == 1 {
		their = "its"
	}
	fmt.Fprintf(w, "near limit: %s at or above %s of %s own limit\n", human.Plural(int(c.NearLimitKeys), "key"), share, their)
	fmt.Fprintln(w, "  KEY\tCOUNT\tLIMIT\tSHARE")
	for _, k := range c.NearLimit[:min(len(c.NearLimit), nearListed)] {
		fmt.Fprintf(w, "  %s\t%d\t%d\t%s\n", human.Printable(k.Key), k.Count, k.Limit, human.Share(k.Count, k.Limit))
	}
	if more := c.NearLimitKeys - int64(min(len(c.NearLimit), nearListed)); more > 0 {
		fmt.Fprintf(w, "  and %d more\n", more)
	}
}

// detail starts a line under a violation's message: its empty cells keep
// the table's columns, so the text lines up with the message.
const detail = "  \t\t\t"

// writeViolations lists every active violation, critical first, each with
// its evidence and its likely causes under its message.
func writeViolations(w io.Writer, vs []snapshot.Violation, now time.Time) {
	if len(vs) == 0 {
		fmt.Fprintln(w, "violations: none")
		return
	}
	vs = slices.Clone(vs)
	slices.SortStableFunc(vs, human.BySeverity)
	fmt.Fprintf(w, "violations: %d\n", len(vs))
	fmt.Fprintln(w, "  SEVERITY\tINVARIANT\tSUBJECT\tMESSAGE")
	for _, v := range vs {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", v.Severity, v.Invariant, human.Printable(v.Subject), human.Printable(v.Message))
		writeEvidence(w, v, now)
	}
}

// writeEvidence writes a violation's evidence, "what = value (source,
// time)" a line, and its causes numbered in the order to check them.
func writeEvidence(w io.Writer, v snapshot.Violation, now time.Time) {
	if len(v.Evidence) > 0 {
		fmt.Fprintln(w, detail+"evidence:")
	}
	for _, e := range v.Evidence {
		value := human.Unknown
		if e.Value.Valid() {
			value = human.Figure(float64(e.Value))
		}
		fmt.Fprintf(w, "%s  %s = %s (%s, %s)\n", detail, human.Printable(e.What), value, human.Printable(e.Source), evidenceTime(e.At, now))
	}
	if len(v.Causes) > 0 {
		fmt.Fprintln(w, detail+"likely causes, in the order to check them:")
	}
	for i, c := range v.Causes {
		fmt.Fprintf(w, "%s  %d. %s\n", detail, i+1, human.Printable(c))
	}
}

// evidenceTime is when a figure was read: its time of day in UTC when
// that is the check's day, else the whole time.
func evidenceTime(at, now time.Time) string {
	switch {
	case at.IsZero():
		return human.Unknown
	case at.UTC().Format(time.DateOnly) == now.UTC().Format(time.DateOnly):
		return at.UTC().Format("15:04:05Z07:00")
	}
	return at.UTC().Format(time.RFC3339)
}

// duration is d rounded for people, "-" when unknown: Go's own notation,
// to 10 µs below a second and to the millisecond above.
func duration(d snapshot.Duration) string {
	if !d.Valid {
		return human.Unknown
	}
	if d.Duration >= time.Second {
		return d.Duration.Round(time.Millisecond).String()
	}
	return d.Duration.Round(10 * time.Microsecond).String()
}
