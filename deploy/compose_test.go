package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type composeFile struct {
	Services map[string]struct {
		Image       string
		Command     []string
		Build       *struct{ Context, Dockerfile, Target string }
		Environment map[string]string
		Ports       []string
		DependsOn   map[string]struct{ Condition string } `json:"depends_on"`
		Healthcheck *struct {
			Test []string
		}
		Restart string
	}
}

func TestCompose(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"redis", "oauthd", "sms-api"} {
		s, ok := c.Services[name]
		switch {
		case !ok:
			t.Fatalf("no %s service", name)
		case s.Restart == "":
			t.Errorf("%s has no restart policy", name)
		case s.Build != nil && !regexp.MustCompile(`(?m)^FROM .* AS `+regexp.QuoteMeta(s.Build.Target)+`$`).Match(dockerfile):
			t.Errorf("%s builds target %q, which the Dockerfile lacks", name, s.Build.Target)
		}
	}
	redis, oauthd, sms := c.Services["redis"], c.Services["oauthd"], c.Services["sms-api"]
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") {
		t.Errorf("redis without AOF: %s", cmd)
	}
	for name, s := range map[string]struct{ hc []string }{"redis": {redis.Healthcheck.Test}, "oauthd": {oauthd.Healthcheck.Test}} {
		if len(s.hc) < 2 {
			t.Errorf("%s has no health check", name)
		}
	}
	if hc := strings.Join(oauthd.Healthcheck.Test, " "); !strings.Contains(hc, "/oauthd health --url http://127.0.0.1:8080/health/ready") {
		t.Errorf("oauthd's health check %q", hc)
	}
	if oauthd.DependsOn["redis"].Condition != "service_healthy" || sms.DependsOn["oauthd"].Condition != "service_healthy" {
		t.Error("start order does not wait for health")
	}
	env := oauthd.Environment
	if !strings.HasPrefix(env["OAUTHD_ADMIN_KEY_SHA256"], "${OAUTHD_ADMIN_KEY_SHA256") {
		t.Errorf("admin key digest %q: take it from the environment", env["OAUTHD_ADMIN_KEY_SHA256"])
	}
	admin := strings.TrimPrefix(env["OAUTHD_ADMIN_ADDR"], ":")
	if admin == "" {
		t.Fatal("no separate admin listener")
	}
	var public bool
	for _, p := range oauthd.Ports {
		parts := strings.Split(p, ":")
		container := parts[len(parts)-1]
		if container == admin && parts[0] != "127.0.0.1" {
			t.Errorf("admin port published beyond loopback: %s", p)
		}
		if container == "8080" {
			public = true
		}
	}
	if !public || !slices.ContainsFunc(sms.Ports, func(p string) bool { return strings.HasSuffix(p, ":8081") }) {
		t.Error("oauthd or sms-api not published")
	}
	if sms.Environment["SMSAPI_ISSUER"] != env["OAUTHD_ISSUER"] {
		t.Error("sms-api discovers oauthd at a URL other than its issuer")
	}
}
