package introspect

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"math/big"
	"strings"

	"github.com/go-jose/go-jose/v4/json"
)

// DPoP proofs (RFC 9449 §4).
//
// A proof is checked on every request that presents a DPoP-bound token, so
// this file parses it itself instead of through go-jose's general JWS
// code: a proof has one fixed shape (one signature, the key in the header,
// five claims), and go-jose's header maps and JWK re-encoding cost about
// 180 allocations a proof where this costs a few dozen, beside the one
// signature verification that dominates either way. The JSON is decoded
// with go-jose's fork of encoding/json, whose member names are
// case-sensitive as JOSE's are (encoding/json would take "ALG" for "alg").
// The tests check this code against proofs go-jose signs.

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

// Bounds on a proof's parts, so that a hostile one costs little.
const (
	maxProofLen = 8 << 10
	maxJTILen   = 256
	// RSA keys: at least 2048 bits (RFC 7518 §3.3), at most 8192, since
	// verification time grows with the modulus.
	minRSABits = 2048
	maxRSABits = 8192
)

// proofHeader is a proof's JOSE header. Members absent from it are
// ignored, as RFC 7515 §4 says, except crit: a proof naming a critical
// extension is refused, since none is understood here.
type proofHeader struct {
	Typ  string          `json:"typ"`
	Alg  string          `json:"alg"`
	JWK  *proofJWK       `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

// proofJWK is the public key a proof carries. The private and symmetric
// members are decoded only to see whether they are there: a key holding
// any is refused (RFC 9449 §4.2: "MUST NOT contain a private key").
type proofJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`

	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	Oth json.RawMessage `json:"oth"`
	K   json.RawMessage `json:"k"`
}

func (k *proofJWK) private() bool {
	return k.D != nil || k.P != nil || k.Q != nil || k.DP != nil || k.DQ != nil || k.QI != nil || k.Oth != nil || k.K != nil
}

// proofClaims are a proof's claims (RFC 9449 §4.2). IAT is NaN until
// decoded, to tell a missing iat from zero without a pointer.
type proofClaims struct {
	JTI   string  `json:"jti"`
	HTM   string  `json:"htm"`
	HTU   string  `json:"htu"`
	IAT   float64 `json:"iat"`
	ATH   string  `json:"ath"`
	Nonce string  `json:"nonce"`
}

// proofHead is what a proof's header says, once checked: its algorithm,
// its key and the key's thumbprint. A client sends the same header with
// every proof, so heads are cached by the header's encoded form
// (Client.heads), which spares each of its requests decoding the header
// and the key again.
type proofHead struct {
	alg string
	key crypto.PublicKey
	jkt [sha256.Size]byte // the key's RFC 7638 thumbprint
}

// proofHeadCacheSize bounds the cache of checked headers: one per
// client key in use at once.
const proofHeadCacheSize = 1024

// proof is a parsed proof whose signature is not checked yet.
type proof struct {
	*proofHead
	claims proofClaims
	input  []byte // the JWS signing input: header.payload
	sig    []byte
}

// b64 is base64url without padding (RFC 7515 §2), strict: a value with
// stray bits has one spelling only, so the thumbprint computed from the
// member as sent is the key's.
var b64 = base64.RawURLEncoding.Strict()

