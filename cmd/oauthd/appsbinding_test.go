package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// apps create and update set the binding policy (--dpop-bound,
// --profile), get shows it, and an unknown profile is refused.
func TestCLIBindingPolicy(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OAUTHD_REDIS_URL": redistest.Start(t, redistest.Mini).URL}
	cli := cliOK(t, env)
	var created struct {
		ClientID  string `json:"client_id"`
		DPoPBound bool   `json:"dpop_bound_access_tokens"`
		Profile   string `json:"profile"`
	}
	if err := json.Unmarshal([]byte(cli("apps", "create", "--json", "--name", "bound", "--scopes", "sms", "--dpop-bound", "--profile", "fapi2")), &created); err != nil ||
		!created.DPoPBound || created.Profile != "fapi2" {
		t.Fatalf("create: %+v %v", created, err)
	}
	out := cli("apps", "update", created.ClientID, "--dpop-bound=false", "--profile", "none")
	if !regexp.MustCompile(`dpop_bound_access_tokens\s+false`).MatchString(out) || !regexp.MustCompile(`profile\s+none`).MatchString(out) {
		t.Errorf("update:\n%s", out)
	}
	if _, err := runCLI(t, env, "apps", "update", created.ClientID, "--profile", "fapi1"); err == nil {
		t.Error("an unknown profile was taken")
	}
}
