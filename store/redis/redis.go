// Package redis stores oauthd's applications and tokens in Redis.
//
// It is written against redis.UniversalClient so that a single node,
// Sentinel or Cluster deployment needs no code change. Every key of one
// application shares the hash tag {client_id}, so the few multi-key reads and
// transactions stay inside one Cluster hash slot:
//
//	<prefix>:{<client_id>}:app            application record (JSON)
//	<prefix>:{<client_id>}:tok:<sha256>   token record (JSON), TTL = token lifetime
//	<prefix>:apps                         sorted set of client_ids by creation time
//
// The apps index is the one key outside an application's slot; it is written
// after the record, never inside a transaction with it.
package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/store"
)

// casRetries bounds UpdateApplication's optimistic-locking loop. Admin
// changes to one application are rare; losing this many races in a row
// means something is hammering the record.
const casRetries = 16

// Store is the Redis backend. It is safe for concurrent use.
type Store struct {
	rdb   goredis.UniversalClient
	opts  Options
	usage *usageThrottle
	apps  *appCache
}

// Options tune the backend.
type Options struct {
	// Prefix goes before every key (e.g. "oauthd"), so several deployments
	// can share one Redis.
	Prefix string
	// KeepExpired keeps a token's record this long past its expiry, so
	// introspection can tell "expired" from "unknown". 0 lets Redis drop
	// the record the moment the token expires.
	KeepExpired time.Duration
}

// New returns a Store using rdb.
func New(rdb goredis.UniversalClient, opts Options) *Store {
	return &Store{rdb: rdb, opts: opts, usage: newUsageThrottle(), apps: newAppCache()}
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.wrap(s.rdb.Ping(ctx).Err()) }

func (s *Store) appKey(id string) string { return s.opts.Prefix + ":{" + id + "}:app" }
func (s *Store) indexKey() string        { return s.opts.Prefix + ":apps" }

func (s *Store) usageKey(id string) string            { return s.opts.Prefix + ":{" + id + "}:usage" }
func (s *Store) tokenKey(ref store.TokenRef) string   { return s.refKey(ref, ":tok:") }
func (s *Store) revokedKey(ref store.TokenRef) string { return s.refKey(ref, ":revoked:") }

func (s *Store) tokenIndexKey(id string) string { return s.opts.Prefix + ":{" + id + "}:tokens" }

func (s *Store) refKey(ref store.TokenRef, kind string) string {
	return s.opts.Prefix + ":{" + ref.ClientID + "}" + kind + refHex(ref)
}

func refHex(ref store.TokenRef) string {
	var buf [2 * store.KeyLen]byte
	hex.Encode(buf[:], ref.Digest[:store.KeyLen])
	return string(buf[:])
}

// wrap maps go-redis errors onto the store sentinels. Anything but a
// missing key or a cancelled request means Redis is unreachable or refusing
// work (connection refused, timeout, OOM, LOADING...): ErrUnavailable.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return store.ErrNotFound
	case errors.Is(err, context.Canceled):
		return err
	default:
		return fmt.Errorf("%w: redis: %v", store.ErrUnavailable, err)
	}
}

// CreateApplication stores a new application; ErrAlreadyExists if its
// client_id is taken.
func (s *Store) CreateApplication(ctx context.Context, a store.Application) error {
	b, err := encodeApp(a)
	if err != nil {
		return err
	}
	ok, err := s.rdb.SetNX(ctx, s.appKey(a.ClientID), b, 0).Result()
	if err != nil {
		return s.wrap(err)
	}
	if !ok {
		return fmt.Errorf("application %q: %w", a.ClientID, store.ErrAlreadyExists)
	}
	score := float64(a.CreatedAt.UnixMilli())
	return s.wrap(s.rdb.ZAdd(ctx, s.indexKey(), goredis.Z{Score: score, Member: a.ClientID}).Err())
}

// GetApplication returns the application or ErrNotFound.
func (s *Store) GetApplication(ctx context.Context, id string) (store.Application, error) {
	b, err := s.rdb.Get(ctx, s.appKey(id)).Bytes()
	if err != nil {
		return store.Application{}, s.wrap(err)
	}
	return s.apps.decode(id, b)
}

