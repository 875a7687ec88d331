package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
)

// ignoreRule is one line of a .dockerignore file.
type ignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

// ignoreRules are the rules of a .dockerignore, in order: the last rule
// that matches a path decides, and a rule that matches a directory
// matches everything beneath it.
type ignoreRules []ignoreRule

// readIgnore reads file; a missing file ignores nothing.
func readIgnore(file string) (ignoreRules, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	var rules ignoreRules
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			r.negate, line = true, rest
		}
		line = strings.Trim(path.Clean(strings.TrimPrefix(line, "/")), "/")
		r.re = regexp.MustCompile("^" + globRegexp(line) + "$")
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

// globRegexp turns a .dockerignore pattern into a regular expression:
// ** is any number of directories, * and ? stay within one.
func globRegexp(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString(`(.*/)?`)
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(`.*`)
			i++
		case c == '*':
			b.WriteString(`[^/]*`)
		case c == '?':
			b.WriteString(`[^/]`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// excluded reports whether the context leaves rel (slash-separated, relative
// to the context) out.
func (rules ignoreRules) excluded(rel string) bool {
	out := false
	for _, r := range rules {
		if r.matches(rel) {
			out = !r.negate
		}
	}
	return out
}

func (r ignoreRule) matches(rel string) bool {
	for p := rel; p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if r.re.MatchString(p) {
			return true
		}
	}
	return false
}
