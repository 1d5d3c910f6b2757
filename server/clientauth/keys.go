package clientauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/oauthd/oauthd/store"
)

// keySet is a parsed JWK Set: the public signing keys oauthd can use.
type keySet struct {
	keys []jose.JSONWebKey
	// unusable says why a key of the set was skipped, by kid, so that a
	// refusal names the real cause (a short RSA key, say).
	unusable map[string]string
}

// parseKeySet parses a JWK Set. strict (an operator registering keys)
// refuses any key oauthd cannot use; otherwise (a fetched set, or one
// stored before) such keys are skipped, as RFC 7517 §5 asks, so a
// publisher that adds a P-384 or encryption key does not lock out the
// keys oauthd can use.
func parseKeySet(raw []byte, strict bool) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, errors.New("not a JWK Set (a JSON object with a \"keys\" array)")
	}
	if doc.Keys == nil {
		return nil, errors.New("not a JWK Set: no \"keys\" array")
	}
	ks := &keySet{}
	kids := map[string]bool{}
	for i, rawKey := range doc.Keys {
		k, err := parseKey(rawKey)
		if err != nil {
			if strict {
				return nil, fmt.Errorf("key %d: %v", i, err)
			}
			var id struct {
				Kid string `json:"kid"`
			}
			if json.Unmarshal(rawKey, &id) == nil && id.Kid != "" {
				if ks.unusable == nil {
					ks.unusable = map[string]string{}
				}
				ks.unusable[id.Kid] = err.Error()
			}
			continue
		}
		if strict && k.KeyID != "" {
			if kids[k.KeyID] {
				return nil, fmt.Errorf("key %d: kid %q is used twice", i, truncate(k.KeyID, 64))
			}
			kids[k.KeyID] = true
		}
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

// parseKey parses one JWK and checks oauthd can verify signatures with it.
func parseKey(raw []byte) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		if errors.Is(err, jose.ErrUnsupportedKeyType) {
			return k, errors.New("unsupported key type (use RSA, EC P-256 or OKP Ed25519)")
		}
		// go-jose's messages name the JWK member at fault, never key
		// material.
		return k, fmt.Errorf("invalid JWK: %s", strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	if !k.IsPublic() {
		return k, errors.New("a private or symmetric key: register the public key only")
	}
	if k.Use != "" && k.Use != "sig" {
		return k, fmt.Errorf("use %q is not \"sig\"", truncate(k.Use, 16))
	}
	switch pub := k.Key.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return k, fmt.Errorf("EC curve %s is not supported (use P-256 with ES256)", pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if n := pub.N.BitLen(); n < MinRSABits {
			return k, fmt.Errorf("RSA key of %d bits is under %d", n, MinRSABits)
		}
	default:
		return k, errors.New("unsupported key type (use RSA, EC P-256 or OKP Ed25519)")
	}
	if k.Algorithm != "" {
		if !slices.Contains(SigningAlgorithms, k.Algorithm) {
			return k, fmt.Errorf("alg %q is not supported (use one of %v)", truncate(k.Algorithm, 16), SigningAlgorithms)
		}
		if !fits(k, k.Algorithm) {
			return k, fmt.Errorf("alg %s does not fit the key type", k.Algorithm)
		}
	}
	return k, nil
}

// fits reports whether key k can verify alg: the key type matches the
// algorithm, and the JWK's own alg, when set, is alg (RFC 7517 §4.4).
func fits(k jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg && !(isEdDSA(k.Algorithm) && isEdDSA(alg)) {
		return false
	}
	switch pub := k.Key.(type) {
	case ed25519.PublicKey:
		return isEdDSA(alg)
	case *ecdsa.PublicKey:
		return alg == "ES256" && pub.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return (alg == "RS256" || alg == "PS256") && pub.N.BitLen() >= MinRSABits
	}
	return false
}

// ValidateJWKS checks a JWK Set an operator registers for an application
// of the given method (private_key_jwt or self_signed_tls_client_auth):
// at most MaxJWKSBytes and MaxJWKSKeys keys, at least one; public keys
// only (no private or symmetric key); RSA of at least 2048 bits, EC P-256
// or Ed25519; alg, when set, one of SigningAlgorithms and fitting the key;
// use, when set, "sig"; no kid twice; x5c, when present, a certificate
// chain whose leaf holds the key; for self_signed_tls_client_auth at
// least one key with x5c. It returns the set re-encoded compactly, with
// only the members oauthd understands.
func ValidateJWKS(raw []byte, method string) ([]byte, error) {
	if method != store.AuthPrivateKeyJWT && method != store.AuthSelfSignedTLS {
		return nil, fmt.Errorf("a jwks is for %s or %s, not %s", store.AuthPrivateKeyJWT, store.AuthSelfSignedTLS, methodName(method))
	}
	if len(raw) > MaxJWKSBytes {
		return nil, fmt.Errorf("jwks is %d bytes, over the limit of %d", len(raw), MaxJWKSBytes)
	}
	ks, err := parseKeySet(raw, true)
	if err != nil {
		return nil, fmt.Errorf("jwks: %v", err)
	}
	switch n := len(ks.keys); {
	case n == 0:
		return nil, errors.New("jwks holds no key")
	case n > MaxJWKSKeys:
		return nil, fmt.Errorf("jwks holds %d keys, over the limit of %d", n, MaxJWKSKeys)
	}
	if method == store.AuthSelfSignedTLS && !slices.ContainsFunc(ks.keys, func(k jose.JSONWebKey) bool { return len(k.Certificates) > 0 }) {
		return nil, errors.New("jwks: self_signed_tls_client_auth needs a key with its certificate in x5c")
	}
	out, err := json.Marshal(jose.JSONWebKeySet{Keys: ks.keys})
	if err != nil {
		return nil, fmt.Errorf("jwks: %v", err)
	}
	return out, nil
}

// inlineKeys parses an application's inline JWKS, once per distinct
// content: the cache is keyed by its digest, so an updated set is parsed
// afresh and an old one ages out of the LRU.
func (v *Verifier) inlineKeys(raw []byte) (*keySet, error) {
	if len(raw) == 0 {
		return nil, refuse("application has no registered keys (no jwks, no jwks_uri)")
	}
	sum := sha256.Sum256(raw)
	if ks, ok := v.inline.Get(sum); ok {
		return ks, nil
	}
	ks, err := parseKeySet(raw, false)
	if err != nil {
		return nil, refuse("application's jwks: %v", err)
	}
	v.inline.Add(sum, ks)
	return ks, nil
}

// candidates are the keys of ks that may have signed a: with a's kid when
// it has one, else every key; and fitting a's alg.
func candidates(ks *keySet, a *Assertion) (keys []jose.JSONWebKey, kidKnown bool) {
	for _, k := range ks.keys {
		if a.KeyID != "" && k.KeyID != a.KeyID {
			continue
		}
		kidKnown = true
		if fits(k, a.Algorithm) {
			keys = append(keys, k)
		}
	}
	return keys, kidKnown
}

// errUnknownKid tells verifyRemote a fresher key set may help.
var errUnknownKid = errors.New("unknown kid")

// verifyWith checks a's signature with the keys of ks.
func verifyWith(a *Assertion, ks *keySet) error {
	keys, kidKnown := candidates(ks, a)
	if a.KeyID != "" && !kidKnown {
		if why, ok := ks.unusable[a.KeyID]; ok {
			return refuse("the registered key with kid %q is unusable: %s", truncate(a.KeyID, 64), why)
		}
		return &kidError{kid: a.KeyID}
	}
	if len(keys) == 0 {
		return refuse("no registered key fits alg %s%s", a.Algorithm, kidNote(a.KeyID))
	}
	for _, k := range keys {
		if a.verify(k.Key) {
			return nil
		}
	}
	return refuse("assertion signature does not verify with any registered key%s", kidNote(a.KeyID))
}

// kidError is the refusal for a kid no registered key has; it unwraps to
// errUnknownKid so a remote key set is fetched again.
type kidError struct{ kid string }

func (e *kidError) Error() string {
	return fmt.Sprintf("no registered key matches kid %q", truncate(e.kid, 64))
}
func (e *kidError) Unwrap() error { return errUnknownKid }

func kidNote(kid string) string {
	if kid == "" {
		return ""
	}
	return fmt.Sprintf(" (kid %q)", truncate(kid, 64))
}

// asError turns a kidError into the *Error callers see.
func asError(err error) error {
	var ke *kidError
	if errors.As(err, &ke) {
		return refuse("%s", ke.Error())
	}
	return err
}

// verifyHMAC checks a client_secret_jwt assertion with each active secret
// of the application, unsealed. HMAC verification compares in constant
// time, and every secret is tried, so timing tells nothing about which.
func (v *Verifier) verifyHMAC(ctx context.Context, app *store.Application, a *Assertion) error {
	if v.cfg.Unseal == nil {
		return refuse("client_secret_jwt is not available: no sealing key configured")
	}
	now := v.cfg.Now()
	tried := 0
	var unsealErr error
	for _, s := range app.Secrets {
		if len(s.Sealed) == 0 || !s.Active(now) {
			continue
		}
		key, err := v.unseal(ctx, s.Sealed)
		if err != nil {
			unsealErr = err
			continue
		}
		tried++
		if a.verify(key) {
			return nil
		}
	}
	switch {
	case tried > 0:
		return refuse("assertion signature does not verify with any active secret of the application")
	case unsealErr != nil:
		return refuse("the application's secrets cannot be unsealed (sealing key changed?)")
	}
	return refuse("application has no active secret usable for client_secret_jwt (a secret made before the method was set is not sealed: issue a new one)")
}

// unseal opens a sealed secret, cached by the sealed bytes' digest for
// secretCacheTTL: the plaintext stays in this process's memory about a
// minute after its last use instead of an AES-GCM open per request. A
// new or rotated secret has other sealed bytes, so it is never stale.
func (v *Verifier) unseal(ctx context.Context, sealed []byte) ([]byte, error) {
	sum := sha256.Sum256(sealed)
	if key, ok := v.secrets.Get(sum); ok {
		return key, nil
	}
	key, err := v.cfg.Unseal(ctx, sealed)
	if err != nil {
		return nil, err
	}
	v.secrets.Add(sum, bytes.Clone(key))
	return key, nil
}
