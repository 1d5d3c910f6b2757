package dpop

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/json"
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
	parser         *Parser
	maxAge, leeway time.Duration
	now            func() time.Time
}

// New makes a Verifier.
func New(cfg Config) *Verifier {
	algs := cfg.Algorithms
	if algs == nil {
		algs = Algorithms
	}
	v := &Verifier{parser: NewParser(algs, headCacheSize), maxAge: cfg.MaxAge, leeway: cfg.Leeway, now: cfg.Now}
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
func (v *Verifier) Algorithms() []string { return slices.Clone(v.parser.algs) }

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

// headCacheSize bounds the cache of checked headers: about one per
// client key in use at once.
const headCacheSize = 4096

// Verify checks raw, the value of a DPoP header, as a proof for a request
// of method to one of urls (the normalised URLs that name the endpoint,
// NormalizeURL's). It checks RFC 9449 §4.3 steps 2–11 but the jti's
// single use and the nonce, which need the caller's state.
func (v *Verifier) Verify(raw, method string, urls []string) (*Proof, error) {
	p, f := v.parser.Parse(raw)
	if f != FaultNone {
		return nil, v.refusal(f, raw)
	}
	// The claims are checked before the signature: a stale, misdirected
	// or malformed proof is refused without the costly step (the
	// signature is most of a proof's cost), and nothing is accepted on
	// them until the signature verifies.
	cl := &p.Claims
	if cl.HTM != method {
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
	now := v.now()
	// iat to the millisecond; one too large for that is far in the future.
	switch ms := cl.IAT * 1000; {
	case ms < float64(now.Add(-v.maxAge).UnixMilli()):
		return nil, refuse("the DPoP proof's iat is more than %s old: make a fresh proof for each request", v.maxAge)
	case ms > float64(now.Add(v.leeway).UnixMilli()):
		return nil, refuse("the DPoP proof's iat is in the future: check the client's clock")
	}
	iat := time.UnixMilli(int64(cl.IAT * 1000))
	if !p.Verify() {
		return nil, refuse("the DPoP proof's signature does not verify with its jwk")
	}
	return &Proof{JKT: p.Thumbprint(), ID: cl.JTI, Algorithm: p.Alg, IssuedAt: iat, Nonce: cl.Nonce, ATH: cl.ATH}, nil
}

// refusal says what f means for the client that sent raw.
func (v *Verifier) refusal(f Fault, raw string) error {
	switch f {
	case FaultHeader:
		return refuse("the DPoP proof's header is not base64url JSON")
	case FaultType:
		return refuse("the DPoP proof's typ must be dpop+jwt")
	case FaultAlg:
		alg := ""
		if h64, _, ok := strings.Cut(raw, "."); ok {
			var h struct {
				Alg string `json:"alg"`
			}
			if b, err := b64.DecodeString(h64); err == nil && json.Unmarshal(b, &h) == nil {
				alg = h.Alg
			}
		}
		return refuse("the DPoP proof's alg %q is not accepted: use one of %s", truncate(alg, 20), strings.Join(v.parser.algs, ", "))
	case FaultCritical:
		return refuse("the DPoP proof names critical header parameters, which are not understood")
	case FaultNoKey:
		return refuse("the DPoP proof's header carries no jwk")
	case FaultPrivateKey:
		return refuse("the DPoP proof's jwk holds private or symmetric key material: send the public key only")
	case FaultKey:
		return refuse("the DPoP proof's jwk is not a valid public key for its alg (Ed25519, P-256, or RSA of %d to %d bits, members in their one base64url spelling)", MinRSABits, MaxRSABits)
	case FaultPayload:
		return refuse("the DPoP proof's payload is not a base64url JSON object, or its signature not base64url")
	case FaultJTI:
		return refuse("the DPoP proof needs a jti of 1 to %d characters", MaxJTILen)
	case FaultHTM:
		return refuse("the DPoP proof needs an htm")
	case FaultHTU:
		return refuse("the DPoP proof needs an htu")
	case FaultIAT:
		return refuse("the DPoP proof needs an iat")
	}
	return refuse("the DPoP proof is not a compact JWS (three base64url parts)")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
