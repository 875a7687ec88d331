package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
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

// run replays stage st, called name, with the global ARGs' defaults.
func (r *replay) run(ctx context.Context, st *instructions.Stage, name string, globals map[string]string) error {
	r.workdir, r.env = "/", maps.Clone(globals)
	for _, c := range st.Commands {
		if err := r.step(ctx, c); err != nil {
			return fmt.Errorf("stage %s, line %d (%s): %w", name, line(c.Location()), strings.ToUpper(c.Name()), err)
		}
	}
	return nil
}

func (r *replay) step(ctx context.Context, c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.WorkdirCommand:
		r.workdir = r.abs(c.Path)
		return os.MkdirAll(r.host(r.workdir), 0o755)
	case *instructions.ArgCommand:
		// An ARG without a default keeps the global one.
		for _, kv := range c.Args {
			if _, ok := r.env[kv.Key]; !ok || kv.ValueString() != "" {
				r.env[kv.Key] = kv.ValueString()
			}
		}
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			r.env[kv.Key] = kv.Value
		}
	case *instructions.CopyCommand:
		return r.copy(c)
	case *instructions.RunCommand:
		return r.exec(ctx, c)
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
func (r *replay) copy(c *instructions.CopyCommand) error {
	if c.From != "" {
		return fmt.Errorf("COPY --from in a build stage is not replayed")
	}
	dst := r.abs(c.DestPath)
	for _, src := range c.SourcePaths {
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
		if out, err := r.ignore.excluded(filepath.ToSlash(rel)); out || err != nil {
			return err
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

// exec runs a RUN command with sh in the stage's working directory. Its
// --mount caches are this machine's own caches here.
func (r *replay) exec(ctx context.Context, c *instructions.RunCommand) error {
	if !c.PrependShell || len(c.Files) > 0 {
		return fmt.Errorf("%s: only the shell form without heredocs is replayed", c)
	}
	script := strings.Join(c.CmdLine, " ")
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
