package deploy

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// manifests is every object under kubernetes/, decoded strictly: an
// unknown or misspelt field, or a value of the wrong type, fails the test
// as the API server would refuse it.
type manifests struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	configMaps  []corev1.ConfigMap
	secrets     []corev1.Secret
	pdbs        []policyv1.PodDisruptionBudget
	policies    []networkingv1.NetworkPolicy
	resources   []string // kustomization.yaml's list
	images      []kustomizeImage
}

type kustomizeImage struct{ Name, NewName, NewTag string }

func strict[T any](t *testing.T, file string, doc []byte) T {
	t.Helper()
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

func loadManifests(t *testing.T) (manifests, []string) {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var m manifests
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
				t.Fatalf("%s: a document without kind: %v", f, err)
			}
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				m.deployments = append(m.deployments, strict[appsv1.Deployment](t, f, doc))
			case "v1 Service":
				m.services = append(m.services, strict[corev1.Service](t, f, doc))
			case "v1 ConfigMap":
				m.configMaps = append(m.configMaps, strict[corev1.ConfigMap](t, f, doc))
			case "v1 Secret":
				m.secrets = append(m.secrets, strict[corev1.Secret](t, f, doc))
			case "policy/v1 PodDisruptionBudget":
				m.pdbs = append(m.pdbs, strict[policyv1.PodDisruptionBudget](t, f, doc))
			case "networking.k8s.io/v1 NetworkPolicy":
				m.policies = append(m.policies, strict[networkingv1.NetworkPolicy](t, f, doc))
			case "kustomize.config.k8s.io/v1beta1 Kustomization":
				k := strict[struct {
					APIVersion string `json:"apiVersion"`
					Kind       string `json:"kind"`
					Namespace  string `json:"namespace"`
					Resources  []string
					Images     []kustomizeImage `json:"images"`
				}](t, f, doc)
				m.resources, m.images = k.Resources, k.Images
			default:
				t.Fatalf("%s: unexpected %s %s", f, head.APIVersion, head.Kind)
			}
		}
	}
	return m, files
}

