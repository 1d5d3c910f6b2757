package deploy

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/oauthd/oauthd/server/health"
)

// chartDir is the Helm chart; its ci/ holds the value sets every test
// renders besides the defaults.
const chartDir = "helm/oauthd"

// kubeVersion is the cluster the chart is rendered and linted for: the
// oldest its Chart.yaml accepts would do, a current one finds deprecations.
const kubeVersion = "v1.33.0"

// rendered is every object a chart render produced, decoded strictly
// against its API type (client-go's, prometheus-operator's for the two
// monitoring kinds): an unknown or misspelt field fails the test as the
// API server would refuse it.
type rendered struct {
	deployments     []appsv1.Deployment
	services        []corev1.Service
	configMaps      []corev1.ConfigMap
	secrets         []corev1.Secret
	namespaces      []corev1.Namespace
	pdbs            []policyv1.PodDisruptionBudget
	policies        []networkingv1.NetworkPolicy
	hpas            []autoscalingv2.HorizontalPodAutoscaler
	serviceMonitors []monitoringv1.ServiceMonitor
	prometheusRules []monitoringv1.PrometheusRule
	namespaced      map[string]string // "Kind/name" → metadata.namespace
}

// renderChart renders the chart as `helm template oauthd` would, with the
// values of files (relative to the chart) and then set, schema validation
// on and the template engine strict about missing values.
func renderChart(t *testing.T, set map[string]any, files ...string) (*rendered, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	for _, f := range files {
		v, err := common.ReadValuesFile(filepath.Join(chartDir, f))
		if err != nil {
			t.Fatal(err)
		}
		vals = util.MergeTables(v.AsMap(), vals) // later files win
	}
	vals = util.MergeTables(copyTree(set), vals)
	caps := common.DefaultCapabilities.Copy()
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps.KubeVersion = *kv
	top, err := util.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: "oauthd", Namespace: "oauthd", IsInstall: true, Revision: 1}, caps, false)
	if err != nil {
		return nil, err
	}
	out, err := (&engine.Engine{Strict: true}).RenderWithContext(context.Background(), ch, top)
	if err != nil {
		return nil, err
	}
	r := &rendered{namespaced: map[string]string{}}
	for _, name := range slices.Sorted(maps.Keys(out)) {
		if base := path.Base(name); strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out[name], -1) {
			if strings.TrimSpace(stripComments(doc)) != "" {
				r.add(t, name, []byte(doc))
			}
		}
	}
	return r, nil
}

func stripComments(doc string) string {
	return regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")
}

func copyTree(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = copyTree(sub)
		}
		out[k] = v
	}
	return out
}

func (r *rendered) add(t *testing.T, file string, doc []byte) {
	t.Helper()
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name, Namespace string }
	}
	if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
		t.Fatalf("%s: a document without kind: %v\n%s", file, err, doc)
	}
	if head.Kind != "Namespace" {
		r.namespaced[head.Kind+"/"+head.Metadata.Name] = head.Metadata.Namespace
	}
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 Deployment":
		r.deployments = append(r.deployments, strict[appsv1.Deployment](t, file, doc))
	case "v1 Service":
		r.services = append(r.services, strict[corev1.Service](t, file, doc))
	case "v1 ConfigMap":
		r.configMaps = append(r.configMaps, strict[corev1.ConfigMap](t, file, doc))
	case "v1 Secret":
		r.secrets = append(r.secrets, strict[corev1.Secret](t, file, doc))
	case "v1 Namespace":
		r.namespaces = append(r.namespaces, strict[corev1.Namespace](t, file, doc))
	case "policy/v1 PodDisruptionBudget":
		r.pdbs = append(r.pdbs, strict[policyv1.PodDisruptionBudget](t, file, doc))
	case "networking.k8s.io/v1 NetworkPolicy":
		r.policies = append(r.policies, strict[networkingv1.NetworkPolicy](t, file, doc))
	case "autoscaling/v2 HorizontalPodAutoscaler":
		r.hpas = append(r.hpas, strict[autoscalingv2.HorizontalPodAutoscaler](t, file, doc))
	case "monitoring.coreos.com/v1 ServiceMonitor":
		r.serviceMonitors = append(r.serviceMonitors, strict[monitoringv1.ServiceMonitor](t, file, doc))
	case "monitoring.coreos.com/v1 PrometheusRule":
		r.prometheusRules = append(r.prometheusRules, strict[monitoringv1.PrometheusRule](t, file, doc))
	default:
		t.Fatalf("%s: unexpected %s %s", file, head.APIVersion, head.Kind)
	}
}