// UpdateApplication applies update to the current record and writes the
// result only if nobody changed the record in between (WATCH/MULTI); on a
// lost race it re-reads and calls update again, so update must be free of
// side effects. An error from update aborts and is returned as is. The
// client_id cannot be changed.
func (s *Store) UpdateApplication(ctx context.Context, id string, update func(store.Application) (store.Application, error)) (store.Application, error) {
	key := s.appKey(id)
	var out store.Application
	txf := func(tx *goredis.Tx) error {
		b, err := tx.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		old, err := decodeApp(b)
		if err != nil {
			return passErr{err}
		}
		next, err := update(old)
		if err != nil {
			return passErr{err}
		}
		next.ClientID = old.ClientID
		nb, err := encodeApp(next)
		if err != nil {
			return passErr{err}
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, nb, 0)
			if next.Generation != old.Generation {
				// Every listed token belongs to the old generation: drop
				// the index in the same transaction. UNLINK frees it off
				// the main thread, so this stays O(1) however many.
				p.Unlink(ctx, s.tokenIndexKey(id))
			}
			return nil
		})
		out = next
		return err
	}
	for range casRetries {
		err := s.rdb.Watch(ctx, txf, key)
		var pe passErr
		switch {
		case err == nil:
			return out, nil
		case errors.Is(err, goredis.TxFailedErr):
			continue
		case errors.As(err, &pe):
			return store.Application{}, pe.err
		case errors.Is(err, goredis.Nil):
			return store.Application{}, fmt.Errorf("application %q: %w", id, store.ErrNotFound)
		default:
			return store.Application{}, s.wrap(err)
		}
	}
	return store.Application{}, fmt.Errorf("application %q: %w", id, store.ErrConflict)
}

// passErr carries an error out of a WATCH transaction untouched, so it is
// not mistaken for a Redis failure.
type passErr struct{ err error }

func (e passErr) Error() string { return e.err.Error() }

// DeleteApplication removes the application; its tokens stop working at
// once because every token lookup reads the application too. The records
// of the tokens it had (listed in its token index) are unlinked with it, so
// tokens that never expire do not linger.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	members, err := s.rdb.ZRange(ctx, s.tokenIndexKey(id), 0, -1).Result()
	if err != nil {
		return s.wrap(err)
	}
	var del *goredis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		del = p.Del(ctx, s.appKey(id))
		keys := []string{s.tokenIndexKey(id), s.usageKey(id)}
		for _, m := range members {
			keys = append(keys, s.opts.Prefix+":{"+id+"}:tok:"+m)
		}
		p.Unlink(ctx, keys...)
		return nil
	})
	if err != nil {
		return s.wrap(err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("application %q: %w", id, store.ErrNotFound)
	}
	return s.wrap(s.rdb.ZRem(ctx, s.indexKey(), id).Err())
}

// CreateToken stores t under ref with a Redis TTL equal to the token's
// remaining lifetime (plus Options.KeepExpired), or none for a token that
// never expires, and, at most once a minute per secret, records the use of
// the application and its secret with the count of tokens issued. One
// round trip; all keys share the application's slot.
func (s *Store) CreateToken(ctx context.Context, ref store.TokenRef, t store.Token) error {
	var ttl time.Duration
	if !t.ExpiresAt.IsZero() {
		ttl = time.Until(t.ExpiresAt) + s.opts.KeepExpired
		if ttl < time.Millisecond {
			ttl = time.Millisecond
		}
	}
	record, issued := s.usage.note(ref.ClientID, t.SecretID, t.IssuedAt)
	score := math.Inf(1)
	if !t.ExpiresAt.IsZero() {
		score = float64(t.ExpiresAt.UnixMilli())
	}
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, s.tokenKey(ref), encodeToken(t), ttl)
		// The index lists live tokens for operators; entries are scored by
		// expiry and pruned when listed.
		p.ZAdd(ctx, s.tokenIndexKey(ref.ClientID), goredis.Z{Score: score, Member: refHex(ref)})
		if !record {
			return nil
		}
		uk := s.usageKey(ref.ClientID)
		at := t.IssuedAt.UnixMilli()
		if t.SecretID != "" {
			p.HSet(ctx, uk, "app", at, "secret:"+t.SecretID, at)
		} else {
			p.HSet(ctx, uk, "app", at)
		}
		p.HIncrBy(ctx, uk, "issued", issued)
		return nil
	})
	return s.wrap(err)
}