func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	m, files := loadManifests(t)
	if len(m.deployments) != 1 || len(m.configMaps) != 1 || len(m.secrets) != 1 || len(m.pdbs) != 1 || len(m.policies) != 1 {
		t.Fatalf("want one Deployment, ConfigMap, Secret, PDB and NetworkPolicy")
	}
	d, cm, sec, pdb, np := m.deployments[0], m.configMaps[0], m.secrets[0], m.pdbs[0], m.policies[0]

	t.Run("kustomization lists every file", func(t *testing.T) {
		var want []string
		for _, f := range files {
			if b := filepath.Base(f); b != "kustomization.yaml" {
				want = append(want, b)
			}
		}
		got := slices.Sorted(slices.Values(m.resources))
		if !slices.Equal(got, want) {
			t.Errorf("resources %v, files %v", got, want)
		}
	})

	c := d.Spec.Template.Spec.Containers[0]
	port := func(name string) int32 {
		for _, p := range c.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		t.Fatalf("container has no port %q", name)
		return 0
	}
	httpPort, adminPort := port("http"), port("admin")

	t.Run("the listeners match the container ports", func(t *testing.T) {
		for key, want := range map[string]int32{"OAUTHD_HTTP_ADDR": httpPort, "OAUTHD_ADMIN_ADDR": adminPort} {
			_, p, err := net.SplitHostPort(cm.Data[key])
			if err != nil || p != itoa(want) {
				t.Errorf("%s = %q, container port %d", key, cm.Data[key], want)
			}
		}
	})

	t.Run("probes", func(t *testing.T) {
		for name, tt := range map[string]struct {
			probe *corev1.Probe
			path  string
		}{"liveness": {c.LivenessProbe, "/health/alive"}, "readiness": {c.ReadinessProbe, "/health/ready"}} {
			if tt.probe == nil || tt.probe.HTTPGet == nil {
				t.Errorf("%s: no HTTP probe", name)
				continue
			}
			if tt.probe.HTTPGet.Path != tt.path {
				t.Errorf("%s probes %s, want %s", name, tt.probe.HTTPGet.Path, tt.path)
			}
			port(tt.probe.HTTPGet.Port.StrVal) // fails if the named port does not exist
		}
	})

	t.Run("resources and shutdown", func(t *testing.T) {
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("resources %+v", c.Resources)
		}
		shutdown, err := time.ParseDuration(cm.Data["OAUTHD_SHUTDOWN_TIMEOUT"])
		grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		if err != nil || grace == nil || time.Duration(*grace)*time.Second <= shutdown {
			t.Errorf("terminationGracePeriodSeconds %v must exceed shutdown_timeout %q", grace, cm.Data["OAUTHD_SHUTDOWN_TIMEOUT"])
		}
	})

	t.Run("config and secret references resolve", func(t *testing.T) {
		if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != cm.Name {
			t.Errorf("envFrom %+v does not load ConfigMap %s", c.EnvFrom, cm.Name)
		}
		var digest bool
		for _, e := range c.Env {
			if e.Name == "OAUTHD_ADMIN_KEY_SHA256" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
				e.ValueFrom.SecretKeyRef.Name == sec.Name && sec.StringData[e.ValueFrom.SecretKeyRef.Key] != "" {
				digest = true
			}
		}
		if !digest {
			t.Error("OAUTHD_ADMIN_KEY_SHA256 does not come from the Secret")
		}
		if _, ok := cm.Data["OAUTHD_ADMIN_KEY_SHA256"]; ok {
			t.Error("the admin key digest is in the ConfigMap")
		}
		// The secrets given as files (the Redis password, the JWT sealing
		// key) are on a mounted volume of the Secret, under a key it has.
		for _, setting := range []string{"OAUTHD_REDIS_PASSWORD_FILE", "OAUTHD_JWT_SEALING_KEY_FILE"} {
			file := cm.Data[setting]
			if file == "" {
				t.Errorf("the ConfigMap sets no %s", setting)
				continue
			}
			var found bool
			for _, vm := range c.VolumeMounts {
				if !strings.HasPrefix(file, vm.MountPath+"/") {
					continue
				}
				for _, v := range d.Spec.Template.Spec.Volumes {
					if v.Name != vm.Name || v.Secret == nil || v.Secret.SecretName != sec.Name {
						continue
					}
					for _, item := range v.Secret.Items {
						if vm.MountPath+"/"+item.Path == file && sec.StringData[item.Key] != "" {
							found = true
						}
					}
				}
			}
			if !found {
				t.Errorf("%s (%s) is no key of Secret %s mounted there", setting, file, sec.Name)
			}
		}
		if _, ok := cm.Data["OAUTHD_JWT_SEALING_KEY"]; ok {
			t.Error("the JWT sealing key is in the ConfigMap")
		}
	})

	t.Run("every configured variable is an oauthd setting", func(t *testing.T) {
		readme, err := os.ReadFile("../README.md")
		if err != nil {
			t.Fatal(err)
		}
		for k := range cm.Data {
			if !strings.Contains(string(readme), "`"+k+"`") {
				t.Errorf("ConfigMap sets %s, which the README's settings table does not know", k)
			}
		}
	})

	t.Run("the public service does not expose the admin port", func(t *testing.T) {
		for _, s := range m.services {
			for _, p := range s.Spec.Ports {
				admin := p.TargetPort.StrVal == "admin" || p.TargetPort.IntVal == adminPort
				if admin && (s.Name == "oauthd" || s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort) {
					t.Errorf("service %s (%s) exposes the admin port", s.Name, s.Spec.Type)
				}
			}
		}
	})

	t.Run("selectors match the pods", func(t *testing.T) {
		labels := d.Spec.Template.Labels
		matches := func(sel map[string]string) bool {
			for k, v := range sel {
				if labels[k] != v {
					return false
				}
			}
			return len(sel) > 0
		}
		for _, s := range m.services {
			if !matches(s.Spec.Selector) {
				t.Errorf("service %s selects no oauthd pod", s.Name)
			}
		}
		if !matches(pdb.Spec.Selector.MatchLabels) || !matches(np.Spec.PodSelector.MatchLabels) || !matches(d.Spec.Selector.MatchLabels) {
			t.Error("the PDB, NetworkPolicy or Deployment selector misses the pods")
		}
		if pdb.Spec.MinAvailable == nil || d.Spec.Replicas == nil || pdb.Spec.MinAvailable.IntVal >= *d.Spec.Replicas {
			t.Error("the PDB must leave room to evict a pod: minAvailable below replicas")
		}
	})

	t.Run("the network policy keeps the admin port private", func(t *testing.T) {
		var public bool
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				switch {
				case p.Port.IntVal == adminPort && len(rule.From) == 0:
					t.Error("an ingress rule opens the admin port to everyone")
				case p.Port.IntVal == httpPort && len(rule.From) == 0:
					public = true
				}
			}
			if len(rule.Ports) == 0 {
				t.Error("an ingress rule without ports opens every port")
			}
		}
		if !public {
			t.Error("the OAuth port is not open")
		}
	})
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }
