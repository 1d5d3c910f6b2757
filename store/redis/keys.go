package redis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// JWT signing keys live in one hash: field <kid> holds the sealed key,
// field retire:<kid> when it stops being published. A retired key's
// fields are removed a day after its retirement by the next addition.
func (s *Store) signingKeysKey() string { return s.opts.Prefix + ":jwt:keys" }

type keyRecord struct {
	Alg       string `json:"alg"`
	CreatedMS int64  `json:"created_ms"`
	ActiveMS  int64  `json:"active_ms"`
	Sealed    []byte `json:"sealed"`
}

// sharedSealingKeyKey holds the sealing key that
// jwt.insecure_sealing_key_in_redis keeps beside the keys it seals.
func (s *Store) sharedSealingKeyKey() string { return s.opts.Prefix + ":jwt:seal" }

// ListSigningKeys returns every stored key.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return listSigningKeys(ctx, s.rdb, s.signingKeysKey())
}

// listSigningKeys reads the hash at key through c: the client, or a
// transaction watching it.
func listSigningKeys(ctx context.Context, c goredis.Cmdable, key string) ([]store.SigningKey, error) {
	all, err := c.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, wrapErr(err)
	}
	var out []store.SigningKey
	for kid, v := range all {
		if strings.HasPrefix(kid, "retire:") {
			continue
		}
		var r keyRecord
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return nil, fmt.Errorf("corrupt signing key %q: %w", kid, err)
		}
		k := store.SigningKey{ID: kid, Alg: r.Alg, CreatedAt: fromMS(r.CreatedMS), ActiveAt: fromMS(r.ActiveMS), Sealed: r.Sealed}
		if ms, ok := all["retire:"+kid]; ok {
			var n int64
			fmt.Sscan(ms, &n)
			k.RetireAt = fromMS(n)
		}
		out = append(out, k)
	}
	return out, nil
}

func encodeSigningKey(k store.SigningKey) ([]byte, error) {
	return json.Marshal(keyRecord{Alg: k.Alg, CreatedMS: ms(k.CreatedAt), ActiveMS: ms(k.ActiveAt), Sealed: k.Sealed})
}

// AddSigningKey stores k and the retirement times in retire, in one
// transaction, and drops keys retired more than a day ago.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey, retire map[string]time.Time) error {
	old, err := s.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	b, err := encodeSigningKey(k)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, s.signingKeysKey(), k.ID, b)
		for kid, at := range retire {
			p.HSet(ctx, s.signingKeysKey(), "retire:"+kid, ms(at))
		}
		for _, o := range old {
			if !o.RetireAt.IsZero() && time.Since(o.RetireAt) > 24*time.Hour {
				p.HDel(ctx, s.signingKeysKey(), o.ID, "retire:"+o.ID)
			}
		}
		return nil
	})
	return s.wrap(err)
}

// ResealSigningKeys rewrites the keys reseal returns in a transaction
// watching the keys' hash, and deletes the shared sealing key in it. On a
// Cluster the two keys live in different slots, which no transaction spans:
// the shared key is deleted right after the keys are written, which is
// safe in that order (it opens none of them any more).
func (s *Store) ResealSigningKeys(ctx context.Context, reseal func([]store.SigningKey) ([]store.SigningKey, error)) error {
	key := s.signingKeysKey()
	txf := func(tx *goredis.Tx) error {
		old, err := listSigningKeys(ctx, tx, key)
		if err != nil {
			return passErr{err}
		}
		next, err := reseal(old)
		if err != nil {
			return passErr{err}
		}
		records := make(map[string][]byte, len(next))
		for _, k := range next {
			if records[k.ID], err = encodeSigningKey(k); err != nil {
				return passErr{err}
			}
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range next {
				p.HSet(ctx, key, k.ID, records[k.ID])
				if k.RetireAt.IsZero() {
					p.HDel(ctx, key, "retire:"+k.ID)
				} else {
					p.HSet(ctx, key, "retire:"+k.ID, ms(k.RetireAt))
				}
			}
			if !s.cluster {
				p.Del(ctx, s.sharedSealingKeyKey())
			}
			return nil
		})
		return err
	}
	if err := s.watch(ctx, "signing keys", txf, key); err != nil || !s.cluster {
		return err
	}
	return s.wrap(s.rdb.Del(ctx, s.sharedSealingKeyKey()).Err())
}

// SharedSealingKey returns the sealing key kept in Redis itself; with
// create it makes one when there is none (SET NX, so replicas starting
// together agree).
func (s *Store) SharedSealingKey(ctx context.Context, create bool) ([]byte, error) {
	key := s.sharedSealingKeyKey()
	if create {
		var k [32]byte
		_, _ = rand.Read(k[:]) // crypto/rand.Read never fails (Go 1.24+)
		if err := s.rdb.SetNX(ctx, key, k[:], 0).Err(); err != nil {
			return nil, s.wrap(err)
		}
	}
	b, err := s.rdb.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, goredis.Nil) && !create:
		return nil, nil
	case err != nil:
		return nil, s.wrap(err)
	case len(b) != 32:
		return nil, fmt.Errorf("%s holds %d bytes, not a 32-byte sealing key", key, len(b))
	}
	return b, nil
}
