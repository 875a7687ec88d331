package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/filesys"
	"sigs.k8s.io/kustomize/api/krusty"
)

// kustomizeTimeout bounds one `kubectl kustomize`; each takes well under a
// second.
const kustomizeTimeout = 30 * time.Second

// kubeDir is the Kubernetes kit, relative to the package directory.
const kubeDir = "../../deploy/kubernetes"

// render returns the objects that the kit's base with components renders
// to, the base alone when components is empty, rendered by kustomize's
// own library, the one kubectl kustomize runs.
func render(t *testing.T, components ...string) []map[string]any {
	t.Helper()
	docs, err := kustomize(overlayDir(t, components))
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return docs
}

// kustomize renders the kustomization in dir.
func kustomize(dir string) ([]map[string]any, error) {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	return decodeDocs(out)
}

// usableKustomize returns the path of kubectl when its kustomize is v4 or
// later. Debian's kubernetes-client (1.20) has kustomize v2, which knows
// no Components.
func usableKustomize(ctx context.Context) (string, error) {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("find kubectl: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, kustomizeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version", "--client", "-o", "yaml").Output()
	if err != nil {
		return "", fmt.Errorf("kubectl version: %w", err)
	}
	var v struct {
		KustomizeVersion string `yaml:"kustomizeVersion"`
	}
	if err := yaml.Unmarshal(out, &v); err != nil {
		return "", fmt.Errorf("parse kubectl version: %w", err)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(v.KustomizeVersion, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 4 {
		return "", fmt.Errorf("kubectl has kustomize %q, want v4 or later", v.KustomizeVersion)
	}
	return path, nil
}

// overlayDir writes a kustomization of the base and components, as a user's
// own overlay would be, into a temporary directory and returns it.
func overlayDir(t *testing.T, components []string) string {
	t.Helper()
	dir := t.TempDir()
	// kustomize takes relative paths only.
	rel := func(p string) string {
		abs, err := filepath.Abs(filepath.Join(kubeDir, p))
		if err == nil {
			p, err = filepath.Rel(dir, abs)
		}
		if err != nil {
			t.Fatalf("path of %s from %s: %v", p, dir, err)
		}
		return p
	}
	k := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{rel(".")},
	}
	if len(components) > 0 {
		var cs []string
		for _, c := range components {
			cs = append(cs, rel(c))
		}
		k["components"] = cs
	}
	b, err := yaml.Marshal(k)
	if err != nil {
		t.Fatalf("marshal overlay: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), b, 0o600); err != nil {
		t.Fatalf("write overlay: %v", err)
	}
	return dir
}

// kubectlKustomize renders dir with `kubectl kustomize`, kubectl at path.
func kubectlKustomize(ctx context.Context, path, dir string) ([]map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, kustomizeTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return decodeDocs(out)
}

// decodeDocs parses a stream of YAML documents, leaving out empty ones.
func decodeDocs(b []byte) ([]map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse YAML: %w", err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func kindOf(doc map[string]any) string { s, _ := doc["kind"].(string); return s }

func nameOf(doc map[string]any) string {
	meta, _ := doc["metadata"].(map[string]any)
	s, _ := meta["name"].(string)
	return s
}

// objectKey names an object the way kubectl does: kind/namespace/name.
func objectKey(doc map[string]any) string {
	meta, _ := doc["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return kindOf(doc) + "/" + ns + "/" + nameOf(doc)
}
