package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestParseFaults: each way a proof can be malformed is told apart, so that
// the token endpoint can say which (Verifier.refusal) and the resource
// server can answer with its fixed replies (server/introspect). The proofs
// are assembled by hand, since no signer makes most of them.
func TestParseFaults(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64u(edKey.Public().(ed25519.PublicKey))}
	good := sign(t, edKey, jose.EdDSA, jose.JSONWebKey{Key: edKey.Public()}, nil, pc(now, nil))
	sig := good[strings.LastIndexByte(good, '.')+1:]
	claims := b64u(mustMarshal(pc(now, nil)))
	head := func(h map[string]any) string {
		if _, ok := h["typ"]; !ok {
			h["typ"] = "dpop+jwt"
		}
		return b64u(mustMarshal(h))
	}
	edHead := head(map[string]any{"alg": "EdDSA", "jwk": edJWK})
	rsaN := func(bits int, lead bool) map[string]any {
		n := make([]byte, (bits+7)/8)
		rand.Read(n)
		n[0] = n[0]&(0xff>>(len(n)*8-bits)) | 1<<((bits-1)%8)
		n[len(n)-1] |= 1
		if lead {
			n = append([]byte{0}, n...)
		}
		return map[string]any{"kty": "RSA", "n": b64u(n), "e": "AQAB"}
	}
	claimsWithout := func(name string) string {
		c := pc(now, nil)
		delete(c, name)
		return b64u(mustMarshal(c))
	}
	for _, tt := range []struct {
		name, proof string
		want        Fault
	}{
		{"good", good, FaultNone},
		{"two parts", edHead + "." + claims, FaultSyntax},
		{"four parts", edHead + "." + claims + "." + sig + ".x", FaultSyntax},
		{"no header", "." + claims + "." + sig, FaultSyntax},
		{"too long", edHead + "." + claims + "." + strings.Repeat("A", MaxProofLen), FaultSyntax},
		{"empty signature", edHead + "." + claims + ".", FaultSyntax},
		{"header not base64url", "e30=." + claims + "." + sig, FaultHeader},
		{"header not JSON", b64u([]byte("{")) + "." + claims + "." + sig, FaultHeader},
		{"typ JWT", head(map[string]any{"typ": "JWT", "alg": "EdDSA", "jwk": edJWK}) + "." + claims + "." + sig, FaultType},
		{"typ missing", head(map[string]any{"typ": "", "alg": "EdDSA", "jwk": edJWK}) + "." + claims + "." + sig, FaultType},
		{"alg none, empty signature", head(map[string]any{"alg": "none", "jwk": edJWK}) + "." + claims + ".", FaultAlg},
		{"alg HS256", head(map[string]any{"alg": "HS256", "jwk": edJWK}) + "." + claims + "." + sig, FaultAlg},
		{"alg in lower case", head(map[string]any{"alg": "eddsa", "jwk": edJWK}) + "." + claims + "." + sig, FaultAlg},
		{"crit", head(map[string]any{"alg": "EdDSA", "jwk": edJWK, "crit": []string{"exp"}}) + "." + claims + "." + sig, FaultCritical},
		{"no jwk", head(map[string]any{"alg": "EdDSA"}) + "." + claims + "." + sig, FaultNoKey},
		{"private jwk", head(map[string]any{"alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": edJWK["x"], "d": "AAAA"}}) + "." + claims + "." + sig, FaultPrivateKey},
		{"symmetric jwk", head(map[string]any{"alg": "EdDSA", "jwk": map[string]any{"kty": "oct", "k": "AAAA"}}) + "." + claims + "." + sig, FaultPrivateKey},
		{"P-256 key for EdDSA", head(map[string]any{"alg": "EdDSA", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": edJWK["x"], "y": edJWK["x"]}}) + "." + claims + "." + sig, FaultKey},
		{"Ed25519 x padded", head(map[string]any{"alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": edJWK["x"].(string) + "="}}) + "." + claims + "." + sig, FaultKey},
		{"Ed25519 x short", head(map[string]any{"alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": edJWK["x"].(string)[1:]}}) + "." + claims + "." + sig, FaultKey},
		{"P-256 point off the curve", head(map[string]any{"alg": "ES256", "jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": edJWK["x"], "y": edJWK["x"]}}) + "." + claims + "." + sig, FaultKey},
		// RSA moduli: the size is the modulus's bits, not its bytes (a
		// 2047-bit modulus fills 256 bytes); a leading zero byte is not
		// the one spelling RFC 7518 §6.3.1.1 allows.
		{"RSA 2047 bits", head(map[string]any{"alg": "RS256", "jwk": rsaN(2047, false)}) + "." + claims + "." + sig, FaultKey},
		{"RSA 2048 bits", head(map[string]any{"alg": "RS256", "jwk": rsaN(2048, false)}) + "." + claims + "." + sig, FaultNone},
		{"RSA 4096 bits", head(map[string]any{"alg": "PS256", "jwk": rsaN(4096, false)}) + "." + claims + "." + sig, FaultNone},
		{"RSA 4097 bits", head(map[string]any{"alg": "PS256", "jwk": rsaN(4097, false)}) + "." + claims + "." + sig, FaultKey},
		{"RSA 8192 bits", head(map[string]any{"alg": "RS256", "jwk": rsaN(8192, false)}) + "." + claims + "." + sig, FaultKey},
		{"RSA modulus with a leading zero", head(map[string]any{"alg": "RS256", "jwk": rsaN(2048, true)}) + "." + claims + "." + sig, FaultKey},
		{"RSA even exponent", head(map[string]any{"alg": "RS256", "jwk": map[string]any{"kty": "RSA", "n": rsaN(2048, false)["n"], "e": "AQAA"}}) + "." + claims + "." + sig, FaultKey},
		{"payload not base64url", edHead + ".e30=." + sig, FaultPayload},
		{"payload not JSON", edHead + "." + b64u([]byte("[1]")) + "." + sig, FaultPayload},
		{"iat a string", edHead + "." + b64u([]byte(`{"jti":"j","htm":"POST","htu":"x","iat":"1"}`)) + "." + sig, FaultPayload},
		{"signature not base64url", edHead + "." + claims + ".a+b", FaultPayload},
		{"no jti", edHead + "." + claimsWithout("jti") + "." + sig, FaultJTI},
		{"jti too long", edHead + "." + b64u(mustMarshal(map[string]any{"jti": strings.Repeat("j", MaxJTILen+1), "htm": "POST", "htu": endpoint, "iat": now.Unix()})) + "." + sig, FaultJTI},
		{"no htm", edHead + "." + claimsWithout("htm") + "." + sig, FaultHTM},
		{"no htu", edHead + "." + claimsWithout("htu") + "." + sig, FaultHTU},
		{"no iat", edHead + "." + claimsWithout("iat") + "." + sig, FaultIAT},
		{"null payload", edHead + "." + b64u([]byte("null")) + "." + sig, FaultJTI},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A new parser each time: a cached header would skip its checks.
			_, got := NewParser(Algorithms, 8).Parse(tt.proof)
			if got != tt.want {
				t.Fatalf("Parse = fault %d, want %d", got, tt.want)
			}
		})
	}
}

