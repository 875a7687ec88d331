package config

import (
	"regexp"
	"slices"
	"strings"

	"github.com/observerd/observerd/internal/health"
)

// serviceLink matches the variables Kubernetes sets in every pod of a
// namespace that has a Service named observerd (OBSERVERD_SERVICE_HOST,
// OBSERVERD_PORT_9750_TCP_ADDR, ...): they share the prefix but are not
// settings.
var serviceLink = regexp.MustCompile(`^` + Prefix + `(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$`)

// IsServiceLink reports whether name is one of the variables Kubernetes
// sets for a Service named observerd, which observerd lets through.
func IsServiceLink(name string) bool { return serviceLink.MatchString(name) }

// unknownVars reports every variable of vars with the prefix that is not
// a setting, naming the closest setting when one is near: a typo would
// otherwise leave its setting at the default without a word.
func unknownVars(vars map[string]string, invs []health.Invariant) problems {
	known := make([]string, 0, 64)
	for _, v := range Vars(invs) {
		known = append(known, v.Name)
	}
	var names []string
	for name := range vars {
		if strings.HasPrefix(name, Prefix) && !slices.Contains(known, name) && !IsServiceLink(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var p problems
	for _, name := range names {
		msg := "not a known variable (observerd -h lists them)"
		if near := closest(name, known); near != "" {
			msg = "not a known variable; did you mean " + near + "?"
		}
		p = append(p, problem{name: name, msg: msg})
	}
	return p
}

// closest is the name of known nearest to name in edit distance, or ""
// when none is within a third of name's length after the prefix (at
// least 2 edits).
func closest(name string, known []string) string {
	suffix := strings.TrimPrefix(name, Prefix)
	best, bestDist := "", max(2, len(suffix)/3)+1
	for _, k := range known {
		if d := editDistance(suffix, strings.TrimPrefix(k, Prefix)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
