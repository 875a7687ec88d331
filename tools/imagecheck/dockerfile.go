package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // where it starts, 1-based
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

// stage is the instructions from one FROM to the next.
type stage struct {
	name  string // AS name, or its index
	image string // the FROM image reference
	from  instruction
	body  []instruction
}

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	syntax string // the # syntax= directive, if any
	args   map[string]string
	stages []stage
}

var syntaxDirective = regexp.MustCompile(`^#\s*syntax\s*=\s*(\S+)\s*$`)

// parseDockerfile reads the instructions of a Dockerfile: comments are
// dropped, lines ending in a backslash continue on the next line, and
// ARGs before the first FROM are kept as global defaults.
func parseDockerfile(r io.Reader) (*dockerfile, error) {
	df := &dockerfile{args: map[string]string{}}
	sc := bufio.NewScanner(r)
	var cur strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if m := syntaxDirective.FindStringSubmatch(line); m != nil && n == 1 {
			df.syntax = m[1]
			continue
		}
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		if err := df.add(start, cur.String()); err != nil {
			return nil, err
		}
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the Dockerfile: %w", err)
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: the file ends inside a continued line", start)
	}
	if len(df.stages) == 0 {
		return nil, fmt.Errorf("no FROM instruction")
	}
	return df, nil
}

func (df *dockerfile) add(line int, text string) error {
	cmd, args, _ := strings.Cut(text, " ")
	in := instruction{line: line, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
	switch {
	case in.cmd == "FROM":
		st, err := parseFrom(in, len(df.stages))
		if err != nil {
			return err
		}
		df.stages = append(df.stages, st)
	case len(df.stages) == 0 && in.cmd == "ARG":
		name, def, _ := strings.Cut(in.args, "=")
		df.args[name] = def
	case len(df.stages) == 0:
		return fmt.Errorf("line %d: %s before the first FROM", line, in.cmd)
	default:
		last := &df.stages[len(df.stages)-1]
		last.body = append(last.body, in)
	}
	return nil
}

// parseFrom reads FROM [--platform=...] image [AS name].
func parseFrom(in instruction, index int) (stage, error) {
	var words []string
	for _, w := range strings.Fields(in.args) {
		if !strings.HasPrefix(w, "--") {
			words = append(words, w)
		}
	}
	st := stage{name: fmt.Sprint(index), from: in}
	switch {
	case len(words) == 1:
	case len(words) == 3 && strings.EqualFold(words[1], "AS"):
		st.name = words[2]
	default:
		return st, fmt.Errorf("line %d: FROM %s: want an image and an optional AS name", in.line, in.args)
	}
	st.image = words[0]
	return st, nil
}

// stageNamed returns the stage of stages called name.
func stageNamed(stages []stage, name string) (*stage, bool) {
	for i := range stages {
		if stages[i].name == name {
			return &stages[i], true
		}
	}
	return nil, false
}

// flags splits the leading --name=value options off an instruction's
// arguments.
func flags(args string) (map[string][]string, string) {
	out := map[string][]string{}
	rest := strings.TrimSpace(args)
	for strings.HasPrefix(rest, "--") {
		word, tail, _ := strings.Cut(rest, " ")
		name, value, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		out[name] = append(out[name], value)
		rest = strings.TrimSpace(tail)
	}
	return out, rest
}
