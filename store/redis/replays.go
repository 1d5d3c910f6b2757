package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// replayKey is where id of kind is remembered: a digest, so that the key
// is short whatever a client sends and holds nothing it chose verbatim.
// SET NX touches one key, so on Cluster any slot will do: the keys spread
// over the nodes rather than crowd one slot.
func (s *Store) replayKey(kind, id string) string {
	sum := sha256.Sum256([]byte(id))
	return s.opts.Prefix + ":replay:" + kind + ":" + hex.EncodeToString(sum[:16])
}

// Seen is store.Replays': SET NX with the identifier's expiry, one round
// trip, atomic on any number of replicas.
func (s *Store) Seen(ctx context.Context, kind, id string, until time.Time) (bool, error) {
	ttl := max(time.Until(until).Truncate(time.Millisecond), time.Millisecond)
	fresh, err := s.rdb.SetNX(ctx, s.replayKey(kind, id), 1, ttl).Result()
	if err != nil {
		return false, s.wrap(err)
	}
	return !fresh, nil
}
