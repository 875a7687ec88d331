package deploy

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Kubernetes objects below hold only the fields the tests read.

type objectMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type deployment struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		Replicas int           `yaml:"replicas"`
		Selector labelSelector `yaml:"selector"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     podSpec    `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	SecurityContext struct {
		securityIdentity `yaml:",inline"`
		FSGroup          *int64 `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
	Volumes        []volume    `yaml:"volumes"`
}

// securityIdentity is what a pod's security context sets for every
// container and a container's may override.
type securityIdentity struct {
	RunAsNonRoot   *bool  `yaml:"runAsNonRoot"`
	RunAsUser      *int64 `yaml:"runAsUser"`
	SeccompProfile *struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type container struct {
	Name          string          `yaml:"name"`
	RestartPolicy string          `yaml:"restartPolicy"`
	Ports         []containerPort `yaml:"ports"`
	Env           []struct {
		Name      string         `yaml:"name"`
		Value     string         `yaml:"value"`
		ValueFrom map[string]any `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		securityIdentity         `yaml:",inline"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type keyToPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

type probe struct {
	HTTPGet *struct {
		Path   string `yaml:"path"`
		Port   any    `yaml:"port"`
		Scheme string `yaml:"scheme"`
	} `yaml:"httpGet"`
	TCPSocket map[string]any `yaml:"tcpSocket"`
	Exec      map[string]any `yaml:"exec"`
}

type volume struct {
	Name   string `yaml:"name"`
	Secret *struct {
		SecretName  string      `yaml:"secretName"`
		DefaultMode *int        `yaml:"defaultMode"`
		Optional    bool        `yaml:"optional"`
		Items       []keyToPath `yaml:"items"`
	} `yaml:"secret"`
}

type service struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []servicePort     `yaml:"ports"`
	} `yaml:"spec"`
}

type podDisruptionBudget struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		Selector       labelSelector `yaml:"selector"`
		MinAvailable   any           `yaml:"minAvailable"`
		MaxUnavailable any           `yaml:"maxUnavailable"`
	} `yaml:"spec"`
}

// monitorEndpoint is an entry of a ServiceMonitor's endpoints or a
// PodMonitor's podMetricsEndpoints.
type monitorEndpoint struct {
	Port        string           `yaml:"port"`
	Path        string           `yaml:"path"`
	Scheme      string           `yaml:"scheme"`
	Relabelings []map[string]any `yaml:"relabelings"`
}

type monitor struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     struct {
		Selector            labelSelector     `yaml:"selector"`
		Endpoints           []monitorEndpoint `yaml:"endpoints"`
		PodMetricsEndpoints []monitorEndpoint `yaml:"podMetricsEndpoints"`
	} `yaml:"spec"`
}

type secret struct {
	Metadata   objectMeta        `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
}

// objectsOf decodes every object of kind in docs into T.
func objectsOf[T any](t *testing.T, docs []map[string]any, kind string) []T {
	t.Helper()
	var out []T
	for _, doc := range docs {
		if kindOf(doc) != kind {
			continue
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatalf("marshal %s: %v", objectKey(doc), err)
		}
		var v T
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("decode %s: %v", objectKey(doc), err)
		}
		out = append(out, v)
	}
	return out
}

// allContainers lists a pod's init containers, sidecars among them, then
// its regular ones.
func (p podSpec) allContainers() []container {
	return append(append([]container(nil), p.InitContainers...), p.Containers...)
}

// find returns the container called name and whether it is an init
// container.
func (p podSpec) find(name string) (c container, init, ok bool) {
	for _, c := range p.InitContainers {
		if c.Name == name {
			return c, true, true
		}
	}
	for _, c := range p.Containers {
		if c.Name == name {
			return c, false, true
		}
	}
	return container{}, false, false
}

// selects reports whether a selector's labels all appear in labels; an
// empty selector selects nothing here, since the kit never means that.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