// ListTokens returns up to limit live tokens of an application, soonest to
// expire first, and whether there are more. Tokens revoked by a generation
// bump are left out; so are expired ones, whose index entries it prunes.
func (s *Store) ListTokens(ctx context.Context, id string, limit int, now time.Time) ([]store.Token, bool, error) {
	idx := s.tokenIndexKey(id)
	nowMS := strconv.FormatInt(now.UnixMilli(), 10)
	var zs *goredis.ZSliceCmd
	var appCmd *goredis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, idx, "-inf", "("+nowMS)
		zs = p.ZRangeArgsWithScores(ctx, goredis.ZRangeArgs{Key: idx, Start: nowMS, Stop: "+inf", ByScore: true, Count: int64(limit) + 1})
		appCmd = p.Get(ctx, s.appKey(id))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, false, s.wrap(err)
	}
	ab, err := appCmd.Bytes()
	if err != nil {
		return nil, false, s.wrap(err)
	}
	app, err := decodeApp(ab)
	if err != nil {
		return nil, false, err
	}
	entries := zs.Val()
	more := len(entries) > limit
	if more {
		entries = entries[:limit]
	}
	if len(entries) == 0 {
		return nil, false, nil
	}
	keys := make([]string, len(entries))
	for i, z := range entries {
		m, _ := z.Member.(string)
		keys[i] = s.opts.Prefix + ":{" + id + "}:tok:" + m
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, false, s.wrap(err)
	}
	var out []store.Token
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // revoked one by one, or gone with its TTL
		}
		t, err := decodeToken([]byte(str))
		if err != nil {
			return nil, false, err
		}
		if t.Generation == app.Generation && !t.Expired(now) {
			out = append(out, t)
		}
	}
	return out, more, nil
}

// GetUsage returns when the application and its secrets were last used.
func (s *Store) GetUsage(ctx context.Context, id string) (store.Usage, error) {
	m, err := s.GetUsages(ctx, []string{id})
	return m[id], err
}

// GetUsages returns the usage of several applications in one pipelined
// round trip.
func (s *Store) GetUsages(ctx context.Context, ids []string) (map[string]store.Usage, error) {
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.usageKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	out := make(map[string]store.Usage, len(ids))
	for i, id := range ids {
		u := store.Usage{SecretLastUsed: map[string]time.Time{}}
		for k, v := range cmds[i].Val() {
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case k == "app":
				u.LastUsed = fromMS(n)
			case k == "issued":
				u.Issued = n
			case strings.HasPrefix(k, "secret:"):
				u.SecretLastUsed[strings.TrimPrefix(k, "secret:")] = fromMS(n)
			}
		}
		out[id] = u
	}
	return out, nil
}

// ListApplications returns up to limit applications in creation order,
// starting after cursor ("" for the first page), and the cursor of the
// next page ("" when there is none). The cursor is opaque to callers.
func (s *Store) ListApplications(ctx context.Context, cursor string, limit int) ([]store.Application, string, error) {
	min, afterID := "-inf", ""
	if cursor != "" {
		ms, id, ok := strings.Cut(cursor, ":")
		if _, err := strconv.ParseInt(ms, 10, 64); !ok || err != nil {
			return nil, "", fmt.Errorf("%w: malformed cursor", store.ErrInvalid)
		}
		min, afterID = ms, id
	}
	// Ties on the creation millisecond are broken by client_id; fetch a
	// margin beyond limit so ties on the cursor's millisecond cannot
	// starve a page.
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, goredis.ZRangeArgs{
		Key: s.indexKey(), Start: min, Stop: "+inf", ByScore: true, Count: int64(limit) + 64,
	}).Result()
	if err != nil {
		return nil, "", s.wrap(err)
	}
	var ids []string
	var scores []int64
	for _, z := range zs {
		id, _ := z.Member.(string)
		sc := int64(z.Score)
		if cursor != "" && strconv.FormatInt(sc, 10) == min && id <= afterID {
			continue
		}
		ids = append(ids, id)
		scores = append(scores, sc)
		if len(ids) == limit {
			break
		}
	}
	cmds := make([]*goredis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.appKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, "", s.wrap(err)
	}
	out := make([]store.Application, 0, len(ids))
	for _, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, goredis.Nil) {
			continue // deleted between the index read and now
		}
		a, err := decodeApp(b)
		if err != nil {
			return nil, "", err
		}
		out = append(out, a)
	}
	next := ""
	if len(ids) == limit {
		next = strconv.FormatInt(scores[len(scores)-1], 10) + ":" + ids[len(ids)-1]
	}
	return out, next, nil
}

