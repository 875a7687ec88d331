package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The names the kit's manifests agree on.
const (
	nodeContainer      = "ratelimiter"
	observerdContainer = "observerd"
	metricsPortName    = "metrics"
	metricsPort        = 9750
	probePortName      = "probe"
	classicComponent   = "components/classic-sidecar"
)

// renderings are the kit's base and every component, alone and together,
// as a user would list them in an overlay; classic-sidecar comes last, as
// the README says.
var renderings = []rendering{
	{name: "base"},
	{name: "classic-sidecar", components: []string{classicComponent}},
	{name: "redis-tls", components: []string{"components/redis-tls"}},
	{name: "prometheus-auth", components: []string{"components/prometheus-auth"}},
	{name: "web-tls", components: []string{"components/web-tls"}},
	{name: "servicemonitor", components: []string{"components/servicemonitor"}},
	{name: "podmonitor", components: []string{"components/podmonitor"}},
	{name: "all, native sidecar", components: []string{
		"components/redis-tls", "components/prometheus-auth", "components/web-tls", "components/servicemonitor",
	}},
	{name: "all, classic sidecar", components: []string{
		"components/redis-tls", "components/prometheus-auth", "components/web-tls", "components/podmonitor", classicComponent,
	}},
}

// rendering is the base with components, in that order.
type rendering struct {
	name       string
	components []string
}

func TestKubernetesRenderings(t *testing.T) {
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			docs := render(t, r.components...)
			d := theDeployment(t, docs)
			pod := d.Spec.Template.Spec
			for _, c := range pod.allContainers() {
				checkHardened(t, pod, c)
			}
			checkObserverdProbes(t, pod)
			checkNodeProbes(t, pod)
			checkPDB(t, docs, d)
			checkServiceTargets(t, docs, pod)
			checkServiceMonitors(t, docs, pod)
			checkPodMonitors(t, docs, d)
			checkCredentialFiles(t, pod)
			checkSecretsExist(t, pod)
		})
	}
}

// TestKubernetesComponentsTested keeps renderings complete: every
// component directory is rendered by TestKubernetesRenderings.
func TestKubernetesComponentsTested(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(kubeDir, "components", "*", "kustomization.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no components under %s/components: %v", kubeDir, err)
	}
	for _, file := range dirs {
		rel, _ := filepath.Rel(kubeDir, filepath.Dir(file))
		found := slices.ContainsFunc(renderings, func(r rendering) bool {
			return len(r.components) == 1 && r.components[0] == filepath.ToSlash(rel)
		})
		if !found {
			t.Errorf("%s is not rendered alone by TestKubernetesRenderings", rel)
		}
	}
}

// TestKubernetesBaseWithoutOperator checks that the base applies to a
// cluster without the Prometheus Operator's CRDs.
func TestKubernetesBaseWithoutOperator(t *testing.T) {
	for _, doc := range render(t) {
		if api, _ := doc["apiVersion"].(string); strings.HasPrefix(api, "monitoring.coreos.com/") {
			t.Errorf("the base holds %s, which needs the Prometheus Operator", objectKey(doc))
		}
	}
}

// TestKubernetesNativeSidecar checks where observerd runs: a native sidecar
// (an init container that restarts Always, started before the node and
// stopped after it) in the base, a regular container with classic-sidecar,
// and otherwise the same container in both.
func TestKubernetesNativeSidecar(t *testing.T) {
	native := theDeployment(t, render(t)).Spec.Template.Spec
	n, init, ok := native.find(observerdContainer)
	if !ok || !init || n.RestartPolicy != "Always" {
		t.Fatalf("base: observerd is not an init container with restartPolicy Always (found %v, init %v, restartPolicy %q)", ok, init, n.RestartPolicy)
	}
	classic := theDeployment(t, render(t, classicComponent)).Spec.Template.Spec
	c, init, ok := classic.find(observerdContainer)
	if !ok || init || c.RestartPolicy != "" {
		t.Fatalf("classic-sidecar: observerd is not a regular container without restartPolicy (found %v, init %v, restartPolicy %q)", ok, init, c.RestartPolicy)
	}
	rawNative := rawContainer(t, render(t), "initContainers", observerdContainer)
	delete(rawNative, "restartPolicy")
	rawClassic := rawContainer(t, render(t, classicComponent), "containers", observerdContainer)
	if diff := cmp.Diff(rawNative, rawClassic); diff != "" {
		t.Errorf("observerd differs between the native and the classic sidecar (-native +classic):\n%s", diff)
	}
}

