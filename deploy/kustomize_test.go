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
)

// kustomizeTimeout bounds one `kubectl kustomize`; each takes well under a
// second.
const kustomizeTimeout = 30 * time.Second

// kubeDir is the Kubernetes kit, relative to the package directory.
const kubeDir = "kubernetes"

// kustomization is the part of a kustomization.yaml (kind Kustomization or
// Component) that the kit uses, and so all that renderFiles understands.
type kustomization struct {
	Kind       string   `yaml:"kind"`
	Namespace  string   `yaml:"namespace"`
	Resources  []string `yaml:"resources"`
	Components []string `yaml:"components"`
	Patches    []struct {
		Patch  string `yaml:"patch"`
		Target struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"target"`
	} `yaml:"patches"`
}

// jsonPatchOp is one RFC 6902 operation of an inline patch.
type jsonPatchOp struct {
	Op    string `yaml:"op"`
	Path  string `yaml:"path"`
	From  string `yaml:"from"`
	Value any    `yaml:"value"`
}

// render returns the objects that the kit's base with components renders
// to, the base alone when components is empty. It asks `kubectl kustomize`
// when kubectl has a kustomize of major version 4 or later (which knows
// Components), and else reads the files itself; the test log says so.
func render(t *testing.T, components ...string) []map[string]any {
	t.Helper()
	dir := overlayDir(t, components)
	kubectl, err := usableKustomize(t.Context())
	if err != nil {
		t.Logf("kubectl kustomize unusable (%v): reading the files listed in kustomization.yaml instead", err)
		docs, err := renderFiles(dir)
		if err != nil {
			t.Fatalf("render %s: %v", dir, err)
		}
		return docs
	}
	docs, err := kubectlKustomize(t.Context(), kubectl, dir)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return docs
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

// renderFiles renders the kustomization in dir without kustomize: its
// resources (files, or directories rendered the same way), then each
// component's resources and inline JSON patches, then its own patches and
// namespace. That is all the kit uses; anything else is an error.
func renderFiles(dir string) ([]map[string]any, error) {
	k, err := readKustomization(dir)
	if err != nil {
		return nil, err
	}
	var docs []map[string]any
	for _, r := range k.Resources {
		more, err := renderResource(dir, r)
		if err != nil {
			return nil, err
		}
		docs = append(docs, more...)
	}
	for _, c := range k.Components {
		cdir := joinPath(dir, c)
		ck, err := readKustomization(cdir)
		if err != nil {
			return nil, err
		}
		if ck.Kind != "Component" {
			return nil, fmt.Errorf("%s is a %s, not a Component", cdir, ck.Kind)
		}
		if docs, err = applyKustomization(cdir, ck, docs); err != nil {
			return nil, err
		}
	}
	return applyPatches(dir, k, docs)
}

// applyKustomization adds a component's resources to docs and applies its
// patches.
func applyKustomization(dir string, k kustomization, docs []map[string]any) ([]map[string]any, error) {
	for _, r := range k.Resources {
		more, err := renderResource(dir, r)
		if err != nil {
			return nil, err
		}
		docs = append(docs, more...)
	}
	return applyPatches(dir, k, docs)
}

// applyPatches applies k's inline JSON patches and its namespace to docs.
func applyPatches(dir string, k kustomization, docs []map[string]any) ([]map[string]any, error) {
	for i, p := range k.Patches {
		var ops []jsonPatchOp
		if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
			return nil, fmt.Errorf("%s: patch %d: parse: %w", dir, i, err)
		}
		matched := false
		for j, doc := range docs {
			if kindOf(doc) != p.Target.Kind || nameOf(doc) != p.Target.Name {
				continue
			}
			matched = true
			patched, err := applyJSONPatch(doc, ops)
			if err != nil {
				return nil, fmt.Errorf("%s: patch %d: %w", dir, i, err)
			}
			docs[j] = patched.(map[string]any)
		}
		if !matched {
			return nil, fmt.Errorf("%s: patch %d: no %s %q", dir, i, p.Target.Kind, p.Target.Name)
		}
	}
	if k.Namespace != "" {
		for _, doc := range docs {
			if kindOf(doc) != "Namespace" {
				doc["metadata"].(map[string]any)["namespace"] = k.Namespace
			}
		}
	}
	return docs, nil
}

// readKustomization reads dir/kustomization.yaml.
func readKustomization(dir string) (kustomization, error) {
	var k kustomization
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return k, fmt.Errorf("read kustomization: %w", err)
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		return k, fmt.Errorf("parse %s/kustomization.yaml: %w", dir, err)
	}
	return k, nil
}

// renderResource reads one entry of resources: a directory is rendered as
// a kustomization, a file parsed.
func renderResource(dir, r string) ([]map[string]any, error) {
	path := joinPath(dir, r)
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", r, err)
	}
	if info.IsDir() {
		return renderFiles(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read resource: %w", err)
	}
	docs, err := decodeDocs(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return docs, nil
}

// joinPath resolves p, absolute or relative, against dir.
func joinPath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
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
