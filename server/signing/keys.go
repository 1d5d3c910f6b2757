package signing

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/oauthd/oauthd/store"
)

// Algorithms oauthd signs with: Ed25519 by default, ES256 and RS256 for
// resource servers whose libraries lack EdDSA.
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	RS256 = "RS256"
)

// KeyStore persists sealed keys (store/redis implements it).
type KeyStore interface {
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
	// AddSigningKey stores k and sets the retirement times of the keys
	// named in retire, in one step.
	AddSigningKey(ctx context.Context, k store.SigningKey, retire map[string]time.Time) error
}

// Key is one unsealed signing key.
type Key struct {
	ID        string
	Alg       string
	Private   crypto.Signer
	CreatedAt time.Time
	// ActiveAt is when it starts signing; it is published before.
	ActiveAt time.Time
	// RetireAt is when it stops being published; zero while it may still
	// sign.
	RetireAt time.Time
}

// Ring is the set of keys every replica shares, reloaded from the store.
// It is safe for concurrent use.
type Ring struct {
	store KeyStore
	seal  func(context.Context) ([]byte, error)
	alg   string
	now   func() time.Time

	mu   sync.RWMutex
	aead cipher.AEAD // set by the first Load that reaches the store
	keys []Key       // by ActiveAt, oldest first

	// misses runs the reloads for unknown kids one at a time, each shared
	// by the verifications that ask meanwhile.
	misses   singleflight.Group
	lastMiss time.Time // the last such reload; touched only inside misses
}

// missReloadEvery bounds the reloads that tokens of unknown kids cause, so
// made-up kids cannot turn into a read of the store per request.
const missReloadEvery = time.Second

// missReloadTimeout bounds one reload for an unknown kid. The reload is
// shared, so no single caller's context may end it.
const missReloadTimeout = 2 * time.Second

// reloadForUnknown reloads the ring for a kid it does not know: another
// replica may have rotated (or signed with a next key, see signerFor)
// before this one's periodic reload. Concurrent callers share one reload,
// and one is made at most once per missReloadEvery; each caller waits for
// it only as long as its ctx allows. Callers look the kid up again either
// way, since the shared reload may have been another caller's.
func (r *Ring) reloadForUnknown(ctx context.Context) {
	done := r.misses.DoChan("", func() (any, error) {
		now := r.now()
		if now.Sub(r.lastMiss) < missReloadEvery {
			return nil, nil
		}
		r.lastMiss = now
		lctx, cancel := context.WithTimeout(context.Background(), missReloadTimeout)
		defer cancel()
		return nil, r.Load(lctx) // a failure leaves the ring as it was: the kid stays unknown
	})
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// SealWith is a fixed sealing key, for NewRing.
func SealWith(key []byte) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return key, nil }
}

// NewRing returns a ring on st whose keys are sealed with the key seal
// returns (32 bytes, AES-256-GCM; asked once, on the first Load, so it may
// come from the store too) and which makes alg keys. It holds no key until
// Load or Ensure succeeds: Sign then says so as store.ErrUnavailable.
func NewRing(st KeyStore, seal func(context.Context) ([]byte, error), alg string, now func() time.Time) (*Ring, error) {
	if !slices.Contains([]string{EdDSA, ES256, RS256}, alg) {
		return nil, fmt.Errorf("signing: algorithm %q: use EdDSA, ES256 or RS256", alg)
	}
	if now == nil {
		now = time.Now
	}
	return &Ring{store: st, seal: seal, alg: alg, now: now}, nil
}

func (r *Ring) cipher(ctx context.Context) (cipher.AEAD, error) {
	r.mu.RLock()
	aead := r.aead
	r.mu.RUnlock()
	if aead != nil {
		return aead, nil
	}
	key, err := r.seal(ctx)
	if err != nil {
		return nil, err
	}
	if aead, err = sealer(key); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.aead = aead
	r.mu.Unlock()
	return aead, nil
}