// TestKubernetesRendersAsKubectl checks the library's rendering against
// kubectl kustomize, where kubectl has a kustomize that knows Components,
// so that the tests judge what an operator applies.
func TestKubernetesRendersAsKubectl(t *testing.T) {
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			dir := overlayDir(t, r.components)
			got, err := kustomize(dir)
			if err != nil {
				t.Fatal(err)
			}
			kubectl, err := usableKustomize(t.Context())
			if err != nil {
				t.Logf("nothing to compare with: %v", err)
				return
			}
			want, err := kubectlKustomize(t.Context(), kubectl, dir)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if diff := cmp.Diff(byKey(want), byKey(got)); diff != "" {
				t.Errorf("the library renders differently from kubectl kustomize (-kubectl +library):\n%s", diff)
			}
		})
	}
}

// rawContainer returns the container called name from list (containers
// or initContainers) of the rendered Deployment, as parsed.
func rawContainer(t *testing.T, docs []map[string]any, list, name string) map[string]any {
	t.Helper()
	for _, doc := range docs {
		if kindOf(doc) != "Deployment" {
			continue
		}
		spec, _ := doc["spec"].(map[string]any)
		tmpl, _ := spec["template"].(map[string]any)
		pod, _ := tmpl["spec"].(map[string]any)
		cs, ok := pod[list].([]any)
		if !ok {
			t.Fatalf("Deployment %s has no spec.template.spec.%s list", nameOf(doc), list)
		}
		for _, c := range cs {
			if m, _ := c.(map[string]any); m["name"] == name {
				return m
			}
		}
	}
	t.Fatalf("no container %s in %s", name, list)
	return nil
}

func byKey(docs []map[string]any) map[string]map[string]any {
	m := make(map[string]map[string]any, len(docs))
	for _, doc := range docs {
		m[objectKey(doc)] = doc
	}
	return m
}

// theDeployment returns the one Deployment of a rendering.
func theDeployment(t *testing.T, docs []map[string]any) deployment {
	t.Helper()
	ds := objectsOf[deployment](t, docs, "Deployment")
	if len(ds) != 1 {
		t.Fatalf("%d Deployments rendered, want 1", len(ds))
	}
	return ds[0]
}

