package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The documented way out of the insecure custody, end to end: a deployment
// on jwt.insecure_sealing_key_in_redis has issued a JWT; `oauthd keys
// reseal --to-key-file F --generate` moves its keys to a new key in F and
// deletes jwt:seal. The replica still running signs on with the keys it
// holds; one restarted with jwt.sealing_key_file=F and without the
// insecure setting publishes the same kid, so the earlier JWT still
// verifies, and issues new tokens; nothing in Redis opens the keys any
// more. A second --generate never overwrites F, and a wrong current key
// is refused naming the key it does not open, changing nothing.
func TestResealMovesKeysOutOfRedis(t *testing.T) {
	t.Parallel()
	for _, kind := range redistest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			rs := startScannedRedis(t, kind)
			insecure := map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_JWT_INSECURE_SEALING_KEY_IN_REDIS": "true"}
			old := startOAuthd(t, insecure)
			a := createJWTApp(t, rs.URL)
			before := issueJWT(t, old, a)
			set := jwksOf(t, old)
			kid, _ := verifyJWT(t, before, set)

			file := filepath.Join(t.TempDir(), "sealing.key")
			out, err := runCLI(t, insecure, "keys", "reseal", "--to-key-file", file, "--generate")
			if err != nil {
				t.Fatalf("keys reseal: %v", err)
			}
			key, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			leaks.register("JWT sealing key", strings.TrimSpace(string(key)))
			if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
				t.Errorf("the key file's mode is %v, want 0600", fi.Mode().Perm())
			}
			for _, want := range []string{"Resealed 1 JWT signing key", "set  jwt.sealing_key_file=" + file + "\n",
				"drop jwt.insecure_sealing_key_in_redis", "Running replicas keep signing with the keys they hold until restarted"} {
				if !contains(out, want) {
					t.Errorf("keys reseal printed no %q:\n%s", want, out)
				}
			}
			copied := copyRedis(t, rs.Addr)
			for _, k := range copied.keys {
				if strings.HasSuffix(k, ":jwt:seal") {
					t.Errorf("Redis still holds %s after the reseal", k)
				}
			}
			if kid, from := forge(copied); kid != "" {
				t.Fatalf("after the reseal a copy of Redis opens signing key %s with %s", kid, from)
			}

			// The replica not restarted yet signs with the key it holds.
			if k, _ := verifyJWT(t, issueJWT(t, old, a), set); k != kid {
				t.Errorf("the running replica signs with %s, want the key it holds, %s", k, kid)
			}

			restarted := startOAuthd(t, map[string]string{"OAUTHD_JWT_SEALING_KEY_FILE": file}, "--redis-url", rs.URL)
			after := jwksOf(t, restarted)
			if k, _ := verifyJWT(t, before, after); k != kid {
				t.Fatalf("the JWT issued before the reseal verifies with %s, want %s", k, kid)
			}
			if k, _ := verifyJWT(t, issueJWT(t, restarted, a), after); k != kid {
				t.Errorf("the restarted replica signs with %s, want the resealed %s", k, kid)
			}
			if logs := restarted.Logs.String(); contains(logs, "JWT signing is off") || contains(logs, "cannot be opened") || contains(logs, "insecure") {
				t.Errorf("the restarted replica:\n%s", logs)
			}

			// Refusals that change nothing.
			if _, err := runCLI(t, insecure, "keys", "reseal", "--to-key-file", file, "--generate"); err == nil || !contains(err.Error(), "never overwrites") {
				t.Errorf("a second --generate onto %s: %v", file, err)
			}
			if again, _ := os.ReadFile(file); string(again) != string(key) {
				t.Fatal("a second --generate changed the key file")
			}
			wrong := map[string]string{"OAUTHD_REDIS_URL": rs.URL, "OAUTHD_JWT_SEALING_KEY": newSealingKey(t)}
			if _, err := runCLI(t, wrong, "keys", "reseal", "--to-key-file", file); err == nil || !contains(err.Error(), `signing key "`+kid+`"`) {
				t.Errorf("a reseal from the wrong current key: %v, want an error naming %s", err, kid)
			}
			if _, err := runCLI(t, insecure, "keys", "reseal", "--to-key-file", file); err == nil || !contains(err.Error(), "nothing opens") {
				t.Errorf("a reseal with no current key: %v", err)
			}
			if k, _ := verifyJWT(t, issueJWT(t, restarted, a), after); k != kid {
				t.Errorf("after the refused reseals the replica signs with %s, want %s", k, kid)
			}
		})
	}
}
