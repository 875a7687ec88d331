package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// replay runs the instructions of a build stage on this machine, without
// a container engine: its COPYs copy from the build context, honouring
// .dockerignore, into root, its WORKDIRs are directories under root, and
// its RUNs run with the stage's ARGs and ENVs, with the absolute paths in
// mapped (where later stages take files from) moved under root.
type replay struct {
	root     string // stands for the stage's /
	context  string // the build context
	ignore   ignoreRules
	mapped   []string
	workdir  string
	env      map[string]string
	log      io.Writer
	commands int
}

func (r *replay) run(ctx context.Context, st *stage, globals map[string]string) error {
	r.workdir, r.env = "/", map[string]string{}
	for k, v := range globals {
		r.env[k] = v
	}
	for _, in := range st.body {
		if err := r.step(ctx, in); err != nil {
			return fmt.Errorf("stage %s, line %d (%s): %w", st.name, in.line, in.cmd, err)
		}
	}
	return nil
}

func (r *replay) step(ctx context.Context, in instruction) error {
	switch in.cmd {
	case "WORKDIR":
		r.workdir = r.abs(in.args)
		return os.MkdirAll(r.host(r.workdir), 0o755)
	case "ARG":
		name, def, _ := strings.Cut(in.args, "=")
		if _, ok := r.env[name]; !ok || def != "" {
			r.env[name] = def
		}
	case "ENV":
		for _, kv := range strings.Fields(in.args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("ENV %q: want name=value", kv)
			}
			r.env[k] = v
		}
	case "COPY":
		return r.copy(in.args)
	case "RUN":
		return r.exec(ctx, in.args)
	}
	return nil
}

// abs resolves p against the stage's working directory.
func (r *replay) abs(p string) string {
	if !path.IsAbs(p) {
		p = path.Join(r.workdir, p)
	}
	return path.Clean(p)
}

// host is where the stage's path p is on this machine.
func (r *replay) host(p string) string { return filepath.Join(r.root, filepath.FromSlash(p)) }

// copy replays COPY src... dst from the build context.
func (r *replay) copy(args string) error {
	opts, rest := flags(args)
	if _, ok := opts["from"]; ok {
		return fmt.Errorf("COPY --from in a build stage is not replayed")
	}
	words := strings.Fields(rest)
	if len(words) < 2 {
		return fmt.Errorf("COPY %s: want sources and a destination", args)
	}
	dst := r.abs(words[len(words)-1])
	for _, src := range words[:len(words)-1] {
		n, err := r.copyTree(path.Clean(src), dst)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("COPY %s: nothing in the build context matches (.dockerignore leaves it out?)", src)
		}
	}
	return nil
}

// copyTree copies the context's file or directory src into dst, as COPY
// does: a directory's contents go into dst, a file goes into dst when it
// ends in a slash or is a directory. It returns how many files it copied.
func (r *replay) copyTree(src, dst string) (int, error) {
	base := filepath.Join(r.context, filepath.FromSlash(src))
	info, err := os.Stat(base)
	if err != nil {
		return 0, fmt.Errorf("COPY %s: %w", src, err)
	}
	n := 0
	err = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(r.context, p)
		if r.ignore.excluded(filepath.ToSlash(rel)) {
			return nil
		}
		target := dst
		if info.IsDir() {
			inner, _ := filepath.Rel(base, p)
			target = path.Join(dst, filepath.ToSlash(inner))
		} else {
			target = path.Join(dst, path.Base(src))
		}
		n++
		return copyFile(p, r.host(target))
	})
	return n, err
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// exec runs a RUN command with sh in the stage's working directory.
func (r *replay) exec(ctx context.Context, args string) error {
	_, script := flags(args) // --mount caches are the machine's own caches here
	for _, p := range r.mapped {
		script = strings.ReplaceAll(script, " "+p, " "+r.host(p))
	}
	cmd := exec.CommandContext(ctx, "sh", "-ec", script)
	cmd.Dir = r.host(r.workdir)
	cmd.Env = r.environ()
	cmd.Stdout, cmd.Stderr = r.log, r.log
	r.commands++
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("RUN %s: %w", script, err)
	}
	return nil
}

// environ is the stage's ARGs and ENVs over the few variables of this
// machine a build needs (PATH, HOME and Go's caches).
func (r *replay) environ() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GONOSUMDB", "GOSUMDB", "GOTOOLCHAIN"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	return env
}