// LookupToken reads the token record, its application, its revocation
// tombstone and, when also is not empty, that application too, in one
// pipelined round trip. The token's keys share a hash slot; on Cluster the
// extra application is fetched from its own node in the same pipeline.
// Whether the token is still good is the caller's decision.
func (s *Store) LookupToken(ctx context.Context, ref store.TokenRef, also string) (store.TokenLookup, error) {
	var tok, app, other *goredis.StringCmd
	var revoked *goredis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		tok = p.Get(ctx, s.tokenKey(ref))
		app = p.Get(ctx, s.appKey(ref.ClientID))
		revoked = p.Exists(ctx, s.revokedKey(ref))
		if also != "" {
			other = p.Get(ctx, s.appKey(also))
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.TokenLookup{}, s.wrap(err)
	}
	var out store.TokenLookup
	out.Revoked = revoked.Val() > 0
	if b, err := tok.Bytes(); err == nil {
		t, err := decodeToken(b)
		if err != nil {
			return store.TokenLookup{}, err
		}
		out.Token = &t
	}
	if out.App, err = s.optionalApp(ref.ClientID, app); err != nil {
		return store.TokenLookup{}, err
	}
	if other != nil {
		if out.Also, err = s.optionalApp(also, other); err != nil {
			return store.TokenLookup{}, err
		}
	}
	return out, nil
}

func (s *Store) optionalApp(id string, cmd *goredis.StringCmd) (*store.Application, error) {
	b, err := cmd.Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	a, err := s.apps.decode(id, b)
	return &a, err
}

// RevokeToken deletes a token's record and, when tombstone > 0, leaves a
// marker for that long so introspection can say "revoked" rather than
// "unknown". Both keys share a slot: one MULTI, one round trip. It reports
// whether a record existed.
func (s *Store) RevokeToken(ctx context.Context, ref store.TokenRef, tombstone time.Duration) (bool, error) {
	var del *goredis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		del = p.Del(ctx, s.tokenKey(ref))
		p.ZRem(ctx, s.tokenIndexKey(ref.ClientID), refHex(ref))
		if tombstone > 0 {
			p.Set(ctx, s.revokedKey(ref), "1", tombstone)
		}
		return nil
	})
	if err != nil {
		return false, s.wrap(err)
	}
	return del.Val() > 0, nil
}