// checkHardened checks c's effective security context (its own, else the
// pod's) and that it has CPU and memory requests and limits.
func checkHardened(t *testing.T, pod podSpec, c container) {
	t.Helper()
	sc, psc := c.SecurityContext, pod.SecurityContext
	nonRoot := cmpOr(sc.RunAsNonRoot, psc.RunAsNonRoot)
	if nonRoot == nil || !*nonRoot {
		t.Errorf("container %s: runAsNonRoot is not true", c.Name)
	}
	if uid := cmpOr(sc.RunAsUser, psc.RunAsUser); uid != nil && *uid == 0 {
		t.Errorf("container %s: runs as user 0", c.Name)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container %s: capabilities drop %v and add %v, want drop ALL and add none", c.Name, sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	seccomp := cmpOr(sc.SeccompProfile, psc.SeccompProfile)
	if seccomp == nil || seccomp.Type != "RuntimeDefault" {
		t.Errorf("container %s: seccomp profile is not RuntimeDefault", c.Name)
	}
	for _, res := range []string{"cpu", "memory"} {
		if c.Resources.Requests[res] == "" || c.Resources.Limits[res] == "" {
			t.Errorf("container %s: no %s request and limit (requests %v, limits %v)", c.Name, res, c.Resources.Requests, c.Resources.Limits)
		}
	}
}

// cmpOr returns the first of its pointers that is not nil.
func cmpOr[T any](ptrs ...*T) *T {
	for _, p := range ptrs {
		if p != nil {
			return p
		}
	}
	return nil
}

// checkObserverdProbes checks that nothing observerd's sources do can take
// the node out of its Service: no readiness probe on observerd (its
// readiness counts toward the pod's as an init container too), liveness on
// /healthz, and no probe at all on /readyz. The liveness probe asks the
// probe listener in plain HTTP, whatever the web configuration: a port of
// its own, the one OBSERVERD_PROBE_ADDR binds, so that a crowd on the
// metrics port does not time it out.
func checkObserverdProbes(t *testing.T, pod podSpec) {
	t.Helper()
	c, _, ok := pod.find(observerdContainer)
	if !ok {
		t.Fatal("no observerd container")
	}
	if c.ReadinessProbe != nil {
		t.Errorf("observerd has a readiness probe (%s): it would hold the node out of its Service", describeProbe(c.ReadinessProbe))
	}
	lp := c.LivenessProbe
	if lp == nil || lp.HTTPGet == nil || lp.HTTPGet.Path != "/healthz" || fmt.Sprint(lp.HTTPGet.Port) != probePortName {
		t.Errorf("observerd's liveness probe is %s, want httpGet /healthz on port %s", describeProbe(lp), probePortName)
	} else if scheme := lp.HTTPGet.Scheme; scheme != "" && scheme != "HTTP" {
		t.Errorf("observerd's liveness probe asks in %s: the probe listener is plain HTTP whatever the web configuration", scheme)
	}
	var probeAddr string
	for _, e := range c.Env {
		if e.Name == "OBSERVERD_PROBE_ADDR" {
			probeAddr = e.Value
		}
	}
	_, port, err := net.SplitHostPort(probeAddr)
	if n := observerdPort(pod, probePortName); err != nil || port != strconv.Itoa(n) || n == metricsPort {
		t.Errorf("observerd's OBSERVERD_PROBE_ADDR is %q, its port %s is %d: want the same port, not %d", probeAddr, probePortName, n, metricsPort)
	}
	for _, p := range []*probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
		if p != nil && p.HTTPGet != nil && p.HTTPGet.Path == "/readyz" {
			t.Errorf("observerd is probed on /readyz, which waits on its sources")
		}
	}
}

// checkNodeProbes checks that the node keeps its own readiness.
func checkNodeProbes(t *testing.T, pod podSpec) {
	t.Helper()
	c, init, ok := pod.find(nodeContainer)
	if !ok || init {
		t.Fatalf("no regular container %s", nodeContainer)
	}
	rp := c.ReadinessProbe
	if rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Path != "/health" {
		t.Errorf("the node's readiness probe is %s, want httpGet /health", describeProbe(rp))
	}
}

func describeProbe(p *probe) string {
	switch {
	case p == nil:
		return "none"
	case p.HTTPGet != nil:
		return fmt.Sprintf("httpGet %s on port %v", p.HTTPGet.Path, p.HTTPGet.Port)
	case p.TCPSocket != nil:
		return "tcpSocket"
	}
	return "exec"
}

// checkPDB checks that one PodDisruptionBudget covers the Deployment's
// pods and lets at least one be evicted.
func checkPDB(t *testing.T, docs []map[string]any, d deployment) {
	t.Helper()
	pdbs := objectsOf[podDisruptionBudget](t, docs, "PodDisruptionBudget")
	labels := d.Spec.Template.Metadata.Labels
	n := 0
	for _, p := range pdbs {
		if !selects(p.Spec.Selector.MatchLabels, labels) {
			continue
		}
		n++
		if p.Metadata.Namespace != d.Metadata.Namespace {
			t.Errorf("PodDisruptionBudget %s is in namespace %q, the pods in %q", p.Metadata.Name, p.Metadata.Namespace, d.Metadata.Namespace)
		}
		if min, ok := p.Spec.MinAvailable.(int); p.Spec.MaxUnavailable == nil && (!ok || min >= d.Spec.Replicas) {
			t.Errorf("PodDisruptionBudget %s: minAvailable %v of %d pods, maxUnavailable %v: want maxUnavailable, or a minAvailable below the replicas",
				p.Metadata.Name, p.Spec.MinAvailable, d.Spec.Replicas, p.Spec.MaxUnavailable)
		}
	}
	if n != 1 {
		t.Errorf("%d PodDisruptionBudgets select the pods (labels %v), want 1", n, labels)
	}
}

