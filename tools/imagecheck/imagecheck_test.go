package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// TestRepositoryDockerfile replays the repository's Dockerfile: the image
// it describes builds from its context and runs.
func TestRepositoryDockerfile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	err := check(ctx, checkOptions{Dockerfile: "../../Dockerfile", Context: "../..", Dir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("image check: %v\n%s", err, log.String())
	}
	for _, want := range []string{"pinned by digest: 2 base images", "/usr/local/bin/observerd", "entrypoint -version: observerd, version"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("image check said\n%s\nwant %q in it", log.String(), want)
		}
	}
}

const (
	goImage   = "golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647"
	baseImage = "gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab"
)

func TestPinned(t *testing.T) {
	tests := []struct {
		give string
		want string // in the error; empty: none
	}{
		{give: "FROM " + goImage + " AS build\nFROM build", want: ""},
		{give: "# syntax=docker/dockerfile:1\nFROM " + baseImage, want: "syntax docker/dockerfile:1 is not pinned"},
		{give: "FROM golang:1.26 AS build\nFROM " + baseImage, want: "line 1: FROM golang:1.26 is not pinned"},
		{give: "FROM " + goImage + "\nFROM alpine:latest", want: "line 2: FROM alpine:latest is not pinned"},
		{give: "FROM alpine@sha256:1234", want: "not pinned"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			df, err := parseDockerfile(strings.NewReader(tt.give))
			if err != nil {
				t.Fatal(err)
			}
			err = checkPinned(df)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkPinned: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkPinned: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	df, err := parseDockerfile(strings.NewReader("# syntax=x@sha256:abc\nARG A=1\n# a comment\nFROM --platform=$BUILDPLATFORM img AS build\nRUN a \\\n    && b\n\nFROM scratch\nCOPY --from=build /out/ /bin/\n"))
	if err != nil {
		t.Fatal(err)
	}
	if df.syntax != "x@sha256:abc" || df.args["A"] != "1" || len(df.stages) != 2 {
		t.Fatalf("parsed %+v", df)
	}
	b := df.stages[0]
	if b.Name != "build" || b.BaseName != "img" || len(b.Commands) != 1 {
		t.Fatalf("stage 0 = %+v", b)
	}
	// BuildKit keeps the indentation of a continued line.
	run, ok := b.Commands[0].(*instructions.RunCommand)
	if !ok || strings.Join(strings.Fields(strings.Join(run.CmdLine, " ")), " ") != "a && b" || line(run.Location()) != 5 {
		t.Errorf("stage 0, first instruction = %+v", b.Commands[0])
	}
	for _, give := range []string{"RUN x\n", "FROM a b c d\n", "FROM a\nRUN x \\\n"} {
		if _, err := parseDockerfile(strings.NewReader(give)); err == nil {
			t.Errorf("parseDockerfile(%q) succeeded", give)
		}
	}
}

func TestDockerignore(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".dockerignore")
	if err := os.WriteFile(file, []byte("# only the sources\n*\n!go.mod\n!cmd/\n**/*_test.go\n**/testdata/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rules, err := readIgnore(file)
	if err != nil {
		t.Fatal(err)
	}
	for give, want := range map[string]bool{
		"go.mod": false, "README.md": true, "cmd/observerd/main.go": false,
		"cmd/observerd/run_test.go": true, "cmd/x/testdata/a.json": true, "bench/x.go": true,
	} {
		if got, err := rules.excluded(give); err != nil || got != want {
			t.Errorf("excluded(%q) = %v, %v, want %v", give, got, err, want)
		}
	}
}

// TestRejectsBadImages: what the final stage must not be.
func TestRejectsBadImages(t *testing.T) {
	ctx := context.Background()
	exe, err := os.Executable() // the test binary: a linux executable
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give image
		want string
	}{
		{"root", image{files: map[string]string{"/bin/x": exe}, user: "root", entrypoint: []string{"/bin/x"}, exposed: []string{"9750"}}, "must not run as root"},
		{"no user", image{files: map[string]string{"/bin/x": exe}, entrypoint: []string{"/bin/x"}, exposed: []string{"9750"}}, "must not run as root"},
		{"entrypoint missing", image{files: map[string]string{"/bin/x": exe}, user: "nonroot", entrypoint: []string{"/bin/y"}, exposed: []string{"9750"}}, "ENTRYPOINT /bin/y is not in the image"},
		{"port", image{files: map[string]string{}, user: "nonroot", entrypoint: []string{"/bin/x"}, exposed: []string{"8080"}}, "lacks 9750"},
		{"not ELF", image{files: map[string]string{"/etc/x": "imagecheck_test.go"}, user: "nonroot", exposed: []string{"9750"}}, "not an ELF executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkImage(ctx, &tt.give, "9750", &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkImage: %v, want %q", err, tt.want)
			}
		})
	}
}
