package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// pinned is an image reference with a sha256 digest.
var pinned = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// checkPinned reports every base image, and the syntax frontend, that is
// not pinned by digest: a tag moves, so an unpinned build is not the one
// that was reviewed.
func checkPinned(df *dockerfile) error {
	var errs []error
	if df.syntax != "" && !pinned.MatchString(df.syntax) {
		errs = append(errs, fmt.Errorf("line %d: syntax %s is not pinned by digest (name:tag@sha256:...)", df.syntaxLine, df.syntax))
	}
	for i, st := range df.stages {
		if _, isStage := stageNamed(df.stages[:i], st.BaseName); isStage {
			continue
		}
		if !pinned.MatchString(st.BaseName) {
			errs = append(errs, fmt.Errorf("line %d: FROM %s is not pinned by digest (name:tag@sha256:...)", line(st.Location), st.BaseName))
		}
	}
	return errors.Join(errs...)
}

// image is what the final stage holds, as far as this check knows it.
type image struct {
	files      map[string]string // path in the image -> file on this machine
	user       string
	entrypoint []string
	exposed    []string
}

// assemble follows the final stage: its COPY --from instructions take
// files from the replayed stages' roots.
func assemble(final *instructions.Stage, roots map[string]string) (*image, error) {
	img := &image{files: map[string]string{}}
	for _, c := range final.Commands {
		var err error
		switch c := c.(type) {
		case *instructions.CopyCommand:
			err = img.copyFrom(c, roots)
		case *instructions.UserCommand:
			img.user = c.User
		case *instructions.ExposeCommand:
			img.exposed = append(img.exposed, c.Ports...)
		case *instructions.EntrypointCommand:
			if c.PrependShell || len(c.CmdLine) == 0 {
				err = fmt.Errorf("%s: want the exec form, a JSON array", c)
			}
			img.entrypoint = c.CmdLine
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line(c.Location()), err)
		}
	}
	return img, nil
}

func (img *image) copyFrom(c *instructions.CopyCommand, roots map[string]string) error {
	if c.From == "" || len(c.SourcePaths) != 1 {
		return fmt.Errorf("%s: want --from=stage, one source and a destination", c)
	}
	root, ok := roots[c.From]
	if !ok {
		return fmt.Errorf("COPY --from=%s: no such stage", c.From)
	}
	from := c.SourcePaths[0]
	src := filepath.Join(root, filepath.FromSlash(from))
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("COPY --from=%s %s: the stage did not make it: %w", c.From, from, err)
	}
	if !strings.HasSuffix(from, "/") {
		return fmt.Errorf("COPY --from=%s %s: only directories are followed", c.From, from)
	}
	for _, e := range entries {
		img.files[path.Join(c.DestPath, e.Name())] = filepath.Join(src, e.Name())
	}
	return nil
}

// checkImage judges the assembled image: a non-root user, an entrypoint
// the image holds, static linux binaries (the base has no libc), the
// port observerd listens on by default exposed, and an entrypoint that
// runs and reports its version.
func checkImage(ctx context.Context, img *image, wantPort string, w io.Writer) error {
	var errs []error
	if u := img.user; u == "" || u == "root" || u == "0" || strings.HasPrefix(u, "root:") || strings.HasPrefix(u, "0:") {
		errs = append(errs, fmt.Errorf("USER %q: the image must not run as root", u))
	}
	if !containsPort(img.exposed, wantPort) {
		errs = append(errs, fmt.Errorf("EXPOSE %v lacks %s, observerd's default port", img.exposed, wantPort))
	}
	for name, file := range img.files {
		if err := checkStatic(file); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if len(img.entrypoint) > 0 {
		file, ok := img.files[img.entrypoint[0]]
		if !ok {
			errs = append(errs, fmt.Errorf("ENTRYPOINT %s is not in the image", img.entrypoint[0]))
		} else if err := runVersion(ctx, file, w); err != nil {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, errors.New("no ENTRYPOINT"))
	}
	return errors.Join(errs...)
}

func containsPort(exposed []string, port string) bool {
	for _, p := range exposed {
		if strings.TrimSuffix(p, "/tcp") == port {
			return true
		}
	}
	return false
}

// checkStatic reports a file that is not a statically linked linux ELF
// executable.
func checkStatic(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return fmt.Errorf("ELF for %v, want linux", f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (it asks for an interpreter); the base image has no libc: build with CGO_ENABLED=0")
		}
	}
	return nil
}

// runVersion runs the entrypoint with -version, as `docker run image
// -version` would.
func runVersion(ctx context.Context, file string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, file, "-version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -version: %w: %s", filepath.Base(file), err, out)
	}
	if !strings.Contains(string(out), "version") {
		return fmt.Errorf("%s -version printed %q", filepath.Base(file), out)
	}
	fmt.Fprintf(w, "entrypoint -version: %s\n", strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0])
	return nil
}
