package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	// go-jose's fork of encoding/json matches member names exactly, as
	// JOSE does: encoding/json would take "ALG" for "alg".
	"github.com/go-jose/go-jose/v4/json"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Algorithms are the proof algorithms accepted by default: asymmetric
// only (RFC 9449 §4.2: never none, never a MAC, which needs a secret the
// server would share with the client). "Ed25519" is RFC 9864's
// fully-specified name for EdDSA with an Ed25519 key, which clients such
// as oauth4webapi 3.8 put in their proofs instead of "EdDSA".
var Algorithms = []string{"EdDSA", "Ed25519", "ES256", "PS256", "RS256"}

// FAPIAlgorithms are those FAPI 2.0 Security Profile §5.4 allows (EdDSA
// under either name).
var FAPIAlgorithms = []string{"PS256", "ES256", "EdDSA", "Ed25519"}

// Bounds that make a hostile proof cheap to refuse.
const (
	maxProofLen = 8 << 10
	maxJTILen   = 256
)

// Defaults of Config.
const (
	DefaultMaxAge = 60 * time.Second
	DefaultLeeway = 5 * time.Second
)

// Config is how proofs are checked.
type Config struct {
	// Algorithms accepted; nil means Algorithms. Names outside it are
	// ignored.
	Algorithms []string
	// MaxAge is how old a proof's iat may be (RFC 9449 §11.1: a short
	// window, with the jti remembered for as long); Leeway how far in the
	// future, for clocks that differ.
	MaxAge, Leeway time.Duration
	Now            func() time.Time
}

// Verifier checks proofs.
type Verifier struct {
	heads          *lru.Cache[string, *head]
	algs           []string
	maxAge, leeway time.Duration
	now            func() time.Time
}