// parseProof reads a compact JWS as a DPoP proof: its syntax, header, key
// and claims. The signature is checked by verify, once the cheaper checks
// have passed.
func (c *Client) parseProof(s string) (proof, refusal) {
	if len(s) > maxProofLen || strings.Count(s, ".") != 2 {
		return proof{}, refProofMalformed
	}
	dot1 := strings.IndexByte(s, '.')
	dot2 := strings.LastIndexByte(s, '.')
	h64 := s[:dot1]
	// An empty signature is alg none's: refused for its alg.
	if dot1 == 0 || dot2 == dot1+1 {
		return proof{}, refProofMalformed
	}
	head, ok := c.heads.Get(h64)
	if !ok {
		var ref refusal
		if head, ref = parseProofHead(h64, c.dpopAlgs); ref != refNone {
			return proof{}, ref
		}
		// A copy: the key must not hold on to the whole proof.
		c.heads.Add(strings.Clone(h64), head)
	}
	raw := []byte(s[:dot2])
	p64, s64 := raw[dot1+1:], s[dot2+1:]
	buf := make([]byte, b64.DecodedLen(len(p64))+b64.DecodedLen(len(s64)))
	n, err := b64.Decode(buf, p64)
	if err != nil {
		return proof{}, refProofMalformed
	}
	payload, sigBuf := buf[:n:n], buf[n:]
	m, err := b64.Decode(sigBuf, []byte(s64))
	if err != nil {
		return proof{}, refProofMalformed
	}
	p := proof{proofHead: head, input: raw, sig: sigBuf[:m]}
	p.claims.IAT = math.NaN()
	if json.Unmarshal(payload, &p.claims) != nil {
		return proof{}, refProofMalformed
	}
	cl := &p.claims
	if cl.JTI == "" || len(cl.JTI) > maxJTILen || cl.HTM == "" || cl.HTU == "" || math.IsNaN(cl.IAT) {
		return proof{}, refProofClaims
	}
	return p, refNone
}

// parseProofHead checks a proof's encoded header: its typ, an accepted
// alg, no critical extension, and a public key that suits the alg.
func parseProofHead(h64 string, algs []string) (*proofHead, refusal) {
	header, err := b64.DecodeString(h64)
	if err != nil {
		return nil, refProofMalformed
	}
	var h proofHeader
	if json.Unmarshal(header, &h) != nil {
		return nil, refProofMalformed
	}
	if !strings.EqualFold(h.Typ, "dpop+jwt") && !strings.EqualFold(h.Typ, "application/dpop+jwt") {
		return nil, refProofType
	}
	if !contains(algs, h.Alg) {
		return nil, refProofAlg
	}
	if h.Crit != nil {
		return nil, refProofMalformed
	}
	if h.JWK == nil || h.JWK.private() {
		return nil, refProofKey
	}
	head := &proofHead{alg: h.Alg}
	var ref refusal
	if head.key, ref = publicKey(h.Alg, h.JWK, &head.jkt); ref != refNone {
		return nil, ref
	}
	return head, refNone
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// publicKey makes the key of jwk for alg, and writes its RFC 7638
// thumbprint to jkt: the SHA-256 of the required members, in lexical
// order, without white space. The members are used as sent, which the
// strict decoding and the length checks make their one canonical spelling
// (RFC 7518 §6: coordinates of the curve's full length, RSA integers
// without leading zeros).
func publicKey(alg string, k *proofJWK, jkt *[sha256.Size]byte) (crypto.PublicKey, refusal) {
	var buf [64 + maxRSABits/6 + 2 + 8]byte // the longest: an RSA key's
	tp := buf[:0]
	switch alg {
	case algES256:
		if k.Kty != "EC" || k.Crv != "P-256" {
			return nil, refProofKey
		}
		var point [65]byte
		point[0] = 4 // uncompressed (SEC 1 §2.3.3)
		if !decodeExact(point[1:33], k.X) || !decodeExact(point[33:], k.Y) {
			return nil, refProofKey
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
		if err != nil {
			return nil, refProofKey
		}
		tp = append(tp, `{"crv":"P-256","kty":"EC","x":"`...)
		tp = append(tp, k.X...)
		tp = append(tp, `","y":"`...)
		tp = append(tp, k.Y...)
		tp = append(tp, `"}`...)
		*jkt = sha256.Sum256(tp)
		return pub, 0
	case algEdDSA, algEd25519:
		// RFC 8037 §2: an OKP key; Ed25519 is the only curve taken.
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			return nil, refProofKey
		}
		pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
		if !decodeExact(pub, k.X) {
			return nil, refProofKey
		}
		tp = append(tp, `{"crv":"Ed25519","kty":"OKP","x":"`...)
		tp = append(tp, k.X...)
		tp = append(tp, `"}`...)
		*jkt = sha256.Sum256(tp)
		return pub, 0
	case algRS256, algPS256:
		if k.Kty != "RSA" || len(k.N) > maxRSABits/6+2 || len(k.E) > 8 {
			return nil, refProofKey
		}
		n, err := b64.DecodeString(k.N)
		if err != nil || len(n) == 0 || n[0] == 0 || len(n)*8 < minRSABits || len(n)*8 > maxRSABits {
			return nil, refProofKey
		}
		var eb [6]byte
		m, err := b64.Decode(eb[:], []byte(k.E))
		if err != nil || m == 0 || m > 4 || eb[0] == 0 {
			return nil, refProofKey
		}
		e := 0
		for _, b := range eb[:m] {
			e = e<<8 | int(b)
		}
		// Go's rsa package takes public exponents up to 2^31-1; an even
		// or tiny one is no RSA key.
		if e < 3 || e > 1<<31-1 || e%2 == 0 {
			return nil, refProofKey
		}
		tp = append(tp, `{"e":"`...)
		tp = append(tp, k.E...)
		tp = append(tp, `","kty":"RSA","n":"`...)
		tp = append(tp, k.N...)
		tp = append(tp, `"}`...)
		*jkt = sha256.Sum256(tp)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: e}, 0
	}
	return nil, refProofAlg
}

