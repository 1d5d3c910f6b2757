package signing

import (
	"context"
	"crypto/rand"
	"errors"
)

// Secrets a client_secret_jwt application authenticates with are checked
// as HMAC keys (RFC 7523 §2.2 with HS256), so the server needs the secret
// itself, not its digest: it is kept sealed (store.Secret.Sealed) with the
// deployment's sealing key, the key that seals the JWT signing keys, so a
// copy of Redis holds nothing that opens it either.

// secretLabel is the additional data of every sealed client secret: a
// sealed secret never opens as a signing key (sealed with its id as the
// additional data) or the other way round.
var secretLabel = []byte("oauthd client_secret_jwt secret v1")

// ErrSecretSealed is a client secret sealed under another sealing key, or
// damaged.
var ErrSecretSealed = errors.New("client secret does not open with this sealing key (jwt.sealing_key_file or jwt.sealing_key): is it the one the secret was sealed with? Reset the application's secret")

// SealSecret seals plain (a client secret) with the sealing key key
// returns (32 bytes, as for NewRing): nonce || AES-256-GCM ciphertext.
func SealSecret(ctx context.Context, key func(context.Context) ([]byte, error), plain []byte) ([]byte, error) {
	k, err := key(ctx)
	if err != nil {
		return nil, err
	}
	aead, err := sealer(k)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return aead.Seal(nonce, nonce, plain, secretLabel), nil
}

// OpenSecret is SealSecret's inverse; a secret that does not open is
// ErrSecretSealed.
func OpenSecret(ctx context.Context, key func(context.Context) ([]byte, error), sealed []byte) ([]byte, error) {
	k, err := key(ctx)
	if err != nil {
		return nil, err
	}
	aead, err := sealer(k)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrSecretSealed
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], secretLabel)
	if err != nil {
		return nil, ErrSecretSealed
	}
	return plain, nil
}

// SealSecret seals a client secret with the ring's sealing key: the
// deployment's, as every replica and the CLI have it (for
// apps.Options.Seal).
func (r *Ring) SealSecret(ctx context.Context, plain []byte) ([]byte, error) {
	return SealSecret(ctx, r.seal, plain)
}

// OpenSecret opens a client secret SealSecret sealed (for the
// client_secret_jwt verifier's Unseal).
func (r *Ring) OpenSecret(ctx context.Context, sealed []byte) ([]byte, error) {
	return OpenSecret(ctx, r.seal, sealed)
}