func (r *rendered) deployment(t *testing.T, container string) *appsv1.Deployment {
	t.Helper()
	for i, d := range r.deployments {
		if len(d.Spec.Template.Spec.Containers) == 1 && d.Spec.Template.Spec.Containers[0].Name == container {
			return &r.deployments[i]
		}
	}
	return nil
}

func (r *rendered) configMap(name string) *corev1.ConfigMap {
	for i := range r.configMaps {
		if r.configMaps[i].Name == name {
			return &r.configMaps[i]
		}
	}
	return nil
}

func (r *rendered) secret(name string) *corev1.Secret {
	for i := range r.secrets {
		if r.secrets[i].Name == name {
			return &r.secrets[i]
		}
	}
	return nil
}

// env is what a container's environment holds: its envFrom ConfigMaps'
// data and its env values, with "secret:NAME/KEY" for a secretKeyRef.
func (r *rendered) env(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("%s: envFrom %+v is not a ConfigMap", c.Name, from)
		}
		cm := r.configMap(from.ConfigMapRef.Name)
		if cm == nil {
			t.Fatalf("%s: envFrom names ConfigMap %s, which the chart does not make", c.Name, from.ConfigMapRef.Name)
		}
		maps.Copy(env, cm.Data)
	}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("%s: %s is set twice", c.Name, e.Name)
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		default:
			t.Errorf("%s: %s comes from neither a value nor a Secret", c.Name, e.Name)
		}
	}
	return env
}

// settingNames are the environment variables a program reads: prefix_ and
// each Key of its settings table (cmd/internal/settings.Set.Env), read
// from the program's source so that a renamed setting fails here.
func settingNames(t *testing.T, file, prefix string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{prefix + "_CONFIG": true}
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Key" {
			if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				key, _ := strconv.Unquote(lit.Value)
				names[prefix+"_"+strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))] = true
			}
		}
		return true
	})
	if len(names) < 10 {
		t.Fatalf("%s: only %d settings found; has the table moved?", file, len(names))
	}
	return names
}

// otelNames are the OTEL_* variables oauthd and sms-api read
// (cmd/internal/tracing), from its source.
func otelNames(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../cmd/internal/tracing/tracing.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range regexp.MustCompile(`"(OTEL_[A-Z_]+)"`).FindAllStringSubmatch(string(b), -1) {
		names[n[1]] = true
	}
	if !names["OTEL_EXPORTER_OTLP_ENDPOINT"] || !names["OTEL_TRACES_SAMPLER_ARG"] {
		t.Fatalf("the OTEL_* variables were not found in cmd/internal/tracing: %v", names)
	}
	return names
}

// valueSet is one of the value sets the chart is rendered with, and what
// its render must show.
type valueSet struct {
	file                                         string // under the chart; "" for the defaults alone
	namespace                                    string
	redis                                        []string // the topology's variables, exactly
	tls                                          bool     // the listeners serve HTTPS
	external                                     []string // Secrets the values name and the chart must not make
	smsAPI, hpa, monitor, rules, createNamespace bool
}

var valueSets = []valueSet{
	{file: "", namespace: "oauthd", redis: []string{"OAUTHD_REDIS_SENTINEL_ADDRS", "OAUTHD_REDIS_SENTINEL_MASTER"}},
	{file: "ci/url-values.yaml", namespace: "auth", redis: []string{"OAUTHD_REDIS_URL"},
		smsAPI: true, hpa: true, monitor: true, rules: true, createNamespace: true},
	{file: "ci/sentinel-values.yaml", namespace: "oauthd", redis: []string{"OAUTHD_REDIS_SENTINEL_ADDRS", "OAUTHD_REDIS_SENTINEL_MASTER"},
		external: []string{"oauthd-admin", "oauthd-jwt", "redis-auth", "sms-api-credentials"}, smsAPI: true},
	{file: "ci/cluster-values.yaml", namespace: "oauthd", redis: []string{"OAUTHD_REDIS_CLUSTER_ADDRS"},
		external: []string{"redis-client-tls"}},
	{file: "ci/tls-values.yaml", namespace: "oauthd", redis: []string{"OAUTHD_REDIS_URL"}, tls: true,
		external: []string{"oauthd-tls", "redis-ca"}, monitor: true, rules: true},
}

func (vs valueSet) files() []string {
	if vs.file == "" {
		return nil
	}
	return []string{vs.file}
}

func (vs valueSet) name() string {
	if vs.file == "" {
		return "defaults"
	}
	return strings.TrimSuffix(path.Base(vs.file), "-values.yaml")
}

func TestChartValueSetsAreTested(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tested []string
	for _, vs := range valueSets {
		if vs.file != "" {
			tested = append(tested, filepath.Join(chartDir, vs.file))
		}
	}
	if slices.Sort(tested); !slices.Equal(files, tested) {
		t.Errorf("ci/ holds %v, the tests render %v", files, tested)
	}
}

