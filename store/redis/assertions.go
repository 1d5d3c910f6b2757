package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// assertionKey remembers one client assertion's jti (RFC 7523 §3), in the
// client's hash slot, like every key of the client (its application, its
// tokens), so a script of the token endpoint may touch it too on a
// Cluster. The jti is the client's choice, of any length: the key holds
// the first 16 bytes of its SHA-256, which no client steers into another
// jti's.
func (s *Store) assertionKey(clientID, jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return s.opts.Prefix + ":{" + clientID + "}:jti:" + hex.EncodeToString(sum[:16])
}

// UseAssertion records a client assertion's jti until its expiry with one
// SET NX PXAT: the replica whose SET lands first accepts the assertion,
// every other (and every later try) finds the key and refuses it as a
// replay. The key expires with the assertion, after which the assertion
// is refused as expired anyway.
func (s *Store) UseAssertion(ctx context.Context, clientID, jti string, until time.Time) error {
	err := s.rdb.Do(ctx, "SET", s.assertionKey(clientID, jti), "1", "NX", "PXAT", assertionExpiry(until)).Err()
	switch {
	case errors.Is(err, goredis.Nil):
		return errReplay(clientID)
	case err != nil:
		return s.wrap(err)
	}
	return nil
}

// assertionExpiry is when a jti key expires (Unix ms): until, or a second
// from now when until is not in the future, since PXAT in the past keeps
// nothing at all (a replica whose clock runs behind Redis's would then
// accept the assertion again).
func assertionExpiry(until time.Time) int64 {
	at := until.UnixMilli()
	if now := time.Now().UnixMilli(); at <= now {
		at = now + time.Second.Milliseconds()
	}
	return at
}
