package clientauth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// algEd25519 is RFC 9864's fully specified name for EdDSA with Ed25519.
// go-jose 4.1 parses only "EdDSA", so an assertion naming "Ed25519" is
// parsed and checked here: the signature is the same Ed25519 signature
// over the JWS signing input (RFC 8037 §3.1).
const algEd25519 = "Ed25519"

// isEdDSA reports whether alg names EdDSA with an Ed25519 key.
func isEdDSA(alg string) bool { return alg == "EdDSA" || alg == algEd25519 }

// edSigned is what an "Ed25519" assertion's signature covers, and the
// signature.
type edSigned struct {
	input []byte // base64url(header) "." base64url(payload)
	sig   []byte
}

// headerAlg is the alg of a compact JWS's protected header, "" when it
// cannot be read (ParseAssertion's general path then says why).
func headerAlg(raw string) string {
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &hdr) != nil {
		return ""
	}
	return hdr.Alg
}

// parseEd25519 is ParseAssertion for an assertion whose alg is
// "Ed25519": the compact serialization's three parts, a header with no
// crit (no extension is understood), the claims, a 64-byte signature.
func parseEd25519(raw string) (*Assertion, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, refuse("client_assertion is not a signed JWT in compact serialization")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || len(sig) != ed25519.SignatureSize {
		return nil, refuse("client_assertion is not a signed JWT in compact serialization")
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != algEd25519 {
		return nil, refuse("client_assertion is not a signed JWT in compact serialization")
	}
	if hdr.Crit != nil {
		return nil, refuse("client_assertion header names critical extensions oauthd does not understand")
	}
	ed := &edSigned{input: []byte(parts[0] + "." + parts[1]), sig: sig}
	return newAssertion(raw, payload, hdr.Alg, hdr.Kid, nil, ed)
}

// verify reports whether a's signature verifies with key.
func (a *Assertion) verify(key any) bool {
	if a.ed != nil {
		pub, ok := key.(ed25519.PublicKey)
		return ok && ed25519.Verify(pub, a.ed.input, a.ed.sig)
	}
	if a.jws == nil {
		return false
	}
	_, err := a.jws.Verify(key)
	return err == nil
}
