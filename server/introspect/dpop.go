package introspect

import "github.com/oauthd/oauthd/server/dpop"

// DPoP proofs (RFC 9449 §4) are parsed by package dpop, whose parser the
// token endpoint uses too, so that both read a proof alike; this package
// checks the claims against the request (dpopcheck.go).

// DPoP algorithms: asymmetric only (RFC 9449 §4.2: never none, never a
// MAC, which would need a secret the resource server shares with the
// client).
const (
	algES256 = "ES256"
	algEdDSA = "EdDSA"
	// algEd25519 is RFC 9864's fully-specified name for EdDSA with an
	// Ed25519 key, which clients such as oauth4webapi 3.8 put in their
	// proofs instead of "EdDSA": the same key, signature and thumbprint.
	algEd25519 = "Ed25519"
	algRS256   = "RS256"
	algPS256   = "PS256"
)

// dpopAlgorithms lists the proof algorithms the package accepts, in the
// order its challenges name them.
var dpopAlgorithms = []string{algES256, algEdDSA, algEd25519, algRS256, algPS256}

// DPoPAlgorithms returns the proof algorithms the package supports, which
// Config.DPoPAlgorithms may narrow.
func DPoPAlgorithms() []string { return append([]string(nil), dpopAlgorithms...) }

// proofHeadCacheSize bounds the cache of checked proof headers: one per
// client key in use at once.
const proofHeadCacheSize = 1024

// proof is a parsed proof (package dpop, the one parser the token
// endpoint uses too), whose signature is checked by Verify once the
// cheaper checks have passed.
type proof = dpop.Parsed

// parseProof reads a compact JWS as a DPoP proof: its syntax, header, key
// and claims' presence.
func (c *Client) parseProof(s string) (proof, refusal) {
	p, f := c.proofs.Parse(s)
	return p, proofRefusal(f)
}

// proofRefusal is the refusal for one of dpop.Parse's faults.
func proofRefusal(f dpop.Fault) refusal {
	switch f {
	case dpop.FaultNone:
		return refNone
	case dpop.FaultType:
		return refProofType
	case dpop.FaultAlg:
		return refProofAlg
	case dpop.FaultNoKey, dpop.FaultPrivateKey, dpop.FaultKey:
		return refProofKey
	case dpop.FaultJTI, dpop.FaultHTM, dpop.FaultHTU, dpop.FaultIAT:
		return refProofClaims
	}
	// The syntax, the header's or payload's encoding, crit, and any
	// fault added later.
	return refProofMalformed
}
