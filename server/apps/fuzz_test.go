package apps

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/oauthd/oauthd/store"
)

// FuzzParseAllowlist: ParseAllowlist never panics. What it accepts is a
// short list of distinct, masked prefixes with no zone and no IPv4-mapped
// address, and their text parses back to the same list. Zones and
// IPv4-mapped CIDRs are refused.
func FuzzParseAllowlist(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"10.0.0.0/8", ""}, {"10.1.2.3/8", "10.0.0.0/8"}, {"203.0.113.7", "::ffff:203.0.113.7"},
		{"2001:db8::1", "2001:db8::/32"}, {"10.0.0.1, 10.0.0.2", "10.0.0.1"}, {"10.0.0.0/33", ""},
		{"example.com", ""}, {"fe80::1%eth0", ""}, {"fe80::/64%eth0", ""}, {"::ffff:10.0.0.0/104", ""},
		{"::ffff:0:0/96", ""}, {"0.0.0.0/0", "::/0"}, {"1.2.3.4/32\t1.2.3.4\n", "\u00a01.2.3.4\u2003"},
		{"::ffff:1.2.3.4%eth0", ""}, {"010.0.0.1", ""}, {"1.2.3.4/", "/8"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		in := []string{a, b}
		got, err := ParseAllowlist(in)
		// The fields the parser reads, to check what it must refuse.
		var fields []string
		for _, item := range in {
			fields = append(fields, strings.FieldsFunc(item, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })...)
		}
		for _, s := range fields {
			if p, perr := netip.ParsePrefix(s); perr == nil && p.Addr().Is4In6() && err == nil {
				t.Fatalf("ParseAllowlist(%q) accepted the IPv4-mapped CIDR %q", in, s)
			}
		}
		if err != nil {
			if got != nil {
				t.Fatalf("ParseAllowlist(%q) returned %v with error %v", in, got, err)
			}
			return
		}
		if strings.Contains(a+b, "%") {
			t.Fatalf("ParseAllowlist(%q) accepted a zone: %v", in, got)
		}
		if len(got) > maxAllowlist {
			t.Fatalf("ParseAllowlist(%q) returned %d entries, over the limit", in, len(got))
		}
		var text []string
		for i, p := range got {
			switch {
			case !p.IsValid(), p != p.Masked(), p.Addr().Zone() != "", p.Addr().Is4In6():
				t.Fatalf("ParseAllowlist(%q) returned %v", in, p)
			case slices.Contains(got[:i], p):
				t.Fatalf("ParseAllowlist(%q) returned %v twice", in, p)
			}
			text = append(text, p.String())
		}
		again, err := ParseAllowlist(text)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("ParseAllowlist(%q) = %v; its text %q parses to %v, %v", in, got, text, again, err)
		}
		if joined, err := ParseAllowlist([]string{strings.Join(text, ", ")}); err != nil || !slices.Equal(joined, got) {
			t.Fatalf("ParseAllowlist(%q) = %v; joined with commas it parses to %v, %v", in, got, joined, err)
		}
	})
}

// FuzzParseLifetime: ParseLifetime never panics; what it accepts is
// "never" (0) or 1s to ten years, and FormatLifetime's text parses back to
// the same duration.
func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"", "never", "NEVER", " 24h ", "168h", "7d", "2w", "3650d", "3651d", "1d1h",
		"0s", "999ms", "1s", "1.5s", "-1h", "87600h", "87600h1ns", "d", "w", "00d", "9999999999999999999d", "1h30m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseLifetime(s)
		if err != nil {
			return
		}
		if d != 0 && (d < time.Second || d > maxLifetime) {
			t.Fatalf("ParseLifetime(%q) = %v, out of range", s, d)
		}
		text := FormatLifetime(d)
		if again, err := ParseLifetime(text); err != nil || again != d {
			t.Fatalf("ParseLifetime(%q) = %v; FormatLifetime gives %q, which parses to %v, %v", s, d, text, again, err)
		}
	})
}

// FuzzCheckAuth: checkAuth never panics; what it accepts is one known
// method with exactly the material that method takes, every refusal is
// an Invalid naming a field, and what it returns it accepts again
// unchanged (the normal forms are stable, so saving a setting twice
// changes nothing and audits nothing).
func FuzzCheckAuth(f *testing.F) {
	for _, s := range [][4]string{
		{"", "", "", ""}, {"private_key_jwt", `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`, "", ""},
		{"private_key_jwt", "", "https://x.example/jwks", ""}, {"tls_client_auth", "", "", "CN=a, O=b"},
		{"tls_client_auth", "", "", `CN=a\,b+OU=c`}, {"self_signed_tls_client_auth", `{"keys":[]}`, "", ""},
		{"client_secret_jwt", "null", "", ""}, {"none", "", "", ""}, {"private_key_jwt", `{"keys":"x"}`, "http://x", "CN=x"},
	} {
		f.Add(s[0], s[1], s[2], s[3], "", "")
	}
	f.Add("private_key_jwt", "", "", "", "https://k8s.example", "system:serviceaccount:a:b")
	f.Add("tls_client_auth", "", "", "", "", "::ffff:10.0.0.1")
	f.Fuzz(func(t *testing.T, method, jwks, uri, dn, issuer, other string) {
		for _, in := range []store.ClientAuth{
			{Method: method, JWKS: []byte(jwks), JWKSURI: uri, SubjectDN: dn, TrustedIssuer: issuer, TrustedSubject: other, TrustedAudience: other},
			{Method: method, SANIP: other, SANDNS: dn, SANURI: uri},
			{Method: method, SANEmail: other},
		} {
			got, err := checkAuth(in)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeInvalid || e.Field == "" {
					t.Fatalf("checkAuth(%+v): %#v is not an Invalid naming a field", in, err)
				}
				continue
			}
			if got.Method != "" && !slices.Contains(store.AuthMethods, got.Method) {
				t.Fatalf("accepted method %q", got.Method)
			}
			if got.UsesSecret() && (len(got.JWKS) > 0 || got.JWKSURI != "" || got.SubjectDN != "" || got.TrustedIssuer != "") {
				t.Fatalf("a secret method kept material: %+v", got)
			}
			again, err := checkAuth(got)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("not stable: %+v became %+v, %v", got, again, err)
			}
		}
	})
}
