package redis

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// Dashboard sessions live in Redis so that every replica sees the same
// sessions and a sign-out on one ends the session on all of them:
//
//	<prefix>:session:<hex SHA-256 of the session id>   the session (opaque bytes); TTL = idle timeout
//
// Only the digest of the session id is a key: a copy of the database (or a
// KEYS listing) does not hand out sessions. The value is the dashboard's own
// encoding; the store neither reads nor checks it.

func (s *Store) sessionKey(id store.Digest) string {
	return s.opts.Prefix + ":session:" + hex.EncodeToString(id[:])
}

// CreateSession stores a new session under the digest of its id, for ttl.
// ErrAlreadyExists if the digest is taken (a random 256-bit id never is).
func (s *Store) CreateSession(ctx context.Context, id store.Digest, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("redis: a session needs a positive TTL")
	}
	ok, err := s.rdb.SetNX(ctx, s.sessionKey(id), value, ttl).Result()
	if err != nil {
		return s.wrap(err)
	}
	if !ok {
		return store.ErrAlreadyExists
	}
	return nil
}

// GetSession returns a session's value and, in the same command (GETEX),
// pushes its expiry to ttl from now: the idle timeout restarts with each
// use. ErrNotFound when it expired or was deleted.
func (s *Store) GetSession(ctx context.Context, id store.Digest, ttl time.Duration) ([]byte, error) {
	b, err := s.rdb.GetEx(ctx, s.sessionKey(id), ttl).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, store.ErrNotFound
	}
	return b, s.wrap(err)
}

// DeleteSession ends a session on every replica at once. Deleting a session
// that is gone already is not an error: signing out twice is fine.
func (s *Store) DeleteSession(ctx context.Context, id store.Digest) error {
	return s.wrap(s.rdb.Del(ctx, s.sessionKey(id)).Err())
}
