package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/oauthd/oauthd/server/apps"
	"github.com/oauthd/oauthd/server/signing"
	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// resealSettings are the settings of oauthd keys reseal: Redis and the current
// sealing key. It has no --endpoint: it handles key material, which never
// crosses the admin API.
func resealSettings() []setting { return append(jwtSettings(), redisSettings()...) }

// resealCommand is the way out of the insecure custody (a sealing key kept
// in Redis beside the keys it seals): it moves the signing keys to a key
// in a file, straight on the configured Redis.
func resealCommand(c *cli) *cobra.Command {
	var to string
	var generate bool
	cmd := &cobra.Command{
		Use:   "reseal --to-key-file PATH [--generate]",
		Short: "Move the JWT signing keys to the sealing key in PATH (with --generate, a new one), straight on Redis",
		Long: `Move the JWT signing keys to a new sealing key, working straight on the
configured Redis (never through the admin API: it handles key material).

It opens every sealed signing key with the current sealing key (jwt.sealing_key_file
or jwt.sealing_key, or else the key kept in Redis by jwt.insecure_sealing_key_in_redis
or by versions before it), seals each with the key in PATH, writes them back and
deletes the key kept in Redis, in one transaction: a key another replica adds
meanwhile is moved too. The secrets of client_secret_jwt applications, sealed
with the same key, are moved first, one application at a time; a run that
stops there is finished by running it again. With --generate it first creates PATH (mode 0600) holding a
fresh random key, and never overwrites an existing file.

Then set jwt.sealing_key_file=PATH on every replica, drop
jwt.insecure_sealing_key_in_redis, and restart them. Running replicas keep signing
with the keys they hold until they restart; rotate no key before they all have.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), resealSettings(), c.getenv)
			if err != nil {
				return err
			}
			if to == "" {
				return errors.New("--to-key-file is required: the file that will hold the new sealing key")
			}
			if cfg.embeddedRedis() {
				return errors.New("give --redis-url (OAUTHD_REDIS_URL, or the Sentinel or Cluster settings): reseal works on the Redis the replicas use")
			}
			return reseal(cmd.Context(), c, cfg, to, generate)
		},
	}
	addGlobalFlags(cmd, resealSettings())
	cmd.Flags().StringVar(&to, "to-key-file", "", "file with the new 32-byte sealing key (raw, base64 or hex); with --generate, created")
	cmd.Flags().BoolVar(&generate, "generate", false, "create --to-key-file (mode 0600) with a fresh random key; an existing file is never overwritten")
	return cmd
}

func reseal(ctx context.Context, c *cli, cfg *Config, path string, generate bool) error {
	log := newLogger(cfg, c.stderr)
	redis.SetLibraryLogger(log)
	rdb, _, closeRedis, err := openRedis(cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	if err := pingRedis(ctx, cfg, rdb); err != nil {
		return err
	}
	st := redis.New(rdb, redis.Options{Prefix: cfg.Redis.Prefix})
	from := cfg.sealingKey
	if from == nil {
		if from, err = st.SharedSealingKey(ctx, false); err != nil {
			return err
		}
	}
	// The new key is on disk before Redis changes: a failure below leaves
	// the keys as they were, and the file for the next try.
	to, err := newSealingKeyFile(path, generate)
	if err != nil {
		return err
	}
	// The sealed secrets of client_secret_jwt applications move first,
	// one application at a time: a run that stops here has moved some,
	// changed no signing key, and finishes when repeated (what opens with
	// the new key already is left alone).
	secrets, err := apps.New(st, nil, apps.Options{Logger: log}).ResealSecrets(apps.WithActor(ctx, apps.Actor{Name: "cli"}),
		openSecretWith(from), func(ctx context.Context, plain []byte) ([]byte, error) {
			return signing.SealSecret(ctx, signing.SealWith(to), plain)
		}, openSecretWith(to))
	if err != nil {
		return fmt.Errorf("the client_secret_jwt secrets: %w\nno signing key was resealed; run the command again to finish", err)
	}
	n := 0
	err = st.ResealSigningKeys(ctx, func(keys []store.SigningKey) ([]store.SigningKey, error) {
		n = len(keys)
		if len(keys) > 0 && from == nil {
			return nil, fmt.Errorf("nothing opens the %d signing keys in Redis: no jwt.sealing_key_file or jwt.sealing_key is set, and Redis keeps no sealing key (%s:jwt:seal); set the key they were sealed with", len(keys), cfg.Redis.Prefix)
		}
		return signing.Reseal(keys, from, to)
	})
	if err != nil {
		if generate {
			return fmt.Errorf("%w\nRedis is unchanged; %s holds the new key, for the next try without --generate", err, path)
		}
		return fmt.Errorf("%w\nRedis is unchanged", err)
	}
	// Read back as a replica will: every key opens with the new key.
	ring, err := signing.NewRing(st, signing.SealWith(to), cfg.JWT.Algorithm, nil)
	if err == nil {
		err = ring.Load(ctx)
	}
	if err != nil {
		return fmt.Errorf("the keys were resealed, but do not load with the key in %s: %w", path, err)
	}
	_, err = fmt.Fprintf(c.stdout, `Resealed %d JWT signing key(s) and %d client_secret_jwt secret(s) with the key in %s.
Redis keeps no sealing key any more (%s:jwt:seal is deleted).

On every replica:
  set  jwt.sealing_key_file=%s
       (OAUTHD_JWT_SEALING_KEY_FILE; e.g. a mounted Kubernetes Secret, readable by oauthd only)
  drop jwt.insecure_sealing_key_in_redis
  and restart it.
Running replicas keep signing with the keys they hold until restarted.
Rotate no key (oauthd keys rotate) before every replica runs with the new setting.
Keep a copy of the key file with your secrets: without it the signing keys do not open.
`, n, secrets, path, cfg.Redis.Prefix, path)
	return err
}

// newSealingKeyFile returns the sealing key in path or, with generate,
// creates path (mode 0600, never over an existing file) holding a fresh
// one, base64.
func newSealingKeyFile(path string, generate bool) ([]byte, error) {
	if !generate {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--to-key-file: %w (add --generate to create it with a new key)", err)
		}
		k, err := parseSealingKey(b)
		if err != nil {
			return nil, fmt.Errorf("--to-key-file %s: %w", path, err)
		}
		return k, nil
	}
	var k [32]byte
	_, _ = rand.Read(k[:]) // crypto/rand.Read never fails (Go 1.24+)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("--to-key-file %s exists: --generate never overwrites a key file (it may be the only copy of a key); give a new path, or drop --generate to use the key in it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("--to-key-file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(k[:]) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("--to-key-file: %w", err)
	}
	return k[:], nil
}

// openSecretWith opens a client secret sealed with key; with no key
// (none configured, none in Redis) nothing opens.
func openSecretWith(key []byte) func(context.Context, []byte) ([]byte, error) {
	if key == nil {
		return func(context.Context, []byte) ([]byte, error) {
			return nil, errors.New("a sealed client secret, and no current sealing key to open it: set jwt.sealing_key_file (or jwt.sealing_key) to the key it was sealed with")
		}
	}
	return func(ctx context.Context, sealed []byte) ([]byte, error) {
		return signing.OpenSecret(ctx, signing.SealWith(key), sealed)
	}
}
