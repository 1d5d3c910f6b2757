//go:build faults

package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// invalidationBound is the documented bound between an admin change on one
// replica and its effect on the others while their invalidation channel is
// up (docs/operations.md); in practice it is well under a millisecond.
const invalidationBound = 100 * time.Millisecond

// TestReplicasInvalidate runs two oauthd processes on one real Redis. Each
// caches applications in memory; an admin change through one (disable,
// secret reset, delete) must stop tokens at the other within
// invalidationBound. Under the faults tag (make test-faults): two oauthd
// processes and a bound in milliseconds are the fault suite's kind of test.
func TestReplicasInvalidate(t *testing.T) {
	rs := startScannedRedis(t, redistest.Real)
	key, digest := newAdminKey(t)
	bin := oauthdBinary(t)
	env := map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_ADMIN_KEY_SHA256": digest}
	a, b := startReplica(t, bin, env), startReplica(t, bin, env)

	create := func(name string) (id, secret string) {
		code, m := adminCall(t, "POST", a.url+"/admin/v1/applications", key,
			map[string]any{"name": name, "scopes": []string{"sms"}, "token_lifetime": "1h"})
		if code != 201 {
			t.Fatalf("create: %d %v", code, m)
		}
		return m["client_id"].(string), m["client_secret"].(string)
	}
	tests := []struct {
		name   string
		change func(id string) (oldSecretRefused bool, newSecret string)
	}{
		{"disable", func(id string) (bool, string) {
			if code, m := adminCall(t, "PATCH", a.url+"/admin/v1/applications/"+id, key, map[string]any{"enabled": false}); code != 200 {
				t.Fatalf("disable: %d %v", code, m)
			}
			return true, ""
		}},
		{"secret reset", func(id string) (bool, string) {
			code, m := adminCall(t, "POST", a.url+"/admin/v1/applications/"+id+"/secrets", key, map[string]any{"grace_period": "0s"})
			if code != 201 && code != 200 {
				t.Fatalf("reset: %d %v", code, m)
			}
			return true, m["client_secret"].(string)
		}},
		{"delete", func(id string) (bool, string) {
			if code, m := adminCall(t, "DELETE", a.url+"/admin/v1/applications/"+id, key, nil); code != 204 {
				t.Fatalf("delete: %d %v", code, m)
			}
			return true, ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret := create(tt.name)
			// Twice: the first fills b's cache, the second is served
			// from it.
			for range 2 {
				if code := tokenStatus(t, b, id, secret); code != 200 {
					t.Fatalf("token from b before the change: %d", code)
				}
			}
			start := time.Now()
			_, newSecret := tt.change(id)
			// The effect crosses a pub/sub channel: b gives no signal, so
			// poll it, bounded.
			var took time.Duration
			for {
				if code := tokenStatus(t, b, id, secret); code == 401 {
					took = time.Since(start)
					break
				}
				if time.Since(start) > 5*time.Second {
					t.Fatal("b still issues tokens 5s after the change on a")
				}
			}
			fmt.Printf("replicas: %s on one replica refused on the other after %v (bound %v)\n", tt.name, took.Round(time.Microsecond), invalidationBound)
			if took > invalidationBound {
				t.Errorf("%s took %v to reach the other replica; bound %v", tt.name, took, invalidationBound)
			}
			if newSecret != "" {
				if code := tokenStatus(t, b, id, newSecret); code != 200 {
					t.Fatalf("new secret at b: %d", code)
				}
			}
		})
	}
}
