package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// ignoreRules are the patterns of a .dockerignore, matched as docker build
// matches them.
type ignoreRules struct {
	m *patternmatcher.PatternMatcher // nil: no .dockerignore
}

// readIgnore reads file; a missing file ignores nothing.
func readIgnore(file string) (ignoreRules, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return ignoreRules{}, nil
	}
	if err != nil {
		return ignoreRules{}, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return ignoreRules{}, fmt.Errorf("read %s: %w", file, err)
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		return ignoreRules{}, fmt.Errorf("%s: %w", file, err)
	}
	return ignoreRules{m: m}, nil
}

// excluded reports whether the context leaves rel (slash-separated,
// relative to the context) out.
func (r ignoreRules) excluded(rel string) (bool, error) {
	if r.m == nil {
		return false, nil
	}
	out, err := r.m.MatchesOrParentMatches(rel)
	if err != nil {
		return false, fmt.Errorf(".dockerignore, matching %s: %w", rel, err)
	}
	return out, nil
}