// checkServiceTargets checks that every Service port reaches a container
// port of the pods. A named targetPort must name a regular container's
// port: Services resolve the named ports of native sidecars only from
// Kubernetes 1.32 on.
func checkServiceTargets(t *testing.T, docs []map[string]any, pod podSpec) {
	t.Helper()
	for _, s := range objectsOf[service](t, docs, "Service") {
		for _, p := range s.Spec.Ports {
			var ok bool
			if name, isName := p.TargetPort.(string); isName {
				ok = hasPortNamed(pod.Containers, name)
			} else {
				ok = hasPortNumbered(pod.allContainers(), fmt.Sprint(p.TargetPort))
			}
			if !ok {
				t.Errorf("Service %s port %s: targetPort %v is no port of a container that the Service can reach on every Kubernetes version", s.Metadata.Name, p.Name, p.TargetPort)
			}
		}
	}
}

func hasPortNamed(cs []container, name string) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func hasPortNumbered(cs []container, number string) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if fmt.Sprint(p.ContainerPort) == number {
				return true
			}
		}
	}
	return false
}

// checkServiceMonitors checks that each ServiceMonitor selects a Service
// and scrapes ports it has by name, and that one of them scrapes
// observerd's metrics port.
func checkServiceMonitors(t *testing.T, docs []map[string]any, pod podSpec) {
	t.Helper()
	services := objectsOf[service](t, docs, "Service")
	for _, m := range objectsOf[monitor](t, docs, "ServiceMonitor") {
		observerd := false
		for _, s := range services {
			if !selects(m.Spec.Selector.MatchLabels, s.Metadata.Labels) {
				continue
			}
			for _, e := range m.Spec.Endpoints {
				i := slices.IndexFunc(s.Spec.Ports, func(p servicePort) bool {
					return p.Name == e.Port
				})
				if i < 0 {
					t.Errorf("ServiceMonitor %s: Service %s has no port named %q", m.Metadata.Name, s.Metadata.Name, e.Port)
					continue
				}
				if targetNumber(pod, s.Spec.Ports[i].TargetPort) == metricsPort && observerdPort(pod, metricsPortName) == metricsPort {
					observerd = true
				}
			}
		}
		if strings.Contains(m.Metadata.Name, "observerd") && !observerd {
			t.Errorf("ServiceMonitor %s does not scrape observerd's port %s (%d)", m.Metadata.Name, metricsPortName, metricsPort)
		}
	}
}

