package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// dockerfile is a Dockerfile as BuildKit, the builder of docker build,
// reads it.
type dockerfile struct {
	syntax     string            // the # syntax= directive, if any
	syntaxLine int               // where it is
	args       map[string]string // the ARGs before the first FROM, with their defaults
	stages     []instructions.Stage
}

// parseDockerfile reads a Dockerfile with BuildKit's own parser.
func parseDockerfile(r io.Reader) (*dockerfile, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read the Dockerfile: %w", err)
	}
	res, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse the Dockerfile: %w", err)
	}
	if err := checkEnd(b, res.EscapeToken); err != nil {
		return nil, err
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("parse the Dockerfile: %w", err)
	}
	if len(stages) == 0 {
		return nil, errors.New("no FROM instruction")
	}
	df := &dockerfile{args: map[string]string{}, stages: stages}
	if syntax, _, at, ok := parser.DetectSyntax(b); ok {
		df.syntax, df.syntaxLine = syntax, line(at)
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			df.args[kv.Key] = kv.ValueString()
		}
	}
	return df, nil
}

// checkEnd refuses a file whose last instruction goes on past its end,
// which BuildKit takes as complete: such a file was most likely cut short.
func checkEnd(b []byte, escape rune) error {
	text := strings.TrimRight(string(b), " \t\r\n")
	last := text[strings.LastIndexByte(text, '\n')+1:]
	if strings.HasPrefix(strings.TrimSpace(last), "#") || !strings.HasSuffix(last, string(escape)) {
		return nil
	}
	return fmt.Errorf("line %d: the file ends inside a continued line", strings.Count(text, "\n")+1)
}

// line is where an instruction starts, 1-based.
func line(at []parser.Range) int {
	if len(at) == 0 {
		return 0
	}
	return at[0].Start.Line
}

// stageNamed returns the stage of stages that name refers to: its AS name
// (BuildKit lower-cases them) or its index.
func stageNamed(stages []instructions.Stage, name string) (*instructions.Stage, bool) {
	for i := range stages {
		if stages[i].Name != "" && strings.EqualFold(stages[i].Name, name) {
			return &stages[i], true
		}
	}
	if i, err := strconv.Atoi(name); err == nil && i >= 0 && i < len(stages) {
		return &stages[i], true
	}
	return nil, false
}
