package deploy

import (
	"github.com/observerd/observerd/internal/health"

	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/observerd/observerd/internal/config"
)

// nodeVariables are the rate limiter node's variables the deployment files
// may set; `ratelimiterd -h` lists them.
var nodeVariables = []string{
	"RATELIMITER_REDIS_URL",
	"RATELIMITER_NODE_ID",
	"RATELIMITER_NODE_HOST",
	"RATELIMITER_NODE_PORT",
	"RATELIMITER_DEFAULT_LIMIT",
	"RATELIMITER_DEFAULT_WINDOW_MS",
	"RATELIMITER_NODE_TTL_SECONDS",
	"RATELIMITER_NODE_HEARTBEAT_SECONDS",
}

// knownVariables are every variable the deployment files may set or name:
// observerd's, from its configuration, and the node's.
func knownVariables() []string {
	known := slices.Clone(nodeVariables)
	for _, v := range config.Vars(health.Builtin()) {
		known = append(known, v.Name)
	}
	return known
}

// kubeDir is the Kubernetes kit, relative to the package directory.
const kubeDir = "kubernetes"

var variableName = regexp.MustCompile(`\b(?:OBSERVERD|RATELIMITER)_[A-Z0-9_]*[A-Z0-9]\b`)

// deploymentFiles are the files a user copies or reads to deploy observerd:
// a fixed list and every YAML file of the Kubernetes kit.
func deploymentFiles(t *testing.T) []string {
	t.Helper()
	files := []string{
		"README.md",
		"compose.yaml",
		"prometheus/prometheus.yml",
		"../Dockerfile",
	}
	err := filepath.WalkDir(kubeDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			files = append(files, filepath.ToSlash(path))
		}
		return err
	})
	if err != nil {
		t.Fatalf("list %s: %v", kubeDir, err)
	}
	return files
}

func TestVariablesAreKnown(t *testing.T) {
	known := knownVariables()
	for _, file := range deploymentFiles(t) {
		t.Run(file, func(t *testing.T) {
			for _, name := range variableName.FindAllString(readText(t, file), -1) {
				if !slices.Contains(known, name) && !config.IsServiceLink(name) {
					t.Errorf("%s sets or names %s, which is not a documented variable", file, name)
				}
			}
		})
	}
}

// TestYAMLIndentation guards the YAML files against tabs, which YAML does
// not allow for indentation; promtool parses only the Prometheus ones.
func TestYAMLIndentation(t *testing.T) {
	for _, file := range deploymentFiles(t) {
		if !strings.HasSuffix(file, ".yaml") && !strings.HasSuffix(file, ".yml") {
			continue
		}
		for i, line := range strings.Split(readText(t, file), "\n") {
			if strings.Contains(line, "\t") {
				t.Errorf("%s:%d: tab in YAML", file, i+1)
			}
		}
	}
}

// TestManifestsSay checks the settings the manifests promise in the
// README: probes, non-root read-only containers, the Redis password as a
// file from the Secret, and the scrape annotations. TestKubernetesRenderings
// checks the rendered objects field by field.
func TestManifestsSay(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{
			give: "kubernetes/deployment.yaml",
			want: []string{
				"path: /healthz",
				"restartPolicy: Always",
				"runAsNonRoot: true",
				"readOnlyRootFilesystem: true",
				"allowPrivilegeEscalation: false",
				"containerPort: 9750",
				"containerPort: 9751",
				"name: OBSERVERD_PROBE_ADDR",
				"port: probe",
				"containerPort: 8000",
				"secretName: ratelimiter-redis",
				"name: OBSERVERD_REDIS_PASSWORD_FILE",
				"resources:",
			},
		},
		{
			give: "kubernetes/service.yaml",
			want: []string{"port: 9750", `prometheus.io/scrape: "true"`, `prometheus.io/port: "9750"`},
		},
		{
			give: "kubernetes/secret.example.yaml",
			want: []string{"kind: Secret", "name: ratelimiter-redis", "password:", "name: observerd-web", "web-config.yml:"},
		},
		{
			give: "../Dockerfile",
			want: []string{
				"FROM --platform=$BUILDPLATFORM golang:1.26@sha256:",
				`-X $v.Version=$VERSION -X $v.Revision=$REVISION`,
				"./cmd/observerd", "./cmd/ratelimiterd", "./cmd/loadgen",
				"USER nonroot", "EXPOSE 9750", `ENTRYPOINT ["/usr/local/bin/observerd"]`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			text := readText(t, tt.give)
			for _, want := range tt.want {
				if !strings.Contains(text, want) {
					t.Errorf("%s does not say %q", tt.give, want)
				}
			}
		})
	}
}
