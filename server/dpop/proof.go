package dpop

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Algorithms are the proof algorithms accepted by default: asymmetric
// only (RFC 9449 §4.2: never none, never a MAC, which needs a secret the
// server would share with the client).
var Algorithms = []string{"EdDSA", "ES256", "PS256", "RS256"}

// FAPIAlgorithms are those FAPI 2.0 Security Profile §5.4 allows.
var FAPIAlgorithms = []string{"PS256", "ES256", "EdDSA"}

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
	algs           []string
	maxAge, leeway time.Duration
	now            func() time.Time
}

// New makes a Verifier.
func New(cfg Config) *Verifier {
	v := &Verifier{maxAge: cfg.MaxAge, leeway: cfg.Leeway, now: cfg.Now}
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
	Typ  string                     `json:"typ"`
	Alg  string                     `json:"alg"`
	JWK  map[string]json.RawMessage `json:"jwk"`
	Crit json.RawMessage            `json:"crit"`
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

// Verify checks raw, the value of a DPoP header, as a proof for a request
// of method to one of urls (the normalised URLs that name the endpoint,
// NormalizeURL's). It checks RFC 9449 §4.3 steps 2–11 but the jti's
// single use and the nonce, which need the caller's state.
func (v *Verifier) Verify(raw, method string, urls []string) (*Proof, error) {
	if raw == "" || len(raw) > maxProofLen || strings.Count(raw, ".") != 2 {
		return nil, refuse("the DPoP proof is not a compact JWS (three base64url parts)")
	}
	h64, _, _ := strings.Cut(raw, ".")
	hb, err := base64.RawURLEncoding.DecodeString(h64)
	if err != nil {
		return nil, refuse("the DPoP proof's header is not base64url")
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, refuse("the DPoP proof's header is not a JSON object")
	}
	switch {
	case h.Typ != "dpop+jwt":
		return nil, refuse("the DPoP proof's typ must be dpop+jwt")
	case !slices.Contains(v.algs, h.Alg):
		return nil, refuse("the DPoP proof's alg %q is not accepted: use one of %s", truncate(h.Alg, 20), strings.Join(v.algs, ", "))
	case h.Crit != nil:
		return nil, refuse("the DPoP proof names critical header parameters, which are not understood")
	case h.JWK == nil:
		return nil, refuse("the DPoP proof's header carries no jwk")
	}
	for _, m := range privateMembers {
		if _, ok := h.JWK[m]; ok {
			return nil, refuse("the DPoP proof's jwk holds private or symmetric key material (%q): send the public key only", m)
		}
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(h.Alg)})
	if err != nil || len(jws.Signatures) != 1 || jws.Signatures[0].Header.JSONWebKey == nil {
		return nil, refuse("the DPoP proof could not be parsed as a JWS with a jwk header")
	}
	jwk := jws.Signatures[0].Header.JSONWebKey
	if !jwk.IsPublic() || !jwk.Valid() {
		return nil, refuse("the DPoP proof's jwk is not a valid public key")
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return nil, refuse("the DPoP proof's signature does not verify with its jwk")
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
	htu, err := NormalizeURL(cl.HTU)
	if err != nil || !slices.Contains(urls, htu) {
		return nil, refuse("the DPoP proof's htu must be this endpoint's URL without query or fragment (%s)", strings.Join(urls, " or "))
	}
	iat := time.UnixMilli(int64(*cl.IAT * 1000))
	now := v.now()
	switch {
	case iat.Before(now.Add(-v.maxAge)):
		return nil, refuse("the DPoP proof's iat is more than %s old: make a fresh proof for each request", v.maxAge)
	case iat.After(now.Add(v.leeway)):
		return nil, refuse("the DPoP proof's iat is in the future: check the client's clock")
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, refuse("the DPoP proof's jwk has no thumbprint")
	}
	return &Proof{
		JKT: base64.RawURLEncoding.EncodeToString(tp), ID: cl.JTI, Algorithm: h.Alg,
		IssuedAt: iat, Nonce: cl.Nonce, ATH: cl.ATH,
	}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
