package dpop

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
	"slices"
	"strings"

	// go-jose's fork of encoding/json matches member names exactly, as
	// JOSE does: encoding/json would take "ALG" for "alg".
	"github.com/go-jose/go-jose/v4/json"
	lru "github.com/hashicorp/golang-lru/v2"
)

// The one reading of a DPoP proof's syntax, header, key and signature
// (RFC 9449 §4.2, §4.3 steps 2–7), shared by the token endpoint (Verifier)
// and the resource-server package (server/introspect), which each check
// the claims against their own request: two parsers drifted apart (one
// refused a typ the other took, and their largest RSA keys differed).
//
// A proof has one fixed shape (one signature, the key in the header, a few
// claims), so it is parsed here directly rather than through go-jose's
// general JWS code, whose header maps and JWK re-encoding cost about 180
// allocations a proof where this costs a few: it runs on every request
// that presents a DPoP-bound token. The tests check it against proofs
// go-jose signs.

// Fault is why Parse refused a proof.
type Fault uint8

// Parse's faults, in the order it checks.
const (
	FaultNone       Fault = iota
	FaultSyntax           // not a compact JWS of three base64url parts
	FaultHeader           // the header is not base64url JSON
	FaultType             // typ is not dpop+jwt
	FaultAlg              // alg is not accepted (none and MACs never are)
	FaultCritical         // crit names extensions, none of which is understood
	FaultNoKey            // no jwk
	FaultPrivateKey       // the jwk holds private or symmetric key material
	FaultKey              // the jwk is not a public key that suits alg
	FaultPayload          // the payload or signature is not base64url, or the payload not a JSON object
	FaultJTI              // no jti, or one longer than MaxJTILen
	FaultHTM              // no htm
	FaultHTU              // no htu
	FaultIAT              // no iat
)

// Bounds that make a hostile proof cheap to refuse.
const (
	MaxProofLen = 8 << 10
	MaxJTILen   = 256
	// RSA keys of 2048 (RFC 7518 §3.3) to 4096 bits: larger ones only
	// make a proof cost more to check, before its token is even looked at.
	MinRSABits = 2048
	MaxRSABits = 4096
)

// Head is a proof's header once checked: its algorithm, its public key and
// the key's RFC 7638 thumbprint. Heads are shared between the proofs of
// one client key: treat them as read-only.
type Head struct {
	Alg string
	Key crypto.PublicKey
	JKT [sha256.Size]byte
}

// Thumbprint is JKT as cnf.jkt carries it: base64url.
func (h *Head) Thumbprint() string { return base64.RawURLEncoding.EncodeToString(h.JKT[:]) }

// BoundTo reports whether jkt (base64url, as in cnf.jkt) names the key.
func (h *Head) BoundTo(jkt string) bool {
	var enc [43]byte
	base64.RawURLEncoding.Encode(enc[:], h.JKT[:])
	return jkt != "" && string(enc[:]) == jkt
}

// Claims are a proof's claims (RFC 9449 §4.2). IAT is NaN when the proof
// has none; Parse refuses such a proof.
type Claims struct {
	JTI   string  `json:"jti"`
	HTM   string  `json:"htm"`
	HTU   string  `json:"htu"`
	IAT   float64 `json:"iat"`
	ATH   string  `json:"ath"`
	Nonce string  `json:"nonce"`
}

// Parsed is a proof whose syntax, header, key and claims' presence are
// checked, and whose signature is not yet: Verify checks it, once the
// caller's cheaper checks of the claims have passed.
type Parsed struct {
	*Head
	Claims Claims
	input  []byte // the JWS signing input: header.payload
	sig    []byte
}

// Parser parses proofs for a set of accepted algorithms, caching checked
// headers: a client sends the same header with every proof, so its later
// proofs cost no header or key decoding, only the signature.
type Parser struct {
	algs  []string
	heads *lru.Cache[string, *Head]
}

// NewParser makes a Parser accepting algs (names outside Algorithms are
// never accepted), caching up to heads checked headers: about one per
// client key in use at once.
func NewParser(algs []string, heads int) *Parser {
	c, _ := lru.New[string, *Head](max(heads, 1)) // fails only for a size < 1
	p := &Parser{heads: c}
	for _, a := range algs {
		if slices.Contains(Algorithms, a) && !slices.Contains(p.algs, a) {
			p.algs = append(p.algs, a)
		}
	}
	return p
}

// b64 is base64url without padding (RFC 7515 §2), strict: a value with
// stray bits has one spelling only, so the thumbprint computed from the
// members as sent is the key's.
var b64 = base64.RawURLEncoding.Strict()