// TestParseCachedHead: a header once checked is cached, and a later proof
// with the same header is still refused for what it says itself.
func TestParseCachedHead(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	jwk := jose.JSONWebKey{Key: key.Public()}
	pr := NewParser([]string{"EdDSA"}, 8)
	first := sign(t, key, jose.EdDSA, jwk, nil, pc(now, nil))
	p, f := pr.Parse(first)
	if f != FaultNone || !p.Verify() {
		t.Fatalf("first proof: fault %d", f)
	}
	if pr.heads.Len() != 1 {
		t.Fatalf("%d headers cached, want 1", pr.heads.Len())
	}
	second := sign(t, key, jose.EdDSA, jwk, nil, pc(now, func(c map[string]any) { c["jti"] = "j2" }))
	if p, f := pr.Parse(tamper(second)); f != FaultNone || p.Verify() {
		t.Fatalf("a tampered proof with a cached header: fault %d, verified %v", f, p.Verify())
	}
	if _, f := pr.Parse(second[:strings.IndexByte(second, '.')+1] + b64u([]byte(`{"htm":"POST"}`)) + ".AA"); f != FaultJTI {
		t.Fatalf("claims without jti under a cached header: fault %d", f)
	}
	// An algorithm the parser does not take is refused even when another
	// parser took the same header.
	if _, f := NewParser([]string{"ES256"}, 8).Parse(first); f != FaultAlg {
		t.Fatalf("EdDSA proof to an ES256-only parser: fault %d", f)
	}
}

// TestParseAgainstGoJose: every algorithm's proofs as go-jose signs them
// parse, verify, and carry go-jose's thumbprint; one flipped payload bit
// and they no longer verify. ES256's r and s come with and without their
// high bit set over the runs.
func TestParseAgainstGoJose(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	pr := NewParser(Algorithms, 8)
	for _, tt := range []struct {
		alg      jose.SignatureAlgorithm
		key, pub any
	}{
		{jose.EdDSA, ed, ed.Public()}, {jose.ES256, ec, ec.Public()}, {jose.PS256, rs, rs.Public()}, {jose.RS256, rs, rs.Public()},
	} {
		jwk := jose.JSONWebKey{Key: tt.pub}
		tp, _ := jwk.Thumbprint(crypto.SHA256)
		for i := range 20 {
			proof := sign(t, tt.key, tt.alg, jwk, nil, pc(now, func(c map[string]any) { c["jti"] = fmt.Sprint("j", i) }))
			p, f := pr.Parse(proof)
			if f != FaultNone || !p.Verify() {
				t.Fatalf("%s: go-jose's proof: fault %d", tt.alg, f)
			}
			if p.Thumbprint() != b64u(tp) || !p.BoundTo(b64u(tp)) || p.BoundTo("") {
				t.Fatalf("%s: thumbprint %s, go-jose's %s", tt.alg, p.Thumbprint(), b64u(tp))
			}
			parts := strings.Split(proof, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			payload[len(payload)-2] ^= 1
			if p, f := pr.Parse(parts[0] + "." + b64u(payload) + "." + parts[2]); f == FaultNone && p.Verify() {
				t.Fatalf("%s: a tampered proof verifies", tt.alg)
			}
		}
	}
}

// TestDERSignatureVerifies: the DER built from a JWS's r and s is what
// crypto/ecdsa verifies, over many signatures.
func TestDERSignatureVerifies(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range 64 {
		digest := sha256.Sum256([]byte(fmt.Sprint(i)))
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		var raw [64]byte
		r.FillBytes(raw[:32])
		s.FillBytes(raw[32:])
		if !ecdsa.VerifyASN1(&k.PublicKey, digest[:], derSignature(nil, raw[:32], raw[32:])) {
			t.Fatalf("DER of r=%x s=%x does not verify", r, s)
		}
	}
	if got := derSignature(nil, []byte{0, 0, 0x80}, []byte{0, 0}); string(got) != "\x30\x07\x02\x02\x00\x80\x02\x01\x00" {
		t.Fatalf("derSignature = %x", got)
	}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParse: no input makes Parse panic; a proof it accepts has a key, a
// thumbprint, a jti within bounds and a finite iat; and its verdict does
// not depend on the header cache: a parser that has seen the header
// before (warm) and one that has not (cold) say the same, and verify the
// signature alike.
func FuzzParse(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := sign(f, ed, jose.EdDSA, jose.JSONWebKey{Key: ed.Public()}, nil, pc(now, nil))
	f.Add(good)
	f.Add(sign(f, ec, jose.ES256, jose.JSONWebKey{Key: ec.Public()}, nil, pc(now, nil)))
	f.Add(tamper(good))
	f.Add(good[:strings.IndexByte(good, '.')] + ".e30.")
	f.Add("..")
	warm := NewParser(Algorithms, 64)
	f.Fuzz(func(t *testing.T, s string) {
		p, fault := warm.Parse(s)
		q, coldFault := NewParser(Algorithms, 1).Parse(s)
		if fault != coldFault {
			t.Fatalf("warm parser: fault %d, cold: %d", fault, coldFault)
		}
		if fault != FaultNone {
			return
		}
		var zero [sha256.Size]byte
		c := p.Claims
		if p.Head == nil || p.Key == nil || p.JKT == zero || c.JTI == "" || len(c.JTI) > MaxJTILen || c.HTM == "" || c.HTU == "" || c.IAT != c.IAT {
			t.Fatalf("accepted without what a proof needs: %+v", p)
		}
		if p.JKT != q.JKT || p.Verify() != q.Verify() {
			t.Fatal("warm and cold parsers disagree on the key or the signature")
		}
	})
}
