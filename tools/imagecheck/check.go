package main

import (
	"context"
	"debug/elf"
	"encoding/json"
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
)

// pinned is an image reference with a sha256 digest.
var pinned = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)

// checkPinned reports every base image, and the syntax frontend, that is
// not pinned by digest: a tag moves, so an unpinned build is not the one
// that was reviewed.
func checkPinned(df *dockerfile) error {
	var errs []error
	if df.syntax != "" && !pinned.MatchString(df.syntax) {
		errs = append(errs, fmt.Errorf("line 1: syntax %s is not pinned by digest (name:tag@sha256:...)", df.syntax))
	}
	for i, st := range df.stages {
		if _, isStage := stageNamed(df.stages[:i], st.image); isStage {
			continue
		}
		if !pinned.MatchString(st.image) {
			errs = append(errs, fmt.Errorf("line %d: FROM %s is not pinned by digest (name:tag@sha256:...)", st.from.line, st.image))
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
func assemble(final *stage, roots map[string]string) (*image, error) {
	img := &image{files: map[string]string{}}
	for _, in := range final.body {
		var err error
		switch in.cmd {
		case "COPY":
			err = img.copyFrom(in, roots)
		case "USER":
			img.user = in.args
		case "EXPOSE":
			img.exposed = append(img.exposed, strings.Fields(in.args)...)
		case "ENTRYPOINT":
			if err = json.Unmarshal([]byte(in.args), &img.entrypoint); err != nil || len(img.entrypoint) == 0 {
				err = fmt.Errorf("ENTRYPOINT %s: want the exec form, a JSON array", in.args)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", in.line, err)
		}
	}
	return img, nil
}

func (img *image) copyFrom(in instruction, roots map[string]string) error {
	opts, rest := flags(in.args)
	from := opts["from"]
	words := strings.Fields(rest)
	if len(from) != 1 || len(words) != 2 {
		return fmt.Errorf("COPY %s: want --from=stage, one source and a destination", in.args)
	}
	root, ok := roots[from[0]]
	if !ok {
		return fmt.Errorf("COPY --from=%s: no such stage", from[0])
	}
	src := filepath.Join(root, filepath.FromSlash(words[0]))
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("COPY --from=%s %s: the stage did not make it: %w", from[0], words[0], err)
	}
	if !strings.HasSuffix(words[0], "/") {
		return fmt.Errorf("COPY --from=%s %s: only directories are followed", from[0], words[0])
	}
	for _, e := range entries {
		img.files[path.Join(words[1], e.Name())] = filepath.Join(src, e.Name())
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
