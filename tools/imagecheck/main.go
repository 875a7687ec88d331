// Command imagecheck proves the Dockerfile's build on a machine without a
// container engine: every base image is pinned by digest, the build
// stages run here from a copy of the build context (so a file the build
// needs but the context leaves out fails it), and the final stage's
// files are static linux binaries, run as a non-root user, and the
// entrypoint answers -version. `make image-check` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/observerd/observerd/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image-check:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("imagecheck", flag.ContinueOnError)
	file := fs.String("dockerfile", "Dockerfile", "the Dockerfile")
	buildContext := fs.String("context", ".", "the build context")
	keep := fs.Bool("keep", false, "keep the replayed stages' directories")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "imagecheck-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(tmp)
	}
	return check(ctx, checkOptions{Dockerfile: *file, Context: *buildContext, Dir: tmp, Log: w})
}

// checkOptions are what check works on.
type checkOptions struct {
	Dockerfile string
	Context    string
	Dir        string    // an empty directory for the replayed stages
	Log        io.Writer // the builds' output and the findings
}

// check runs every check on one Dockerfile.
func check(ctx context.Context, o checkOptions) error {
	f, err := os.Open(o.Dockerfile)
	if err != nil {
		return err
	}
	df, err := parseDockerfile(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", o.Dockerfile, err)
	}
	if err := checkPinned(df); err != nil {
		return fmt.Errorf("%s: %w", o.Dockerfile, err)
	}
	fmt.Fprintf(o.Log, "pinned by digest: %d base images%s\n", len(df.stages), syntaxNote(df))
	roots, err := replayStages(ctx, df, o)
	if err != nil {
		return err
	}
	final := &df.stages[len(df.stages)-1]
	img, err := assemble(final, roots)
	if err != nil {
		return fmt.Errorf("%s: final stage: %w", o.Dockerfile, err)
	}
	_, port, _ := net.SplitHostPort(config.Default().ListenAddr)
	if err := checkImage(ctx, img, port, o.Log); err != nil {
		return fmt.Errorf("%s: final stage: %w", o.Dockerfile, err)
	}
	names := slices.Sorted(maps.Keys(img.files))
	fmt.Fprintf(o.Log, "image holds %s, static linux executables; user %s; exposes %s\n",
		strings.Join(names, " "), img.user, strings.Join(img.exposed, " "))
	return nil
}

func syntaxNote(df *dockerfile) string {
	if df.syntax == "" {
		return ""
	}
	return " and the syntax frontend"
}

// replayStages replays every stage the final stage copies from, each in
// a directory of its own under o.Dir, and returns those directories by
// stage name.
func replayStages(ctx context.Context, df *dockerfile, o checkOptions) (map[string]string, error) {
	ignore, err := readIgnore(filepath.Join(o.Context, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	final := &df.stages[len(df.stages)-1]
	sources := copySources(final)
	if len(sources) == 0 {
		return nil, errors.New("the final stage copies nothing from a build stage")
	}
	roots := map[string]string{}
	for name, mapped := range sources {
		st, ok := stageNamed(df.stages, name)
		if !ok {
			return nil, fmt.Errorf("COPY --from=%s: no such stage", name)
		}
		r := &replay{root: filepath.Join(o.Dir, name), context: o.Context, ignore: ignore, mapped: mapped, log: o.Log}
		if err := r.run(ctx, st, name, df.args); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Dockerfile, err)
		}
		fmt.Fprintf(o.Log, "stage %s replayed: %d RUN instructions from a copy of the build context\n", name, r.commands)
		roots[name] = r.root
	}
	return roots, nil
}

// copySources maps each stage the final stage copies from to the paths
// it copies.
func copySources(final *instructions.Stage) map[string][]string {
	out := map[string][]string{}
	for _, c := range final.Commands {
		if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
			for _, src := range cp.SourcePaths {
				out[cp.From] = append(out[cp.From], strings.TrimSuffix(src, "/"))
			}
		}
	}
	return out
}
