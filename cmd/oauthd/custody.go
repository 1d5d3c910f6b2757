package main

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store/redis"
)

// Custody of the JWT signing keys. They live in Redis, sealed with
// AES-256-GCM; what matters is where the sealing key lives. A copy of
// Redis (a replica, a backup, an RDB file) must hold nothing that opens
// them, so by default the sealing key comes from outside Redis
// (jwt.sealing_key_file, jwt.sealing_key) or oauthd signs no JWTs. On the
// embedded store nothing persists, so a key made in memory does. Only
// jwt.insecure_sealing_key_in_redis keeps the sealing key beside the keys,
// as earlier versions did, and says so on every start.

// newKeyRing is the JWT signing key ring under that policy, or nil: no
// sealing key, no signing. It never makes the key kept in Redis unless the
// insecure setting asks for it.
func newKeyRing(cfg *Config, st *redis.Store, embedded bool) (*signing.Ring, error) {
	var seal func(context.Context) ([]byte, error)
	switch {
	case cfg.sealingKey != nil:
		seal = signing.SealWith(cfg.sealingKey)
	case cfg.JWT.InsecureSealingKeyInRedis:
		seal = func(ctx context.Context) ([]byte, error) { return st.SharedSealingKey(ctx, true) }
	case embedded:
		var k [32]byte
		_, _ = rand.Read(k[:]) // crypto/rand.Read never fails (Go 1.24+)
		seal = signing.SealWith(k[:])
	default:
		return nil, nil
	}
	return signing.NewRing(st, seal, cfg.JWT.Algorithm, nil)
}

const (
	// resealHow is the way out of the insecure custody, for the log lines.
	resealHow = "move the keys to a sealing key kept outside Redis with 'oauthd keys reseal --to-key-file PATH --generate', then set jwt.sealing_key_file=PATH on every replica"

	insecureCustodyLine = "jwt.insecure_sealing_key_in_redis is set: the JWT signing keys are sealed with a key kept in Redis beside them, so anyone who can read Redis (a replica, a backup, an RDB file) can recover them and forge access tokens that every resource server accepts; " +
		resealHow + " and drop this setting"

	signingOffLine = "JWT signing is off: no sealing key is configured, so applications with token_format jwt get server_error and /.well-known/jwks.json answers 404. To turn it on, set jwt.sealing_key_file to a file holding 32 random bytes (a mounted Secret) or OAUTHD_JWT_SEALING_KEY (head -c32 /dev/urandom | base64), the same on every replica"

	signingOffUpgradeLine = "JWT signing is off: Redis holds JWT signing keys sealed with a key kept in Redis beside them (the custody of earlier versions: a copy of Redis could forge tokens), and no sealing key is configured. JWT applications get server_error, and the tokens those keys signed no longer introspect as active. To keep the keys, " +
		resealHow + "; or keep the old custody, knowingly, with jwt.insecure_sealing_key_in_redis=true"
)

// reportSigningOff says once, when Redis first answers, that JWT signing
// is off and how to turn it on: at warn level on a Redis that holds no
// signing key, at error level on one that holds what the old custody left
// (signing keys, or the sealing key kept in Redis), since upgrading turned
// off what was working.
func reportSigningOff(ctx context.Context, st *redis.Store, log *slog.Logger) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		keys, err := st.ListSigningKeys(ctx)
		var shared []byte
		if err == nil {
			shared, err = st.SharedSealingKey(ctx, false)
		}
		switch {
		case err == nil && len(keys) == 0 && shared == nil:
			log.Warn(signingOffLine)
			return
		case err == nil:
			log.Error(signingOffUpgradeLine, "signing_keys", len(keys), "sealing_key_in_redis", shared != nil)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
