package config

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/observerd/observerd/internal/health"
)

// PrintUsage writes every variable, with the variables of invs, with its
// default and meaning.
func PrintUsage(w io.Writer, program string, invs []health.Invariant) error {
	const intro = `Usage: %[1]s [-h] [-version]
       %[1]s check [--json]
       %[1]s explain KEY [--json] [--observerd URL]

%[1]s watches a Redis-backed rate limiter cluster and serves what it sees.
"%[1]s check" polls every source once with the same configuration, prints
what it saw and exits 0 when no critical violation holds, 2 when one does,
1 when it could not judge (%[1]s check -h).
"%[1]s explain KEY" reads one key from Redis and the nodes, read-only, and
says its count, limit, window, when its next check passes, its TTL and its
history (%[1]s explain -h).
All are configured from the environment (an empty variable counts as unset):

`
	if _, err := fmt.Fprintf(w, intro, program); err != nil {
		return err
	}
	return WriteVars(w, Vars(invs))
}

// WriteVars writes vars as a table of their names, defaults and meanings.
func WriteVars(w io.Writer, vars []Var) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, v := range vars {
		def := v.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, def, v.Help)
	}
	return tw.Flush()
}
