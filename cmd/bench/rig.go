package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// rig is everything the harness started and set up: Redis, the three
// servers, oauthd's applications.
type rig struct {
	redisAddr    string
	redisVersion string
	rdb          *goredis.Client // the harness's own connection, for INFO

	baselineURL, oauthdURL, smsURL string
	// smsJWTURL is a second sms-api validating JWTs locally (jwt_local).
	smsJWTURL string
	oauthdPID int
	traceEnv  []string // the OTEL_* settings of oauthd and sms-api

	oauthd         *oauthdClient
	daemon         credentials    // scopes sms groups: gets the tokens
	jwtDaemon      credentials    // the same, with token_format jwt
	keyDaemon      keyCredentials // the same scopes, authenticating with private_key_jwt
	resourceServer credentials    // scope tokens:introspect: sms-api's, and the introspection runs' caller
	http           *http.Client
}

// clientConns bounds the harness's own concurrent requests (setup and
// filling Redis; wrk does the load).
const clientConns = 16

// startRig starts redis-server, the baseline, oauthd (with a daemon and a
// resource-server application) and sms-api, each on its own loopback port,
// and returns once each has said it is ready.
//
// traceEnv, when set, turns OpenTelemetry tracing on in oauthd and sms-api
// (-trace-sample).
func startRig(ctx context.Context, ps *procs, dir, bin string, opts options, traceEnv []string) (*rig, error) {
	r := &rig{http: httpClient(clientConns), traceEnv: traceEnv}
	var err error
	if r.redisAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(r.redisAddr, ":")
	redis := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", // nothing on disk: persistence is not what is measured
		"--dir", dir, "--daemonize", "no", "--protected-mode", "yes")
	redis.Env = childEnv()
	if _, _, err := ps.start(ctx, "redis-server", redis, func(line string) bool {
		return strings.Contains(line, "Ready to accept connections")
	}); err != nil {
		return nil, err
	}
	r.rdb = goredis.NewClient(&goredis.Options{Addr: r.redisAddr})
	server, err := info(ctx, r.rdb, "server")
	if err != nil {
		return nil, err
	}
	r.redisVersion = server["redis_version"]
	redisURL := "redis://" + r.redisAddr + "/0"

	baseAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	baseline := exec.Command(filepath.Join(bin, "baseline"), "-addr", baseAddr, "-redis-url", redisURL)
	baseline.Env = childEnv()
	if _, _, err := ps.start(ctx, "baseline", baseline, logged("baseline listening")); err != nil {
		return nil, err
	}
	r.baselineURL = "http://" + baseAddr

	key, digest, err := adminKey(ctx, bin)
	if err != nil {
		return nil, err
	}
	oauthdAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r.oauthdURL = "http://" + oauthdAddr
	oauthd := exec.Command(filepath.Join(bin, "oauthd"), "serve",
		"--redis-url", redisURL, "--http-addr", oauthdAddr, "--issuer", r.oauthdURL,
		"--admin-key-sha256", digest, "--log-format", "json", "--shutdown-timeout", "5s",
		// The load is one daemon and one resource server asking as fast as
		// they can: far past the default quotas, which would turn the
		// measurement into one of 429s.
		"--limits-issue", "0", "--limits-introspect", "0")
	// The JWT scenarios need a sealing key: a fresh one, from the
	// environment, as a deployment gives it.
	var seal [32]byte
	_, _ = rand.Read(seal[:])
	oauthd.Env = childEnv(append(r.traceEnv, "OAUTHD_JWT_SEALING_KEY="+base64.StdEncoding.EncodeToString(seal[:]))...)
	if _, _, err := ps.start(ctx, "oauthd", oauthd, logged("oauthd listening")); err != nil {
		return nil, err
	}
	r.oauthdPID = oauthd.Process.Pid
	r.oauthd = &oauthdClient{base: r.oauthdURL, adminKey: key, http: r.http}
	if r.jwtDaemon, err = r.oauthd.createApp(ctx, "bench-jwt-daemon", []string{"sms", "groups"}, "jwt"); err != nil {
		return nil, err
	}
	if r.daemon, err = r.oauthd.createApp(ctx, "bench-daemon", []string{"sms", "groups"}); err != nil {
		return nil, err
	}
	if r.resourceServer, err = r.oauthd.createApp(ctx, "bench-sms-api", []string{"tokens:introspect"}); err != nil {
		return nil, err
	}
	if r.keyDaemon, err = r.oauthd.createKeyApp(ctx, "bench-key-daemon", []string{"sms", "groups"}); err != nil {
		return nil, err
	}

	// The same cache for both, so every measured request is a cache hit:
	// the middleware's own cost is what is measured.
	if r.smsURL, err = r.startSMSAPI(ctx, ps, bin, "sms-api", "SMSAPI_CACHE_TTL=5m"); err != nil {
		return nil, err
	}
	// The second checks JWTs itself: signature, claims, scopes.
	if r.smsJWTURL, err = r.startSMSAPI(ctx, ps, bin, "sms-api-jwt", "SMSAPI_CACHE_TTL=5m", "SMSAPI_JWT_LOCAL=true"); err != nil {
		return nil, err
	}
	return r, nil
}

// startSMSAPI starts an sms-api on a free port with the resource server's
// credentials and the extra settings, and returns its URL.
func (r *rig) startSMSAPI(ctx context.Context, ps *procs, bin, name string, extra ...string) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(bin, "sms-api"))
	// The secret goes in the environment, not argv, where ps would show it.
	cmd.Env = childEnv(append([]string{
		"SMSAPI_HTTP_ADDR=" + addr,
		"SMSAPI_ISSUER=" + r.oauthdURL,
		"SMSAPI_CLIENT_ID=" + r.resourceServer.ID,
		"SMSAPI_CLIENT_SECRET=" + r.resourceServer.Secret,
		"SMSAPI_LOG_FORMAT=json",
	}, append(extra, r.traceEnv...)...)...)
	if _, _, err := ps.start(ctx, name, cmd, logged("sms-api listening")); err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

// logged accepts the JSON log line whose msg is msg: oauthd, sms-api and
// the baseline all log one when they listen.
func logged(msg string) func(string) bool {
	return func(line string) bool {
		var l struct {
			Msg string `json:"msg"`
		}
		return json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg
	}
}

// adminKey runs oauthd admin-key and returns the key and its digest.
func adminKey(ctx context.Context, bin string) (key, digest string, err error) {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "oauthd"), "admin-key")
	cmd.Env = childEnv()
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("oauthd admin-key: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "key:"); ok {
			key = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "sha256:"); ok {
			digest = strings.TrimSpace(v)
		}
	}
	if key == "" || digest == "" {
		return "", "", fmt.Errorf("oauthd admin-key: no key or sha256 line in %q", out)
	}
	return key, digest, nil
}