// targetNumber returns the container port number a Service's targetPort
// stands for, 0 when none.
func targetNumber(pod podSpec, target any) int {
	if n, ok := target.(int); ok {
		return n
	}
	for _, c := range pod.allContainers() {
		for _, p := range c.Ports {
			if p.Name == fmt.Sprint(target) {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// observerdPort returns the number of observerd's port called name, 0 when
// it has none.
func observerdPort(pod podSpec, name string) int {
	c, _, _ := pod.find(observerdContainer)
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// checkPodMonitors checks that each PodMonitor selects the pods and scrapes
// container ports they have by name, one of them observerd's.
func checkPodMonitors(t *testing.T, docs []map[string]any, d deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	for _, m := range objectsOf[monitor](t, docs, "PodMonitor") {
		if !selects(m.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) {
			t.Errorf("PodMonitor %s selects %v, not the pods", m.Metadata.Name, m.Spec.Selector.MatchLabels)
		}
		observerd := false
		for _, e := range m.Spec.PodMetricsEndpoints {
			if !hasPortNamed(pod.allContainers(), e.Port) {
				t.Errorf("PodMonitor %s: the pods have no port named %q", m.Metadata.Name, e.Port)
			}
			observerd = observerd || (e.Port == metricsPortName && observerdPort(pod, e.Port) == metricsPort)
		}
		if !observerd {
			t.Errorf("PodMonitor %s does not scrape observerd's port %s", m.Metadata.Name, metricsPortName)
		}
	}
}

// checkCredentialFiles checks that observerd takes no secret from its
// environment, and that every file variable it is given names a file of a
// Secret mounted read-only, readable by the pod's group only.
func checkCredentialFiles(t *testing.T, pod podSpec) {
	t.Helper()
	c, _, _ := pod.find(observerdContainer)
	for _, e := range c.Env {
		if _, ok := e.ValueFrom["secretKeyRef"]; ok {
			t.Errorf("observerd takes %s from a Secret in its environment, not as a file", e.Name)
		}
		if !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		if err := mountedSecretFile(pod, c, e.Value); err != nil {
			t.Errorf("observerd's %s=%s: %v", e.Name, e.Value, err)
		}
	}
}

// mountedSecretFile says why path is no file of a Secret that c mounts
// read-only with a mode no other user can read, nil when it is one.
func mountedSecretFile(pod podSpec, c container, path string) error {
	for _, m := range c.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		if !m.ReadOnly {
			return fmt.Errorf("volume %s is mounted writable", m.Name)
		}
		i := slices.IndexFunc(pod.Volumes, func(v volume) bool { return v.Name == m.Name })
		if i < 0 || pod.Volumes[i].Secret == nil {
			return fmt.Errorf("volume %s is not a Secret", m.Name)
		}
		s := pod.Volumes[i].Secret
		if s.DefaultMode == nil || *s.DefaultMode&0o037 != 0 || pod.SecurityContext.FSGroup == nil {
			return fmt.Errorf("Secret %s: defaultMode %v with fsGroup %v, want 0440 or 0400 with an fsGroup", s.SecretName, s.DefaultMode, pod.SecurityContext.FSGroup)
		}
		if !slices.ContainsFunc(s.Items, func(it keyToPath) bool {
			return it.Path == rel
		}) {
			return fmt.Errorf("Secret %s mounted at %s lists no item %s", s.SecretName, m.MountPath, rel)
		}
		return nil
	}
	return fmt.Errorf("no volume of container %s is mounted there", c.Name)
}

// checkSecretsExist checks that every Secret key the pod reads is in
// secret.example.yaml, so that the example is all a user must create.
func checkSecretsExist(t *testing.T, pod podSpec) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(kubeDir, "secret.example.yaml"))
	if err != nil {
		t.Fatalf("read secret.example.yaml: %v", err)
	}
	docs, err := decodeDocs(b)
	if err != nil {
		t.Fatalf("secret.example.yaml: %v", err)
	}
	keys := map[string][]string{}
	for _, s := range objectsOf[secret](t, docs, "Secret") {
		for k := range s.StringData {
			keys[s.Metadata.Name] = append(keys[s.Metadata.Name], k)
		}
		for k := range s.Data {
			keys[s.Metadata.Name] = append(keys[s.Metadata.Name], k)
		}
	}
	for _, want := range secretKeysRead(pod) {
		name, key, _ := strings.Cut(want, "/")
		if !slices.Contains(keys[name], key) {
			t.Errorf("the pods read key %q of Secret %s, which secret.example.yaml does not show", key, name)
		}
	}
}

// secretKeysRead lists the Secret keys, as "secret/key", that the pod
// mounts or puts in an environment.
func secretKeysRead(pod podSpec) []string {
	var out []string
	for _, v := range pod.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, it := range v.Secret.Items {
			out = append(out, v.Secret.SecretName+"/"+it.Key)
		}
	}
	for _, c := range pod.allContainers() {
		for _, e := range c.Env {
			ref, ok := e.ValueFrom["secretKeyRef"].(map[string]any)
			if ok {
				out = append(out, fmt.Sprintf("%v/%v", ref["name"], ref["key"]))
			}
		}
	}
	sort.Strings(out)
	return out
}