func TestChartLint(t *testing.T) {
	t.Parallel()
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range valueSets {
		t.Run(vs.name(), func(t *testing.T) {
			vals := map[string]any{}
			if vs.file != "" {
				v, err := common.ReadValuesFile(filepath.Join(chartDir, vs.file))
				if err != nil {
					t.Fatal(err)
				}
				vals = v.AsMap()
			}
			res := lint.RunAll(chartDir, vals, vs.namespace, lint.WithKubeVersion(kv))
			for _, m := range res.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %v", m)
				}
			}
		})
	}
}

func TestChart(t *testing.T) {
	t.Parallel()
	oauthdEnv := settingNames(t, "../cmd/oauthd/config.go", "OAUTHD")
	smsEnv := settingNames(t, "../cmd/sms-api/main.go", "SMSAPI")
	for name := range otelNames(t) {
		oauthdEnv[name], smsEnv[name] = true, true
	}
	smsRoutes, err := os.ReadFile("../cmd/sms-api/api.go")
	if err != nil {
		t.Fatal(err)
	}
	appVersion := chartAppVersion(t)

	for _, vs := range valueSets {
		t.Run(vs.name(), func(t *testing.T) {
			r, err := renderChart(t, nil, vs.files()...)
			if err != nil {
				t.Fatal(err)
			}
			d := r.deployment(t, "oauthd")
			if d == nil {
				t.Fatal("no oauthd Deployment")
			}
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			env := r.env(t, c)
			port := func(c corev1.Container, name string) int32 {
				for _, p := range c.Ports {
					if p.Name == name {
						return p.ContainerPort
					}
				}
				t.Fatalf("%s has no port %q", c.Name, name)
				return 0
			}
			httpPort, adminPort := port(c, "http"), port(c, "admin")

			t.Run("every object in the namespace", func(t *testing.T) {
				for obj, ns := range r.namespaced {
					if ns != vs.namespace {
						t.Errorf("%s is in namespace %q, want %q", obj, ns, vs.namespace)
					}
				}
				if got := len(r.namespaces); (got == 1) != vs.createNamespace || got > 1 ||
					(got == 1 && r.namespaces[0].Name != vs.namespace) {
					t.Errorf("%d Namespace objects (%v); want one named %s: %v", got, r.namespaces, vs.namespace, vs.createNamespace)
				}
			})

			t.Run("images are pinned", func(t *testing.T) {
				pinned := regexp.MustCompile(`^[a-z0-9.\-/]+:([A-Za-z0-9_][A-Za-z0-9_.\-]*)(@sha256:[0-9a-f]{64})?$`)
				for _, d := range r.deployments {
					for _, c := range d.Spec.Template.Spec.Containers {
						m := pinned.FindStringSubmatch(c.Image)
						if m == nil || m[1] == "latest" {
							t.Errorf("%s: image %q is not pinned to a release", c.Name, c.Image)
						}
						if vs.file == "" && m != nil && m[1] != appVersion {
							t.Errorf("%s: image tag %s, the chart's appVersion is %s", c.Name, m[1], appVersion)
						}
					}
				}
			})

			t.Run("every variable is a setting the program reads", func(t *testing.T) {
				for _, d := range r.deployments {
					for _, c := range d.Spec.Template.Spec.Containers {
						known := map[string]map[string]bool{"oauthd": oauthdEnv, "sms-api": smsEnv}[c.Name]
						for name := range r.env(t, c) {
							if !known[name] {
								t.Errorf("%s: %s is not one of its settings", c.Name, name)
							}
						}
					}
				}
			})

			t.Run("one Redis topology", func(t *testing.T) {
				var got []string
				for _, name := range []string{"OAUTHD_REDIS_URL", "OAUTHD_REDIS_SENTINEL_MASTER", "OAUTHD_REDIS_SENTINEL_ADDRS", "OAUTHD_REDIS_CLUSTER_ADDRS"} {
					if env[name] != "" {
						got = append(got, name)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, vs.redis) {
					t.Errorf("Redis variables %v, want %v", got, vs.redis)
				}
				for _, name := range []string{"OAUTHD_REDIS_SENTINEL_ADDRS", "OAUTHD_REDIS_CLUSTER_ADDRS"} {
					for _, a := range strings.Split(env[name], ",") {
						if _, _, err := net.SplitHostPort(a); env[name] != "" && err != nil {
							t.Errorf("%s: %q is not host:port", name, a)
						}
					}
				}
			})

			t.Run("listeners match the container ports", func(t *testing.T) {
				for name, want := range map[string]int32{"OAUTHD_HTTP_ADDR": httpPort, "OAUTHD_ADMIN_ADDR": adminPort} {
					if _, p, err := net.SplitHostPort(env[name]); err != nil || p != itoa(want) {
						t.Errorf("%s = %q, container port %d", name, env[name], want)
					}
				}
				if httpPort == adminPort {
					t.Error("the admin listener is not separate")
				}
			})

			t.Run("secrets come from Secrets and are mounted where the settings point", func(t *testing.T) {
				for _, d := range r.deployments {
					for _, c := range d.Spec.Template.Spec.Containers {
						checkSecrets(t, r, d, c, r.env(t, c), vs)
					}
				}
				for _, name := range []string{"OAUTHD_ADMIN_KEY_SHA256", "OAUTHD_REDIS_PASSWORD", "OAUTHD_REDIS_SENTINEL_PASSWORD"} {
					if v, ok := env[name]; ok && !strings.HasPrefix(v, "secret:") {
						t.Errorf("%s is a plain value, not from a Secret", name)
					}
				}
				for _, cm := range r.configMaps {
					for k, v := range cm.Data {
						for _, s := range r.secrets {
							for _, sv := range s.StringData {
								if len(sv) > 4 && strings.Contains(v, sv) {
									t.Errorf("ConfigMap %s: %s holds the value of a Secret's key", cm.Name, k)
								}
							}
						}
					}
				}
				_, cert := env["OAUTHD_TLS_CERT_FILE"]
				if cert != vs.tls {
					t.Errorf("OAUTHD_TLS_CERT_FILE set: %v, want %v", cert, vs.tls)
				}
			})

			t.Run("probes", func(t *testing.T) {
				scheme := corev1.URISchemeHTTP
				if vs.tls {
					scheme = corev1.URISchemeHTTPS
				}
				for name, tt := range map[string]struct {
					probe *corev1.Probe
					path  string
				}{"liveness": {c.LivenessProbe, health.AlivePath}, "readiness": {c.ReadinessProbe, health.ReadyPath}} {
					if tt.probe == nil || tt.probe.HTTPGet == nil {
						t.Errorf("%s: no HTTP probe", name)
						continue
					}
					g := tt.probe.HTTPGet
					if g.Path != tt.path || g.Port.StrVal != "admin" || g.Scheme != scheme {
						t.Errorf("%s probes %s %s on port %v, want %s %s on admin", name, g.Scheme, g.Path, g.Port.String(), scheme, tt.path)
					}
				}
				if s := r.deployment(t, "sms-api"); s != nil {
					sc := s.Spec.Template.Spec.Containers[0]
					for _, p := range []*corev1.Probe{sc.LivenessProbe, sc.ReadinessProbe} {
						if p == nil || p.HTTPGet == nil || !strings.Contains(string(smsRoutes), `"`+p.HTTPGet.Path+`"`) {
							t.Errorf("sms-api probe %+v names no route of cmd/sms-api", p)
							continue
						}
						port(sc, p.HTTPGet.Port.StrVal)
					}
				}
			})

			t.Run("containers run locked down", func(t *testing.T) {
				for _, d := range r.deployments {
					ps := d.Spec.Template.Spec.SecurityContext
					if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil {
						t.Errorf("%s: pod security context %+v", d.Name, ps)
					}
					for _, c := range d.Spec.Template.Spec.Containers {
						sc := c.SecurityContext
						if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
							sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
							sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
							t.Errorf("%s: security context %+v", c.Name, sc)
						}
						if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
							t.Errorf("%s: resources %+v", c.Name, c.Resources)
						}
					}
				}
			})

			t.Run("shutdown", func(t *testing.T) {
				shutdown, err := time.ParseDuration(env["OAUTHD_SHUTDOWN_TIMEOUT"])
				grace := pod.TerminationGracePeriodSeconds
				if err != nil || grace == nil || time.Duration(*grace)*time.Second <= shutdown {
					t.Errorf("terminationGracePeriodSeconds %v must exceed shutdown_timeout %q", grace, env["OAUTHD_SHUTDOWN_TIMEOUT"])
				}
			})

			t.Run("services", func(t *testing.T) {
				checkServices(t, r, d, adminPort, vs)
			})

			t.Run("replicas, autoscaler and disruption budget", func(t *testing.T) {
				replicas := int32(0)
				if d.Spec.Replicas != nil {
					replicas = *d.Spec.Replicas
				}
				switch {
				case vs.hpa && (len(r.hpas) != 1 || d.Spec.Replicas != nil):
					t.Fatalf("%d autoscalers, replicas %v: with autoscaling the HPA alone sets the count", len(r.hpas), d.Spec.Replicas)
				case !vs.hpa && len(r.hpas) != 0:
					t.Fatal("an autoscaler nobody asked for")
				case vs.hpa:
					h := r.hpas[0]
					ref := h.Spec.ScaleTargetRef
					if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
						t.Errorf("the HPA scales %+v, not %s", ref, d.Name)
					}
					if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
						t.Errorf("HPA bounds %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
					}
					replicas = *h.Spec.MinReplicas
				}
				if len(r.pdbs) != 1 {
					t.Fatalf("%d PodDisruptionBudgets", len(r.pdbs))
				}
				pdb := r.pdbs[0]
				if !selects(pdb.Spec.Selector.MatchLabels, d) || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntVal >= replicas {
					t.Errorf("the PDB (minAvailable %v) must select oauthd's pods and leave room to evict one of %d", pdb.Spec.MinAvailable, replicas)
				}
			})

			t.Run("the network policy keeps the admin port private", func(t *testing.T) {
				if len(r.policies) != 1 || !selects(r.policies[0].Spec.PodSelector.MatchLabels, d) {
					t.Fatalf("want one NetworkPolicy on oauthd's pods, got %d", len(r.policies))
				}
				checkPolicy(t, r.policies[0], httpPort, adminPort)
			})

			t.Run("monitoring", func(t *testing.T) {
				if got := len(r.serviceMonitors); got != map[bool]int{true: 1}[vs.monitor] {
					t.Fatalf("%d ServiceMonitors, want one: %v", got, vs.monitor)
				}
				if got := len(r.prometheusRules); got != map[bool]int{true: 1}[vs.rules] {
					t.Fatalf("%d PrometheusRules, want one: %v", got, vs.rules)
				}
				if vs.monitor {
					checkServiceMonitor(t, r, d, vs)
				}
			})

			t.Run("the example SMS API", func(t *testing.T) {
				s := r.deployment(t, "sms-api")
				if (s != nil) != vs.smsAPI {
					t.Fatalf("sms-api deployed: %v, want %v", s != nil, vs.smsAPI)
				}
				if s == nil {
					return
				}
				senv := r.env(t, s.Spec.Template.Spec.Containers[0])
				if senv["SMSAPI_ISSUER"] != env["OAUTHD_ISSUER"] {
					t.Errorf("sms-api discovers oauthd at %q, its issuer is %q", senv["SMSAPI_ISSUER"], env["OAUTHD_ISSUER"])
				}
				for _, name := range []string{"SMSAPI_CLIENT_ID", "SMSAPI_CLIENT_SECRET"} {
					if !strings.HasPrefix(senv[name], "secret:") {
						t.Errorf("%s does not come from a Secret", name)
					}
				}
				if selects(d.Spec.Selector.MatchLabels, s) || selects(s.Spec.Selector.MatchLabels, d) {
					t.Error("the oauthd and sms-api selectors overlap")
				}
			})
		})
	}
}

