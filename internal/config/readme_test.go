package config

import (
	"github.com/observerd/observerd/internal/health"

	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the configuration table in README.md")

const (
	readmePath = "../../README.md"
	tableBegin = "<!-- config table: made by `go test ./internal/config -update` -->"
	tableEnd   = "<!-- end of config table -->"
)

// markdownTable renders every variable as a Markdown table.
func markdownTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n| --- | --- | --- |\n")
	for _, v := range Vars(health.Builtin()) {
		def := v.Default
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Help, "|", "\\|"))
	}
	return b.String()
}

// TestREADMEConfigTable keeps the README's table equal to the Config
// struct; run with -update to rewrite it.
func TestREADMEConfigTable(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, tableBegin), strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q and %q", tableBegin, tableEnd)
	}
	want := readme[:i+len(tableBegin)] + "\n" + markdownTable() + readme[j:]
	if want == readme {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Error("README.md's configuration table differs from the Config struct: run go test ./internal/config -update")
}