// Parse reads s, the value of a DPoP header, as a proof.
func (pr *Parser) Parse(s string) (Parsed, Fault) {
	if len(s) > MaxProofLen || strings.Count(s, ".") != 2 {
		return Parsed{}, FaultSyntax
	}
	dot1 := strings.IndexByte(s, '.')
	dot2 := strings.LastIndexByte(s, '.')
	if dot1 == 0 {
		return Parsed{}, FaultSyntax
	}
	h64 := s[:dot1]
	head, ok := pr.heads.Get(h64)
	if !ok {
		var f Fault
		if head, f = parseHead(h64, pr.algs); f != FaultNone {
			return Parsed{}, f
		}
		// A copy: the key must not hold on to the whole proof.
		pr.heads.Add(strings.Clone(h64), head)
	}
	// An empty signature is alg none's, which the header check refused
	// already for its alg when that is what it says.
	if dot2 == len(s)-1 {
		return Parsed{}, FaultSyntax
	}
	raw := []byte(s[:dot2])
	p64, s64 := raw[dot1+1:], s[dot2+1:]
	buf := make([]byte, b64.DecodedLen(len(p64))+b64.DecodedLen(len(s64)))
	n, err := b64.Decode(buf, p64)
	if err != nil {
		return Parsed{}, FaultPayload
	}
	payload, sigBuf := buf[:n:n], buf[n:]
	m, err := b64.Decode(sigBuf, []byte(s64))
	if err != nil {
		return Parsed{}, FaultPayload
	}
	p := Parsed{Head: head, input: raw, sig: sigBuf[:m]}
	p.Claims.IAT = math.NaN()
	if json.Unmarshal(payload, &p.Claims) != nil {
		return Parsed{}, FaultPayload
	}
	cl := &p.Claims
	switch {
	case cl.JTI == "" || len(cl.JTI) > MaxJTILen:
		return Parsed{}, FaultJTI
	case cl.HTM == "":
		return Parsed{}, FaultHTM
	case cl.HTU == "":
		return Parsed{}, FaultHTU
	case math.IsNaN(cl.IAT) || math.IsInf(cl.IAT, 0):
		return Parsed{}, FaultIAT
	}
	return p, FaultNone
}

// header is a proof's JOSE header. Members absent from it are ignored, as
// RFC 7515 §4 says, except crit: a proof naming a critical extension is
// refused, since none is understood here.
type header struct {
	Typ  string          `json:"typ"`
	Alg  string          `json:"alg"`
	JWK  *jwk            `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

// jwk is the public key a proof carries. The private and symmetric
// members (RFC 7518 §6) are decoded only to see whether they are there: a
// key holding any is refused (RFC 9449 §4.2: "MUST NOT contain a private
// key").
type jwk struct {
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

func (k *jwk) private() bool {
	return k.D != nil || k.P != nil || k.Q != nil || k.DP != nil || k.DQ != nil || k.QI != nil || k.Oth != nil || k.K != nil
}

// parseHead checks a proof's encoded header (RFC 9449 §4.3 steps 4–7):
// typ, an accepted alg, no critical extension, a public key that suits
// the alg.
func parseHead(h64 string, algs []string) (*Head, Fault) {
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return nil, FaultHeader
	}
	var h header
	if json.Unmarshal(hb, &h) != nil {
		return nil, FaultHeader
	}
	switch {
	case !typeIsDPoP(h.Typ):
		return nil, FaultType
	case !slices.Contains(algs, h.Alg):
		return nil, FaultAlg
	case h.Crit != nil:
		return nil, FaultCritical
	case h.JWK == nil:
		return nil, FaultNoKey
	case h.JWK.private():
		return nil, FaultPrivateKey
	}
	head := &Head{Alg: h.Alg}
	if head.Key = publicKey(h.Alg, h.JWK, &head.JKT); head.Key == nil {
		return nil, FaultKey
	}
	return head, FaultNone
}

// typeIsDPoP reports whether typ names DPoP proofs' media type (RFC 9449
// §4.2), as RFC 7515 §4.1.9 has recipients compare it: case-insensitively,
// with "application/" taken as said when it is left out.
func typeIsDPoP(typ string) bool {
	return strings.EqualFold(typ, "dpop+jwt") || strings.EqualFold(typ, "application/dpop+jwt")
}

// publicKey makes the key of k for alg, nil if k is none that suits it:
// Ed25519 for EdDSA and Ed25519, P-256 for ES256, RSA of MinRSABits to
// MaxRSABits for RS256 and PS256. It writes the key's RFC 7638 thumbprint
// to jkt: the SHA-256 of the required members, in lexical order, without
// white space. The members are used as sent, which the strict decoding and
// the length checks make their one canonical spelling (RFC 7518 §6:
// coordinates of the curve's full length, RSA integers without leading
// zeros).
func publicKey(alg string, k *jwk, jkt *[sha256.Size]byte) crypto.PublicKey {
	var buf [64 + MaxRSABits/6 + 2 + 8]byte // the longest: an RSA key's
	tp := buf[:0]
	switch alg {
	case "ES256":
		if k.Kty != "EC" || k.Crv != "P-256" {
			return nil
		}
		var point [65]byte
		point[0] = 4 // uncompressed (SEC 1 §2.3.3)
		if !decodeExact(point[1:33], k.X) || !decodeExact(point[33:], k.Y) {
			return nil
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
		if err != nil {
			return nil
		}
		tp = append(tp, `{"crv":"P-256","kty":"EC","x":"`...)
		tp = append(tp, k.X...)
		tp = append(tp, `","y":"`...)
		tp = append(tp, k.Y...)
		tp = append(tp, `"}`...)
		*jkt = sha256.Sum256(tp)
		return pub
	case "EdDSA", "Ed25519":
		// RFC 8037 §2: an OKP key; Ed25519 is the only curve taken.
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			return nil
		}
		pub := make(ed25519.PublicKey, ed25519.PublicKeySize)
		if !decodeExact(pub, k.X) {
			return nil
		}
		tp = append(tp, `{"crv":"Ed25519","kty":"OKP","x":"`...)
		tp = append(tp, k.X...)
		tp = append(tp, `"}`...)
		*jkt = sha256.Sum256(tp)
		return pub
	case "RS256", "PS256":
		if k.Kty != "RSA" || len(k.N) > MaxRSABits/6+2 || len(k.E) > 8 {
			return nil
		}
		nb, err := b64.DecodeString(k.N)
		if err != nil || len(nb) == 0 || nb[0] == 0 {
			return nil
		}
		n := new(big.Int).SetBytes(nb)
		if bits := n.BitLen(); bits < MinRSABits || bits > MaxRSABits || n.Bit(0) == 0 {
			return nil
		}
		var eb [6]byte
		m, err := b64.Decode(eb[:], []byte(k.E))
		if err != nil || m == 0 || m > 4 || eb[0] == 0 {
			return nil
		}
		e := 0
		for _, b := range eb[:m] {
			e = e<<8 | int(b)
		}
		// Go's rsa package takes public exponents up to 2^31-1; an even
		// or tiny one is no RSA key.
		if e < 3 || e > 1<<31-1 || e%2 == 0 {
			return nil
		}
		tp = append(tp, `{"e":"`...)
		tp = append(tp, k.E...)
		tp = append(tp, `","kty":"RSA","n":"`...)
		tp = append(tp, k.N...)
		tp = append(tp, `"}`...)
		*jkt = sha256.Sum256(tp)
		return &rsa.PublicKey{N: n, E: e}
	}
	return nil
}

