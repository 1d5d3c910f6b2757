package deploy

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestChartMatchesManifests holds the chart and the plain manifests of
// kubernetes/ to one deployment: the chart rendered with its default
// values, given the three secrets kubernetes/secret.yaml carries, must run
// the same container (arguments, ports, probes, variables and their
// values, mounts, resources, security) behind the same Services, budget
// and network policy. Both are written by hand, so a change to one that
// misses the other fails here; labels, names and the chart's extra
// annotations are the chart's own and are not compared.
func TestChartMatchesManifests(t *testing.T) {
	t.Parallel()
	plain, _ := loadManifests(t)
	sec := plain.secrets[0]
	r, err := renderChart(t, map[string]any{
		"admin": map[string]any{"keySha256": sec.StringData["OAUTHD_ADMIN_KEY_SHA256"]},
		"redis": map[string]any{"password": sec.StringData["redis-password"]},
		"jwt":   map[string]any{"sealingKey": sec.StringData["jwt-sealing-key"]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.deployments) != 1 || len(r.configMaps) != 1 || len(r.secrets) != 1 || len(r.pdbs) != 1 || len(r.policies) != 1 {
		t.Fatal("want one Deployment, ConfigMap, Secret, PDB and NetworkPolicy, as kubernetes/ has")
	}
	pd, cd := plain.deployments[0], r.deployments[0]
	pc, cc := pd.Spec.Template.Spec.Containers[0], cd.Spec.Template.Spec.Containers[0]

	same := func(what string, a, b any) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			ja, _ := yaml.Marshal(a)
			jb, _ := yaml.Marshal(b)
			t.Errorf("%s differs:\nkubernetes/:\n%s\nchart:\n%s", what, ja, jb)
		}
	}
	same("container name", pc.Name, cc.Name)
	same("args", pc.Args, cc.Args)
	same("ports", pc.Ports, cc.Ports)
	same("liveness probe", withScheme(pc.LivenessProbe), withScheme(cc.LivenessProbe))
	same("readiness probe", withScheme(pc.ReadinessProbe), withScheme(cc.ReadinessProbe))
	same("resources", pc.Resources, cc.Resources)
	same("container security context", pc.SecurityContext, cc.SecurityContext)
	same("pod security context", pd.Spec.Template.Spec.SecurityContext, cd.Spec.Template.Spec.SecurityContext)
	same("terminationGracePeriodSeconds", pd.Spec.Template.Spec.TerminationGracePeriodSeconds, cd.Spec.Template.Spec.TerminationGracePeriodSeconds)
	same("replicas", pd.Spec.Replicas, cd.Spec.Replicas)
	same("strategy", pd.Spec.Strategy, cd.Spec.Strategy)
	same("mount paths", mountPaths(pc), mountPaths(cc))
	same("topology spread keys", spreadKeys(pd), spreadKeys(cd))
	same("environment", envOf(t, plain.configMaps[0], pc), envOf(t, r.configMaps[0], cc))
	same("Secret keys", slices.Sorted(maps.Keys(sec.StringData)), slices.Sorted(maps.Keys(r.secrets[0].StringData)))
	for k, v := range pd.Spec.Template.Annotations {
		same("pod annotation "+k, v, cd.Spec.Template.Annotations[k])
	}
	same("PDB minAvailable", plain.pdbs[0].Spec.MinAvailable, r.pdbs[0].Spec.MinAvailable)
	same("NetworkPolicy ingress", plain.policies[0].Spec.Ingress, r.policies[0].Spec.Ingress)
	same("NetworkPolicy types", plain.policies[0].Spec.PolicyTypes, r.policies[0].Spec.PolicyTypes)
	same("Services", servicePorts(plain.services, pd.Name), servicePorts(r.services, cd.Name))

	t.Run("the kustomization pins the chart's release", func(t *testing.T) {
		want := chartAppVersion(t)
		if len(plain.images) != 1 || plain.images[0].NewTag != want {
			t.Errorf("kustomization images %+v; want newTag %s, the chart's appVersion", plain.images, want)
		}
	})
}

// withScheme fills in the scheme the API server defaults, which the chart
// writes out (it switches to HTTPS with TLS) and kubernetes/ leaves out.
func withScheme(p *corev1.Probe) *corev1.Probe {
	if p == nil || p.HTTPGet == nil {
		return p
	}
	c := p.DeepCopy()
	if c.HTTPGet.Scheme == "" {
		c.HTTPGet.Scheme = corev1.URISchemeHTTP
	}
	return c
}

func mountPaths(c corev1.Container) []string {
	var out []string
	for _, m := range c.VolumeMounts {
		out = append(out, m.MountPath)
	}
	return out
}

func spreadKeys(d appsv1.Deployment) []string {
	var out []string
	for _, s := range d.Spec.Template.Spec.TopologySpreadConstraints {
		out = append(out, s.TopologyKey+" "+string(s.WhenUnsatisfiable))
	}
	return out
}

// envOf is a container's variables: the ConfigMap's values, and for a
// Secret's, the key it is read from.
func envOf(t *testing.T, cm corev1.ConfigMap, c corev1.Container) map[string]string {
	t.Helper()
	env := maps.Clone(cm.Data)
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Fatalf("%s is not from a Secret", e.Name)
		}
		env[e.Name] = "secret key " + e.ValueFrom.SecretKeyRef.Key
	}
	return env
}

// servicePorts names each Service by its role (public, or the name's
// suffix after the Deployment's) and lists its type and ports.
func servicePorts(services []corev1.Service, base string) map[string]any {
	out := map[string]any{}
	for _, s := range services {
		role := s.Name[len(base):]
		typ := s.Spec.Type
		if typ == "" {
			typ = corev1.ServiceTypeClusterIP
		}
		out["service"+role] = []any{typ, s.Spec.Ports}
	}
	return out
}
