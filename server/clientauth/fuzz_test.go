package clientauth

import (
	"context"
	"strings"
	"testing"
)

// Whatever a client sends as client_assertion, parsing and verifying end
// in an *Error or success, never a panic; and no refusal quotes the
// assertion whole.
func FuzzParseAssertion(f *testing.F) {
	ed := signer{key: edKey(f), alg: "EdDSA", kid: "k1"}
	good := sign(f, ed, claimsFor(testClient))
	f.Add(good)
	f.Add(b64(`{"alg":"none"}`) + "." + b64(`{"iss":"x"}`) + ".")
	f.Add("a.b.c")
	f.Add(strings.Replace(good, ".", "..", 1))
	v := newVerifier(f, nil)
	app := keyApp(f, ed)
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := ParseAssertion(raw)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		err = v.VerifyAssertion(context.Background(), app, a)
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("%T %v", err, err)
			}
			if len(raw) > 40 && strings.Contains(e.Reason, raw) {
				t.Fatalf("reason quotes the assertion: %s", e.Reason)
			}
		}
	})
}

// Any subject DN either fails to parse or normalises to a fixed point.
func FuzzValidateSubjectDN(f *testing.F) {
	for _, s := range []string{"CN=a,O=b", `CN=\ x\,y\ `, "CN=#0c0162", "OU=b+CN=a", "1.2.3=x", "CN=caf\\C3\\A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ValidateSubjectDN(s)
		if err != nil {
			return
		}
		again, err := ValidateSubjectDN(n)
		if err != nil || again != n {
			t.Fatalf("%q normalised to %q, which gives %q, %v", s, n, again, err)
		}
	})
}