// New makes a Verifier.
func New(cfg Config) *Verifier {
	heads, _ := lru.New[string, *head](headCacheSize) // fails only for a size < 1
	v := &Verifier{heads: heads, maxAge: cfg.MaxAge, leeway: cfg.Leeway, now: cfg.Now}
	for _, a := range cfg.Algorithms {
		if slices.Contains(Algorithms, a) {
			v.algs = append(v.algs, a)
		}
	}
	if cfg.Algorithms == nil {
		v.algs = slices.Clone(Algorithms)
	}
	if v.maxAge <= 0 {
		v.maxAge = DefaultMaxAge
	}
	if v.leeway <= 0 {
		v.leeway = DefaultLeeway
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// Algorithms are the algorithms v accepts, for metadata's
// dpop_signing_alg_values_supported.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Window is how long a proof can be accepted after it was made: its jti
// must be remembered that long to be used once.
func (v *Verifier) Window() time.Duration { return v.maxAge + v.leeway }

// Proof is a checked proof.
type Proof struct {
	// JKT is the RFC 7638 thumbprint (SHA-256, base64url) of the proof's
	// key: what a token bound to it carries as cnf.jkt.
	JKT       string
	ID        string // jti
	Algorithm string
	IssuedAt  time.Time
	// Nonce is the server nonce the proof carries, "" if none; the caller
	// checks it (Nonces.Valid).
	Nonce string
	// ATH is the access-token hash, for a proof sent to a resource server.
	ATH string
}

// Error is a refused proof: Reason says why, fit for an
// invalid_dpop_proof error_description (it names no secret).
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func refuse(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

type header struct {
	Typ  string          `json:"typ"`
	Alg  string          `json:"alg"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

type claims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   string   `json:"ath"`
	Nonce string   `json:"nonce"`
}

// privateMembers are the JWK members of private or symmetric keys (RFC
// 7518 §6): a proof's jwk must hold none (RFC 9449 §4.2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// head is a proof header once checked: its algorithm, its key and the
// key's thumbprint. A client sends the same header with every proof, so
// heads are cached by the header's encoded form (Verifier.heads): a
// client's later proofs cost no JSON or key decoding, only the signature.
type head struct {
	alg string
	key crypto.PublicKey
	jkt string
}

// headCacheSize bounds the cache of checked headers: about one per
// client key in use at once.
const headCacheSize = 4096

// minRSABits is the smallest RSA key taken (RFC 7518 §3.3), maxRSABits
// the largest (suits).
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// b64 is base64url without padding (RFC 7515 §2), strict.
var b64 = base64.RawURLEncoding.Strict()

// Verify checks raw, the value of a DPoP header, as a proof for a request
// of method to one of urls (the normalised URLs that name the endpoint,
// NormalizeURL's). It checks RFC 9449 §4.3 steps 2–11 but the jti's
// single use and the nonce, which need the caller's state.
func (v *Verifier) Verify(raw, method string, urls []string) (*Proof, error) {
	if raw == "" || len(raw) > maxProofLen || strings.Count(raw, ".") != 2 {
		return nil, refuse("the DPoP proof is not a compact JWS (three base64url parts)")
	}
	dot1, dot2 := strings.IndexByte(raw, '.'), strings.LastIndexByte(raw, '.')
	h64 := raw[:dot1]
	h, ok := v.heads.Get(h64)
	if !ok {
		var err error
		if h, err = v.parseHead(h64); err != nil {
			return nil, err
		}
		v.heads.Add(strings.Clone(h64), h)
	}
	// The claims are checked before the signature: a stale, misdirected
	// or malformed proof is refused without the costly step (the
	// signature is most of a proof's cost), and nothing is accepted on
	// them until the signature verifies.
	payload, err := b64.DecodeString(raw[dot1+1 : dot2])
	if err != nil {
		return nil, refuse("the DPoP proof's payload is not base64url")
	}
	var cl claims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, refuse("the DPoP proof's payload is not a JSON object")
	}
	switch {
	case cl.JTI == "" || len(cl.JTI) > maxJTILen:
		return nil, refuse("the DPoP proof needs a jti of 1 to %d characters", maxJTILen)
	case cl.IAT == nil:
		return nil, refuse("the DPoP proof needs an iat")
	case cl.HTM != method:
		return nil, refuse("the DPoP proof's htm must be %s", method)
	}
	// An htu sent in normal form, as clients do, is one of urls as it
	// is: no URL parse.
	if !slices.Contains(urls, cl.HTU) {
		htu, err := NormalizeURL(cl.HTU)
		if err != nil || !slices.Contains(urls, htu) {
			return nil, refuse("the DPoP proof's htu must be this endpoint's URL without query or fragment (%s)", strings.Join(urls, " or "))
		}
	}
	iat := time.UnixMilli(int64(*cl.IAT * 1000))
	now := v.now()
	switch {
	case iat.Before(now.Add(-v.maxAge)):
		return nil, refuse("the DPoP proof's iat is more than %s old: make a fresh proof for each request", v.maxAge)
	case iat.After(now.Add(v.leeway)):
		return nil, refuse("the DPoP proof's iat is in the future: check the client's clock")
	}
	// Decoded on the stack: the longest signature is RSA-4096's, 512
	// bytes.
	var sigBuf [512]byte
	s64 := raw[dot2+1:]
	if b64.DecodedLen(len(s64)) > len(sigBuf) {
		return nil, refuse("the DPoP proof's signature does not verify with its jwk")
	}
	n, err := b64.Decode(sigBuf[:], []byte(s64))
	if err != nil || !verifySignature(h, []byte(raw[:dot2]), sigBuf[:n]) {
		return nil, refuse("the DPoP proof's signature does not verify with its jwk")
	}
	return &Proof{JKT: h.jkt, ID: cl.JTI, Algorithm: h.alg, IssuedAt: iat, Nonce: cl.Nonce, ATH: cl.ATH}, nil
}

// parseHead checks a proof's encoded header (RFC 9449 §4.3 steps 4–7):
// typ, an accepted alg, no critical extension, a public key that suits
// the alg.
func (v *Verifier) parseHead(h64 string) (*head, error) {
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return nil, refuse("the DPoP proof's header is not base64url")
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, refuse("the DPoP proof's header is not a JSON object")
	}
	switch {
	case !dpopType(h.Typ):
		return nil, refuse("the DPoP proof's typ must be dpop+jwt")
	case !slices.Contains(v.algs, h.Alg):
		return nil, refuse("the DPoP proof's alg %q is not accepted: use one of %s", truncate(h.Alg, 20), strings.Join(v.algs, ", "))
	case h.Crit != nil:
		return nil, refuse("the DPoP proof names critical header parameters, which are not understood")
	case h.JWK == nil:
		return nil, refuse("the DPoP proof's header carries no jwk")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(h.JWK, &members); err != nil {
		return nil, refuse("the DPoP proof's jwk is not a JSON object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, refuse("the DPoP proof's jwk holds private or symmetric key material (%q): send the public key only", m)
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(h.JWK); err != nil || !jwk.IsPublic() || !jwk.Valid() || !suits(h.Alg, jwk.Key) {
		return nil, refuse("the DPoP proof's jwk is not a valid public key for %s", h.Alg)
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, refuse("the DPoP proof's jwk has no thumbprint")
	}
	return &head{alg: h.Alg, key: jwk.Key, jkt: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// dpopType reports whether typ names DPoP proofs' media type (RFC 9449
// §4.2), as RFC 7515 §4.1.9 has recipients compare it: case-insensitively,
// with "application/" taken as said when it is left out. The resource
// server's check (server/introspect) reads it the same way.
func dpopType(typ string) bool {
	return strings.EqualFold(typ, "dpop+jwt") || strings.EqualFold(typ, "application/dpop+jwt")
}

// suits reports whether key is one alg signs with: Ed25519 for EdDSA and
// Ed25519, P-256 for ES256, RSA of 2048 to 4096 bits for RS256 and PS256
// (larger keys only make a proof cost more to check). 4096 is go-jose's
// bound too (MaxRSAModulusBits, a global this package leaves alone), said
// here so that it does not depend on it. The resource server's check
// (server/introspect) takes up to 8192 bits, which changes nothing for
// tokens oauthd issues: none is bound to a key refused here.
func suits(alg string, key any) bool {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return alg == "EdDSA" || alg == "Ed25519"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	case *rsa.PublicKey:
		n := k.N.BitLen()
		return (alg == "RS256" || alg == "PS256") && n >= minRSABits && n <= maxRSABits
	}
	return false
}

// verifySignature checks sig over input with h's key (RFC 7518 §3).
func verifySignature(h *head, input, sig []byte) bool {
	switch h.alg {
	case "EdDSA", "Ed25519":
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(h.key.(ed25519.PublicKey), input, sig)
	case "ES256":
		// r and s as two 32-byte big-endian integers (RFC 7518 §3.4),
		// given to VerifyASN1 as the DER it takes: ecdsa.Verify would go
		// through two big.Ints to build the same.
		if len(sig) != 64 {
			return false
		}
		digest := sha256.Sum256(input)
		var der [72]byte
		return ecdsa.VerifyASN1(h.key.(*ecdsa.PublicKey), digest[:], derSignature(der[:0], sig[:32], sig[32:]))
	case "RS256", "PS256":
		pub := h.key.(*rsa.PublicKey)
		if len(sig) != pub.Size() {
			return false
		}
		digest := sha256.Sum256(input)
		if h.alg == "RS256" {
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
		}
		return rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
