//go:build faults

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// On a Redis Cluster the signing keys and the sealing key kept in Redis
// live in different slots, which no transaction spans: the reseal writes
// the keys, then deletes jwt:seal. Both happen, and a replica restarted on
// the key file still verifies a JWT issued before.
func TestFaultClusterReseal(t *testing.T) {
	_, addrs := startCluster(t)
	flags := []string{"--redis-cluster-addrs", strings.Join(addrs, ",")}
	insecure := map[string]string{"OAUTHD_JWT_INSECURE_SEALING_KEY_IN_REDIS": "true"}
	p := startOAuthd(t, insecure, flags...)
	a := createAppOn(t, flags, "--name", "jwt", "--scopes", "sms", "--lifetime", "1h", "--token-format", "jwt")
	before := issueJWT(t, p, a)
	kid, _ := verifyJWT(t, before, jwksOf(t, p))

	file := filepath.Join(t.TempDir(), "sealing.key")
	if _, err := runCLI(t, insecure, append([]string{"keys", "reseal", "--to-key-file", file, "--generate"}, flags...)...); err != nil {
		t.Fatalf("keys reseal on a Cluster: %v", err)
	}
	key, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	leaks.register("JWT sealing key", strings.TrimSpace(string(key)))
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	if n, err := cc.Exists(context.Background(), "oauthd:jwt:seal").Result(); err != nil || n != 0 {
		t.Fatalf("oauthd:jwt:seal after the reseal: %d, %v", n, err)
	}
	q := startOAuthd(t, map[string]string{"OAUTHD_JWT_SEALING_KEY_FILE": file}, flags...)
	if k, _ := verifyJWT(t, before, jwksOf(t, q)); k != kid {
		t.Fatalf("the JWT issued before the reseal verifies with %s, want %s", k, kid)
	}
}