// selects reports whether a selector picks d's pods.
func selects(sel map[string]string, d *appsv1.Deployment) bool {
	for k, v := range sel {
		if d.Spec.Template.Labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// checkSecrets follows every secretKeyRef and every *_FILE setting of c
// to a key of a Secret: one the chart rendered, or one the values name as
// existing (vs.external). A file setting must lie on a mounted volume
// whose projection puts that Secret's key at exactly that path.
func checkSecrets(t *testing.T, r *rendered, d appsv1.Deployment, c corev1.Container, env map[string]string, vs valueSet) {
	t.Helper()
	var used []string
	resolve := func(what, name, key string) {
		used = append(used, name)
		if slices.Contains(vs.external, name) {
			return
		}
		s := r.secret(name)
		if s == nil {
			t.Errorf("%s: Secret %s is neither rendered nor named as existing", what, name)
			return
		}
		if _, ok := s.StringData[key]; !ok {
			t.Errorf("%s: Secret %s has no key %s", what, name, key)
		}
	}
	for name, v := range env {
		if ref, ok := strings.CutPrefix(v, "secret:"); ok {
			secret, key, _ := strings.Cut(ref, "/")
			resolve(name, secret, key)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	for name, file := range env {
		if !strings.HasSuffix(name, "_FILE") || file == "" {
			continue
		}
		var found bool
		for _, m := range c.VolumeMounts {
			rel, ok := strings.CutPrefix(file, m.MountPath+"/")
			if !ok {
				continue
			}
			v := volumes[m.Name]
			if !m.ReadOnly || v.Projected == nil {
				t.Errorf("%s: %s is on volume %s, not a read-only projection of Secrets", name, file, m.Name)
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.Secret == nil {
					continue
				}
				for _, item := range src.Secret.Items {
					if item.Path == rel {
						found = true
						resolve(name, src.Secret.Name, item.Key)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s = %s: no mounted Secret puts a file there", name, file)
		}
	}
	if c.Name != "oauthd" {
		return
	}
	for _, ext := range vs.external {
		if r.secret(ext) != nil {
			t.Errorf("the chart renders Secret %s, which the values say exists", ext)
		}
	}
	// A value set's external Secrets are all used by one container or the
	// other; the sms-api's are checked with it.
	for _, ext := range vs.external {
		if !slices.Contains(used, ext) && !strings.HasPrefix(ext, "sms-api") {
			t.Errorf("Secret %s is named in the values but not used", ext)
		}
	}
}

func checkServices(t *testing.T, r *rendered, d *appsv1.Deployment, adminPort int32, vs valueSet) {
	t.Helper()
	want := map[string]bool{d.Name: true, d.Name + "-admin": true}
	if vs.smsAPI {
		want[d.Name+"-sms-api"] = true
	}
	for _, s := range r.services {
		if !want[s.Name] {
			t.Errorf("unexpected Service %s", s.Name)
			continue
		}
		delete(want, s.Name)
		if s.Name == d.Name+"-sms-api" {
			if sms := r.deployment(t, "sms-api"); sms == nil || !selects(s.Spec.Selector, sms) || selects(s.Spec.Selector, d) {
				t.Errorf("Service %s does not select the sms-api pods alone", s.Name)
			}
			continue
		}
		if !selects(s.Spec.Selector, d) {
			t.Errorf("Service %s selects no oauthd pod", s.Name)
		}
		var ports []string
		for _, p := range s.Spec.Ports {
			ports = append(ports, p.TargetPort.String())
			admin := p.TargetPort.StrVal == "admin" || p.TargetPort.IntVal == adminPort
			if admin && s.Name == d.Name {
				t.Errorf("the public Service %s exposes the admin port", s.Name)
			}
		}
		switch {
		case s.Name == d.Name && !slices.Equal(ports, []string{"http"}):
			t.Errorf("the public Service targets %v, want the OAuth port alone", ports)
		case s.Name == d.Name+"-admin" && (!slices.Equal(ports, []string{"admin"}) || s.Spec.Type != corev1.ServiceTypeClusterIP):
			t.Errorf("the admin Service is %s targeting %v, want ClusterIP on the admin port alone", s.Spec.Type, ports)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing Services %v", slices.Collect(maps.Keys(want)))
	}
}

func checkPolicy(t *testing.T, np networkingv1.NetworkPolicy, httpPort, adminPort int32) {
	t.Helper()
	var public, admin bool
	for _, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Error("an ingress rule without ports opens every port")
		}
		for _, p := range rule.Ports {
			switch {
			case p.Port.IntVal == adminPort && len(rule.From) == 0:
				t.Error("an ingress rule opens the admin port to everyone")
			case p.Port.IntVal == adminPort:
				admin = true
			case p.Port.IntVal == httpPort && len(rule.From) == 0:
				public = true
			}
		}
	}
	if !public || !admin {
		t.Errorf("OAuth port open: %v; admin port open to its operators: %v", public, admin)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policy types %v", np.Spec.PolicyTypes)
	}
}

func checkServiceMonitor(t *testing.T, r *rendered, d *appsv1.Deployment, vs valueSet) {
	t.Helper()
	sm := r.serviceMonitors[0]
	var picked []corev1.Service
	for _, s := range r.services {
		match := true
		for k, v := range sm.Spec.Selector.MatchLabels {
			if s.Labels[k] != v {
				match = false
			}
		}
		if match && slices.Contains(sm.Spec.NamespaceSelector.MatchNames, s.Namespace) {
			picked = append(picked, s)
		}
	}
	if len(picked) != 1 || picked[0].Name != d.Name+"-admin" {
		t.Fatalf("the ServiceMonitor picks %d Services, want the admin Service alone", len(picked))
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != picked[0].Spec.Ports[0].Name || ep.Path != "/metrics" {
		t.Errorf("the ServiceMonitor scrapes port %q path %s, want %s /metrics", ep.Port, ep.Path, picked[0].Spec.Ports[0].Name)
	}
	scheme := "http"
	if vs.tls {
		scheme = "https"
		if ep.TLSConfig == nil {
			t.Error("HTTPS scrapes without a tlsConfig")
		}
	}
	if ep.Scheme == nil || strings.ToLower(string(*ep.Scheme)) != scheme {
		t.Errorf("scheme %v, want %s", ep.Scheme, scheme)
	}
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch.Metadata.AppVersion
}

// TestChartRefuses renders values that must not install; each must fail
// with its own message, not with some other error.
func TestChartRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		set  map[string]any
		want string
	}{
		{"latest tag", map[string]any{"image": map[string]any{"tag": "latest"}}, "image registry.example.com/oauthd: pin a release tag"},
		{"latest sms-api tag", map[string]any{"smsApi": map[string]any{"enabled": true, "clientId": "a", "clientSecret": "b", "image": map[string]any{"tag": "latest"}}}, "image registry.example.com/oauthd-sms-api: pin a release tag"},
		{"a digest that is none", map[string]any{"image": map[string]any{"digest": "latest"}}, "/image/digest"},
		{"a tag that is none", map[string]any{"image": map[string]any{"tag": "1.0:latest"}}, "/image/tag"},
		{"a misspelt value", map[string]any{"replicas": 5}, "'replicas' not allowed"},
		{"two Redis topologies", map[string]any{"redis": map[string]any{"url": "redis://r:6379"}}, "exactly one of redis.url"},
		{"no Redis", map[string]any{"redis": map[string]any{"sentinel": map[string]any{"master": ""}}}, "exactly one of redis.url"},
		{"a password in the Redis URL", map[string]any{"redis": map[string]any{"url": "redis://:hunter2@r:6379", "sentinel": map[string]any{"master": ""}}}, "holds a password"},
		{"TLS without a certificate", map[string]any{"tls": map[string]any{"enabled": true}}, "tls.existingSecret"},
		{"a Redis client certificate without a Secret", map[string]any{"redis": map[string]any{"tls": map[string]any{"enabled": true, "clientCertificate": true}}}, "redis.tls.existingSecret"},
		{"a budget that blocks every drain", map[string]any{"podDisruptionBudget": map[string]any{"minAvailable": 3}}, "must be below the replica count"},
		{"a managed setting through config", map[string]any{"config": map[string]any{"redis.url": "redis://r:6379"}}, "config.redis.url"},
		{"an issuer with a trailing slash", map[string]any{"issuer": "https://auth.example.com/"}, "/issuer"},
		{"a malformed admin digest", map[string]any{"admin": map[string]any{"keySha256": "abc"}}, "/admin/keySha256"},
		{"the SMS API without credentials", map[string]any{"smsApi": map[string]any{"enabled": true}}, "smsApi: give clientId"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := renderChart(t, tt.set)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("rendered with %v: error %v, want one naming %q", tt.set, err, tt.want)
			}
		})
	}
}

// TestChartValues checks values that change the render in ways the value
// sets do not show.
func TestChartValues(t *testing.T) {
	t.Parallel()
	t.Run("config becomes OAUTHD_ variables, numbers as written", func(t *testing.T) {
		r, err := renderChart(t, map[string]any{"config": map[string]any{"feed.buffer": 1000000, "limits.issue": "0", "admin.pprof": true}})
		if err != nil {
			t.Fatal(err)
		}
		env := r.env(t, r.deployment(t, "oauthd").Spec.Template.Spec.Containers[0])
		for k, want := range map[string]string{"OAUTHD_FEED_BUFFER": "1000000", "OAUTHD_LIMITS_ISSUE": "0", "OAUTHD_ADMIN_PPROF": "true"} {
			if env[k] != want {
				t.Errorf("%s = %q, want %q", k, env[k], want)
			}
		}
	})
	t.Run("otel turns tracing on in both programs, off by default", func(t *testing.T) {
		vals := map[string]any{"smsApi": map[string]any{"enabled": true, "clientId": "rs", "clientSecret": "s"}}
		r, err := renderChart(t, vals)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"oauthd", "sms-api"} {
			for k := range r.env(t, r.deployment(t, name).Spec.Template.Spec.Containers[0]) {
				if strings.HasPrefix(k, "OTEL_") {
					t.Errorf("%s: %s set by default: tracing must be off unless asked for", name, k)
				}
			}
		}
		vals["otel"] = map[string]any{"endpoint": "http://otel-collector.monitoring:4318", "resourceAttributes": "deployment.environment=prod"}
		if r, err = renderChart(t, vals); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.monitoring:4318",
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01",
			"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod"}
		for _, name := range []string{"oauthd", "sms-api"} {
			env := r.env(t, r.deployment(t, name).Spec.Template.Spec.Containers[0])
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s: %s = %q, want %q", name, k, env[k], v)
				}
			}
		}
		if _, err := renderChart(t, map[string]any{"otel": map[string]any{"endpoint": "otel-collector:4318"}}); err == nil || !strings.Contains(err.Error(), "/otel/endpoint") {
			t.Errorf("an endpoint without a scheme: error %v, want one naming /otel/endpoint", err)
		}
	})
	t.Run("a digest pins the image", func(t *testing.T) {
		digest := "sha256:" + strings.Repeat("ab", 32)
		r, err := renderChart(t, map[string]any{"image": map[string]any{"repository": "example.org/o", "tag": "2.0.1", "digest": digest}})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.deployment(t, "oauthd").Spec.Template.Spec.Containers[0].Image; got != "example.org/o:2.0.1@"+digest {
			t.Errorf("image %s", got)
		}
	})
	t.Run("a changed setting rolls the pods", func(t *testing.T) {
		sum := func(set map[string]any) string {
			r, err := renderChart(t, set)
			if err != nil {
				t.Fatal(err)
			}
			return r.deployment(t, "oauthd").Spec.Template.Annotations["checksum/config"]
		}
		if a, b := sum(nil), sum(map[string]any{"config": map[string]any{"limits.issue": "10/1m"}}); a == "" || a == b {
			t.Errorf("checksum/config %q before and %q after a change", a, b)
		}
	})
	t.Run("fullnameOverride names every object", func(t *testing.T) {
		r, err := renderChart(t, map[string]any{"fullnameOverride": "auth"})
		if err != nil {
			t.Fatal(err)
		}
		for obj := range r.namespaced {
			if _, name, _ := strings.Cut(obj, "/"); name != "auth" && !strings.HasPrefix(name, "auth-") {
				t.Errorf("%s ignores fullnameOverride", obj)
			}
		}
	})
}