// decodeExact decodes s into dst, which it must fill exactly.
func decodeExact(dst []byte, s string) bool {
	if len(s) != b64.EncodedLen(len(dst)) {
		return false
	}
	n, err := b64.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

// Verify checks the proof's signature with the key it carries (RFC 9449
// §4.3 step 6; RFC 7518 §3).
func (p *Parsed) Verify() bool {
	switch p.Alg {
	case "EdDSA", "Ed25519":
		return len(p.sig) == ed25519.SignatureSize && ed25519.Verify(p.Key.(ed25519.PublicKey), p.input, p.sig)
	case "ES256":
		// JWS carries r and s as two 32-byte big-endian integers (RFC
		// 7518 §3.4); crypto/ecdsa takes them DER-encoded, which spares
		// ecdsa.Verify's two big.Ints.
		if len(p.sig) != 64 {
			return false
		}
		var der [72]byte
		digest := sha256.Sum256(p.input)
		return ecdsa.VerifyASN1(p.Key.(*ecdsa.PublicKey), digest[:], derSignature(der[:0], p.sig[:32], p.sig[32:]))
	case "RS256", "PS256":
		pub := p.Key.(*rsa.PublicKey)
		if len(p.sig) != pub.Size() {
			return false
		}
		digest := sha256.Sum256(p.input)
		if p.Alg == "RS256" {
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

// derSignature appends to dst the DER of ECDSA-Sig-Value (RFC 3279
// §2.2.3), SEQUENCE { r INTEGER, s INTEGER }, for r and s as unsigned
// big-endian bytes of at most 32 each: every length fits one byte.
func derSignature(dst, r, s []byte) []byte {
	integer := func(b []byte, n []byte) []byte {
		for len(n) > 1 && n[0] == 0 {
			n = n[1:]
		}
		if len(n) == 0 {
			return append(b, 0x02, 1, 0)
		}
		if n[0]&0x80 != 0 {
			return append(append(b, 0x02, byte(len(n)+1), 0), n...)
		}
		return append(append(b, 0x02, byte(len(n))), n...)
	}
	dst = append(dst, 0x30, 0)
	dst = integer(integer(dst, r), s)
	dst[1] = byte(len(dst) - 2)
	return dst
}

// AccessTokenHash is ath: base64url(SHA-256(token)) (RFC 9449 §4.2),
// written into dst.
func AccessTokenHash(dst *[43]byte, token string) []byte {
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