// sealer is AES-256-GCM under a 32-byte sealing key.
func sealer(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("signing: the sealing key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Reseal opens every key with the sealing key from and seals it with to,
// keeping all else (id, algorithm, times): the store's ResealSigningKeys
// writes the result, moving the keys to a new sealing key. A key that does
// not open with from is an error naming it, and nothing is resealed: a
// partial move would lose that key.
func Reseal(keys []store.SigningKey, from, to []byte) ([]store.SigningKey, error) {
	open, err := sealer(from)
	if err != nil {
		return nil, fmt.Errorf("the current sealing key: %w", err)
	}
	shut, err := sealer(to)
	if err != nil {
		return nil, fmt.Errorf("the new sealing key: %w", err)
	}
	out := make([]store.SigningKey, 0, len(keys))
	for _, s := range keys {
		k, err := unseal(open, s)
		if err != nil {
			return nil, err
		}
		resealed, err := seal(shut, k)
		if err != nil {
			return nil, fmt.Errorf("signing key %q: %w", s.ID, err)
		}
		out = append(out, resealed)
	}
	return out, nil
}

// Load reads the keys from the store. A key that does not unseal (sealed
// under another sealing key) is an error naming it: signing with a
// partial ring would publish keys nobody can use.
func (r *Ring) Load(ctx context.Context) error {
	aead, err := r.cipher(ctx)
	if err != nil {
		return err
	}
	sealed, err := r.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	keys := make([]Key, 0, len(sealed))
	for _, s := range sealed {
		k, err := unseal(aead, s)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int { return a.ActiveAt.Compare(b.ActiveAt) })
	r.mu.Lock()
	r.keys = keys
	r.mu.Unlock()
	return nil
}

// Ensure makes a first key, active at once, when the store has none.
func (r *Ring) Ensure(ctx context.Context) error {
	if err := r.Load(ctx); err != nil {
		return err
	}
	if _, ok := r.Current(); ok {
		return nil
	}
	if _, err := r.add(ctx, r.now(), nil); err != nil {
		return err
	}
	return r.Load(ctx)
}

// Rotate makes a new key that is published at once and signs from
// publishFor on, and retires every key that signs now at that instant
// plus maxLifetime: by then every token it signed has expired.
func (r *Ring) Rotate(ctx context.Context, publishFor, maxLifetime time.Duration) (Key, error) {
	if err := r.Load(ctx); err != nil {
		return Key{}, err
	}
	now := r.now()
	activeAt := now.Add(publishFor)
	retire := map[string]time.Time{}
	r.mu.RLock()
	for _, k := range r.keys {
		if k.RetireAt.IsZero() {
			retire[k.ID] = activeAt.Add(maxLifetime)
		}
	}
	r.mu.RUnlock()
	k, err := r.add(ctx, activeAt, retire)
	if err != nil {
		return Key{}, err
	}
	return k, r.Load(ctx)
}

func (r *Ring) add(ctx context.Context, activeAt time.Time, retire map[string]time.Time) (Key, error) {
	priv, err := generate(r.alg)
	if err != nil {
		return Key{}, err
	}
	aead, err := r.cipher(ctx)
	if err != nil {
		return Key{}, err
	}
	now := r.now().UTC().Truncate(time.Second)
	k := Key{ID: strings.ToLower(rand.Text())[:16], Alg: r.alg, Private: priv, CreatedAt: now, ActiveAt: activeAt.UTC().Truncate(time.Second)}
	sealed, err := seal(aead, k)
	if err != nil {
		return Key{}, err
	}
	return k, r.store.AddSigningKey(ctx, sealed, retire)
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	default:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
}

// Run reloads the ring every interval until ctx ends, so a key another
// replica (or the CLI) added is known here before it starts signing: keep
// interval well under the publish delay.
func (r *Ring) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Load(ctx); err != nil && ctx.Err() == nil && onError != nil {
				onError(err)
			}
		}
	}
}

// Current is the key that signs now: the newest whose ActiveAt has come.
func (r *Ring) Current() (Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if i := r.currentLocked(r.now()); i >= 0 {
		return r.keys[i], true
	}
	return Key{}, false
}

// currentLocked is the index of the key that signs at now, or -1; r.mu
// is held.
func (r *Ring) currentLocked(now time.Time) int {
	for i := len(r.keys) - 1; i >= 0; i-- {
		if !now.Before(r.keys[i].ActiveAt) {
			return i
		}
	}
	return -1
}

// signerFor is the key to sign a token expiring at exp: the current key,
// unless it retires before exp. A rotation retires the current key after
// the longest JWT lifetime it saw; an application given a longer lifetime
// (or switched to JWTs) before the next key starts signing would otherwise
// get tokens that outlive their key, refused everywhere once it retires.
// Such a token is signed by the next key instead: it is published already,
// if for less than the publish delay, and a verifier that has not fetched
// it yet refetches the JWKS or asks oauthd (the resource-server package
// does both), so the token is never refused. A key never signs a token
// that outlives it, while a later one could.
func (r *Ring) signerFor(exp time.Time) (Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	cur := r.currentLocked(r.now())
	if cur < 0 {
		return Key{}, false
	}
	outlives := func(k Key) bool { return !k.RetireAt.IsZero() && exp.After(k.RetireAt) }
	if !outlives(r.keys[cur]) {
		return r.keys[cur], true
	}
	for _, k := range r.keys[cur+1:] {
		if !outlives(k) {
			return k, true
		}
	}
	return r.keys[cur], true
}

// Published lists the keys a verifier must know: every key not yet
// retired, the next one included.
func (r *Ring) Published() []Key {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Key
	for _, k := range r.keys {
		if k.RetireAt.IsZero() || now.Before(k.RetireAt) {
			out = append(out, k)
		}
	}
	return out
}

func (r *Ring) byID(kid string) (Key, bool) {
	for _, k := range r.Published() {
		if k.ID == kid {
			return k, true
		}
	}
	return Key{}, false
}

// seal encrypts the key's PKCS #8 form; the kid is the additional data,
// so a sealed key cannot be passed off under another id.
func seal(aead cipher.AEAD, k Key) (store.SigningKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return store.SigningKey{}, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return store.SigningKey{
		ID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt, ActiveAt: k.ActiveAt, RetireAt: k.RetireAt,
		Sealed: aead.Seal(nonce, nonce, der, []byte(k.ID)),
	}, nil
}

// ErrSealed is a key sealed under another sealing key.
var ErrSealed = errors.New("signing key does not open with this sealing key (jwt.sealing_key_file or jwt.sealing_key): is it the one the keys were sealed with?")

func unseal(aead cipher.AEAD, s store.SigningKey) (Key, error) {
	n := aead.NonceSize()
	if len(s.Sealed) < n {
		return Key{}, fmt.Errorf("signing key %q: %w", s.ID, ErrSealed)
	}
	der, err := aead.Open(nil, s.Sealed[:n], s.Sealed[n:], []byte(s.ID))
	if err != nil {
		return Key{}, fmt.Errorf("signing key %q: %w", s.ID, ErrSealed)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return Key{}, fmt.Errorf("signing key %q: %w", s.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return Key{}, fmt.Errorf("signing key %q: not a signing key", s.ID)
	}
	return Key{ID: s.ID, Alg: s.Alg, Private: signer, CreatedAt: s.CreatedAt, ActiveAt: s.ActiveAt, RetireAt: s.RetireAt}, nil
}