// TestChartPrometheusRule holds the chart's PrometheusRule to the plain
// rule file: the same groups with the same rules, field by field. The
// chart reads files/oauthd-rules.yaml; copy prometheus/oauthd-rules.yaml
// there after changing it.
func TestChartPrometheusRule(t *testing.T) {
	t.Parallel()
	r, err := renderChart(t, map[string]any{"prometheusRule": map[string]any{"enabled": true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.prometheusRules) != 1 {
		t.Fatalf("%d PrometheusRules", len(r.prometheusRules))
	}
	type rule struct {
		Group, Alert, Record, Expr, For string
		Labels, Annotations             map[string]string
	}
	var chart, plain []rule
	for _, g := range r.prometheusRules[0].Spec.Groups {
		if g.Interval != nil || g.QueryOffset != nil || len(g.Labels) > 0 {
			t.Errorf("group %s: the plain file sets no interval, offset or labels", g.Name)
		}
		for _, ru := range g.Rules {
			var hold string
			if ru.For != nil {
				d, err := model.ParseDuration(string(*ru.For))
				if err != nil {
					t.Fatal(err)
				}
				hold = d.String()
			}
			chart = append(chart, rule{g.Name, ru.Alert, ru.Record, ru.Expr.String(), hold, ru.Labels, ru.Annotations})
		}
	}
	for _, g := range loadRules(t, rulesFile).Groups {
		for _, ru := range g.Rules {
			var hold string
			if ru.For != 0 {
				hold = ru.For.String()
			}
			plain = append(plain, rule{g.Name, ru.Alert, ru.Record, ru.Expr, hold, ru.Labels, ru.Annotations})
		}
	}
	if len(plain) == 0 || !reflect.DeepEqual(chart, plain) {
		c, _ := yaml.Marshal(chart)
		p, _ := yaml.Marshal(plain)
		t.Errorf("the chart's PrometheusRule and %s differ; copy the file to %s/files/\nchart:\n%s\nfile:\n%s", rulesFile, chartDir, c, p)
	}
}

// TestChartValuesDocumented holds values.yaml's promise: every value is in
// docs/operations.md's "Deploying with Helm" table. Free-form maps (labels,
// annotations, security contexts, config) are one value each.
func TestChartValuesDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Deploying with Helm\n")
	if !ok {
		t.Fatal(`docs/operations.md has no "## Deploying with Helm"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	vals, err := common.ReadValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	freeForm := map[string]bool{
		"config": true, "podAnnotations": true, "podLabels": true, "podSecurityContext": true, "securityContext": true,
		"resources": true, "nodeSelector": true, "affinity": true, "admin.allowedPods": true, "admin.allowedNamespaces": true,
		"service.annotations": true, "serviceMonitor.labels": true, "serviceMonitor.tlsConfig": true, "prometheusRule.labels": true,
		"smsApi.config": true, "smsApi.resources": true,
	}
	var walk func(prefix string, m map[string]any)
	n := 0
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := prefix + k
			if sub, ok := v.(map[string]any); ok && !freeForm[key] {
				walk(key+".", sub)
				continue
			}
			n++
			if !strings.Contains(section, "`"+key+"`") {
				t.Errorf("value %s is not in the table", key)
			}
		}
	}
	walk("", vals.AsMap())
	if n < 40 {
		t.Fatalf("only %d values found", n)
	}
}
