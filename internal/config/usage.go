package config

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintUsage writes every variable with its default and meaning.
func PrintUsage(w io.Writer, program string) error {
	if _, err := fmt.Fprintf(w, "Usage: %s [-h] [-version]\n\n%s watches a Redis-backed rate limiter cluster and serves what it sees.\nIt is configured from the environment (an empty variable counts as unset):\n\n", program, program); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, v := range Vars() {
		def := v.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, def, v.Help)
	}
	return tw.Flush()
}
