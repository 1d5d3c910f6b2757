package signing

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"sync"
)

// Sealer seals and opens the client secrets of client_secret_jwt
// applications (store.Secret.Sealed) with the deployment's sealing key, the
// one that seals the JWT signing keys: an HMAC client assertion is checked
// with the secret itself, so it cannot be kept as a digest only, and a copy
// of Redis must still not reveal it. The apps service seals a new secret
// with Seal; server/clientauth opens it with Unseal (its Config.Unseal).
type Sealer struct {
	key func(context.Context) ([]byte, error)

	mu   sync.Mutex
	aead cipher.AEAD
}

// secretAD is the additional data of a sealed client secret: a signing key
// (sealed with its kid as additional data) cannot be passed off as a client
// secret, nor the other way round.
var secretAD = []byte("oauthd client secret")

// ErrNoSealingKey is a sealer without a sealing key: client_secret_jwt
// needs jwt.sealing_key_file or jwt.sealing_key.
var ErrNoSealingKey = errors.New("no sealing key is configured (jwt.sealing_key_file or jwt.sealing_key): client_secret_jwt secrets cannot be sealed or opened")

// NewSealer seals with the 32-byte key key returns (asked once, on first
// use, as NewRing asks seal). A nil key makes a Sealer that refuses both
// ways with ErrNoSealingKey.
func NewSealer(key func(context.Context) ([]byte, error)) *Sealer {
	return &Sealer{key: key}
}

func (s *Sealer) cipher(ctx context.Context) (cipher.AEAD, error) {
	if s == nil || s.key == nil {
		return nil, ErrNoSealingKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aead != nil {
		return s.aead, nil
	}
	key, err := s.key(ctx)
	if err != nil {
		return nil, err
	}
	if s.aead, err = sealer(key); err != nil {
		return nil, err
	}
	return s.aead, nil
}

// Seal encrypts plain (AES-256-GCM, a random nonce in front).
func (s *Sealer) Seal(ctx context.Context, plain []byte) ([]byte, error) {
	aead, err := s.cipher(ctx)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return aead.Seal(nonce, nonce, plain, secretAD), nil
}

// ErrUnseal is a sealed secret that does not open: sealed under another
// sealing key, or damaged.
var ErrUnseal = errors.New("sealed client secret does not open with this sealing key")

// Unseal opens what Seal sealed.
func (s *Sealer) Unseal(ctx context.Context, sealed []byte) ([]byte, error) {
	aead, err := s.cipher(ctx)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, ErrUnseal
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], secretAD)
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}