// appRecord is the stored shape of an application. It is separate from
// store.Application so that the domain type can change without breaking
// records already in Redis.
type appRecord struct {
	ClientID    string         `json:"client_id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Scopes      []string       `json:"scopes"`
	LifetimeNS  int64          `json:"lifetime_ns"`
	Allowlist   []string       `json:"ip_allowlist,omitempty"`
	Enabled     bool           `json:"enabled"`
	Secrets     []secretRecord `json:"secrets"`
	Generation  uint64         `json:"gen"`
	CreatedMS   int64          `json:"created_ms"`
	UpdatedMS   int64          `json:"updated_ms"`
}

type secretRecord struct {
	ID        string `json:"id"`
	SHA256    string `json:"sha256"`
	CreatedMS int64  `json:"created_ms"`
	ExpiresMS int64  `json:"expires_ms,omitempty"`
}

func encodeApp(a store.Application) ([]byte, error) {
	r := appRecord{
		ClientID:    a.ClientID,
		Name:        a.Name,
		Description: a.Description,
		Scopes:      a.Scopes,
		LifetimeNS:  int64(a.TokenLifetime),
		Enabled:     a.Enabled,
		Generation:  a.Generation,
		CreatedMS:   ms(a.CreatedAt),
		UpdatedMS:   ms(a.UpdatedAt),
	}
	for _, p := range a.IPAllowlist {
		r.Allowlist = append(r.Allowlist, p.String())
	}
	for _, sec := range a.Secrets {
		r.Secrets = append(r.Secrets, secretRecord{
			ID:        sec.ID,
			SHA256:    hex.EncodeToString(sec.Digest[:]),
			CreatedMS: ms(sec.CreatedAt),
			ExpiresMS: ms(sec.ExpiresAt),
		})
	}
	return json.Marshal(r)
}

func decodeApp(b []byte) (store.Application, error) {
	var r appRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Application{}, fmt.Errorf("corrupt application record: %w", err)
	}
	a := store.Application{
		ClientID:      r.ClientID,
		Name:          r.Name,
		Description:   r.Description,
		Scopes:        r.Scopes,
		TokenLifetime: time.Duration(r.LifetimeNS),
		Enabled:       r.Enabled,
		Generation:    r.Generation,
		CreatedAt:     fromMS(r.CreatedMS),
		UpdatedAt:     fromMS(r.UpdatedMS),
	}
	for _, s := range r.Allowlist {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return store.Application{}, fmt.Errorf("corrupt application record %q: allowlist: %w", r.ClientID, err)
		}
		a.IPAllowlist = append(a.IPAllowlist, p)
	}
	for _, s := range r.Secrets {
		sec := store.Secret{ID: s.ID, CreatedAt: fromMS(s.CreatedMS), ExpiresAt: fromMS(s.ExpiresMS)}
		if n, err := hex.Decode(sec.Digest[:], []byte(s.SHA256)); err != nil || n != len(sec.Digest) {
			return store.Application{}, fmt.Errorf("corrupt application record %q: secret %q digest", r.ClientID, s.ID)
		}
		a.Secrets = append(a.Secrets, sec)
	}
	return a, nil
}

type tokenRecord struct {
	Kind       string   `json:"kind,omitempty"`
	Name       string   `json:"name,omitempty"`
	SecretID   string   `json:"sid,omitempty"`
	ID         string   `json:"jti"`
	ClientID   string   `json:"client_id"`
	Scopes     []string `json:"scopes"`
	IssuedMS   int64    `json:"iat_ms"`
	ExpiresMS  int64    `json:"exp_ms,omitempty"`
	Generation uint64   `json:"gen"`
}

func encodeToken(t store.Token) []byte {
	b, _ := json.Marshal(tokenRecord{ // cannot fail: strings, ints and a string slice
		ID:         t.ID,
		ClientID:   t.ClientID,
		Scopes:     t.Scopes,
		IssuedMS:   ms(t.IssuedAt),
		ExpiresMS:  ms(t.ExpiresAt),
		Generation: t.Generation,
		SecretID:   t.SecretID,
		Kind:       t.Kind,
		Name:       t.Name,
	})
	return b
}

func decodeToken(b []byte) (store.Token, error) {
	var r tokenRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Token{}, fmt.Errorf("corrupt token record: %w", err)
	}
	return store.Token{
		ID:         r.ID,
		ClientID:   r.ClientID,
		Scopes:     r.Scopes,
		IssuedAt:   fromMS(r.IssuedMS),
		ExpiresAt:  fromMS(r.ExpiresMS),
		Generation: r.Generation,
		SecretID:   r.SecretID,
		Kind:       r.Kind,
		Name:       r.Name,
	}, nil
}

// ms and fromMS map the zero time to 0 and back, so "never" survives a
// round trip.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// SetLibraryLogger sends go-redis's own messages (pool dial failures and
// the like) to log as structured lines instead of its default plain-text
// stderr logger. go-redis keeps one logger per process.
func SetLibraryLogger(log *slog.Logger) { goredis.SetLogger(libLogger{log}) }

type libLogger struct{ log *slog.Logger }

func (l libLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.LogAttrs(ctx, slog.LevelWarn, "redis client", slog.String("detail", fmt.Sprintf(format, v...)))
}
