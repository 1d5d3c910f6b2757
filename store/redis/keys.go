package redis

import (
	"context"
	"crypto/rand"
	"encoding/json"
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

// ListSigningKeys returns every stored key.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	all, err := s.rdb.HGetAll(ctx, s.signingKeysKey()).Result()
	if err != nil {
		return nil, s.wrap(err)
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

// AddSigningKey stores k and the retirement times in retire, in one
// transaction, and drops keys retired more than a day ago.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey, retire map[string]time.Time) error {
	old, err := s.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(keyRecord{Alg: k.Alg, CreatedMS: ms(k.CreatedAt), ActiveMS: ms(k.ActiveAt), Sealed: k.Sealed})
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

// SharedSealingKey returns the sealing key kept in Redis itself, making
// one when there is none (SET NX, so replicas starting together agree).
// It is for deployments that configure no sealing key file: signing keys
// are then only as safe as Redis.
func (s *Store) SharedSealingKey(ctx context.Context) ([]byte, error) {
	var k [32]byte
	_, _ = rand.Read(k[:]) // crypto/rand.Read never fails (Go 1.24+)
	key := s.opts.Prefix + ":jwt:seal"
	if err := s.rdb.SetNX(ctx, key, k[:], 0).Err(); err != nil {
		return nil, s.wrap(err)
	}
	b, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, s.wrap(err)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("%s holds %d bytes, not a 32-byte sealing key", key, len(b))
	}
	return b, nil
}