// decodeExact decodes s into dst, which it must fill exactly.
func decodeExact(dst []byte, s string) bool {
	if len(s) != b64.EncodedLen(len(dst)) {
		return false
	}
	n, err := b64.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

// verify checks the proof's signature with the key it carries (RFC 9449
// §4.3 step 6).
func (p *proof) verify() bool {
	switch p.alg {
	case algEdDSA, algEd25519:
		return len(p.sig) == ed25519.SignatureSize && ed25519.Verify(p.key.(ed25519.PublicKey), p.input, p.sig)
	case algES256:
		// JWS carries r and s as two 32-byte big-endian integers (RFC
		// 7518 §3.4); crypto/ecdsa takes them DER-encoded.
		if len(p.sig) != 64 {
			return false
		}
		var der [72]byte
		digest := sha256.Sum256(p.input)
		return ecdsa.VerifyASN1(p.key.(*ecdsa.PublicKey), digest[:], ecdsaDER(der[:0], p.sig[:32], p.sig[32:]))
	case algRS256, algPS256:
		pub := p.key.(*rsa.PublicKey)
		if len(p.sig) != pub.Size() {
			return false
		}
		digest := sha256.Sum256(p.input)
		if p.alg == algRS256 {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.sig) == nil
		}
		// RFC 7518 §3.5 wants a salt as long as the hash; any length is
		// taken, as go-jose takes it, since signers differ (go-jose's
		// crypto.Signer adapter uses the longest) and the length is no
		// weakness.
		return rsa.VerifyPSS(pub, crypto.SHA256, digest[:], p.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	}
	return false
}

// ecdsaDER appends the DER SEQUENCE of the INTEGERs r and s (big-endian,
// unsigned) to dst.
func ecdsaDER(dst, r, s []byte) []byte {
	r, s = trimZeros(r), trimZeros(s)
	rl, sl := intLen(r), intLen(s)
	dst = append(dst, 0x30, byte(2+rl+2+sl))
	dst = appendInt(dst, r, rl)
	return appendInt(dst, s, sl)
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// intLen is the length of a DER INTEGER's content for the unsigned b: a
// leading 0x00 when its high bit is set, a single 0x00 for zero.
func intLen(b []byte) int {
	if len(b) == 0 || b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendInt(dst, b []byte, n int) []byte {
	dst = append(dst, 0x02, byte(n))
	if n > len(b) {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}

// accessTokenHash is ath: base64url(SHA-256(token)) (RFC 9449 §4.2),
// written into dst.
func accessTokenHash(dst *[43]byte, token string) []byte {
	var buf [1024]byte
	var sum [sha256.Size]byte
	if len(token) <= len(buf) {
		sum = sha256.Sum256(append(buf[:0], token...))
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	base64.RawURLEncoding.Encode(dst[:], sum[:])
	return dst[:]
}
