package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
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

// proofKey remembers one DPoP proof (RFC 9449 §11.1) a token request of
// clientID carried, id naming it (store.TokenRequest.ProofID), in the
// client's slot for the same reason as assertionKey: the token scripts
// take it with the write. Per client: a proof captured and sent with
// another client's credentials is a new id there, but whatever token it
// gets is bound to a key its sender does not hold.
func (s *Store) proofKey(clientID, id string) string {
	sum := sha256.Sum256([]byte(id))
	return s.opts.Prefix + ":{" + clientID + "}:dpop:" + hex.EncodeToString(sum[:16])
}

// onceKeys appends to keys those of r's one-time identifiers, the
// assertion's jti then the proof (the token scripts' order), and returns
// when each is forgotten as the scripts take it: Unix ms, "" for none.
func (s *Store) onceKeys(keys []string, clientID string, r store.TokenRequest) (_ []string, jtiAt, proofAt any) {
	jtiAt, proofAt = "", ""
	if r.JTI != "" {
		keys = append(keys, s.assertionKey(clientID, r.JTI))
		jtiAt = assertionExpiry(r.JTIUntil)
	}
	if r.ProofID != "" {
		keys = append(keys, s.proofKey(clientID, r.ProofID))
		proofAt = assertionExpiry(r.ProofUntil)
	}
	return keys, jtiAt, proofAt
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
